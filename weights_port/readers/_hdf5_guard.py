"""An HDF5 weights file is data: refuse every HDF5 feature that reaches outside the file.

HDF5 can keep a dataset's bytes in another file (external storage), make a dataset a view
of datasets in other files (virtual datasets), let a group entry point into another file
(external links), and load a filter plugin (a shared library) named by a dataset. Any of
them would let a crafted file make the porter read — or run — something the user did not
name. ``check_self_contained`` walks every link of the file once, right after it opens and
before any weight is read; it follows no link (H5Lvisit treats external and soft links as
leaves) and opens only datasets reached by hard links, which live in this file.
"""

from __future__ import annotations

import struct
from pathlib import Path
from typing import Any, Protocol

import h5py

from .._errors import KerasFileError

__all__ = ["check_global_heaps", "check_self_contained"]

# Filters built into HDF5 itself, plus LZF (compiled into h5py). Any other id would make
# HDF5 search its plugin path and load a shared library.
_BUILT_IN_FILTERS = {
    h5py.h5z.FILTER_DEFLATE: "deflate",
    h5py.h5z.FILTER_SHUFFLE: "shuffle",
    h5py.h5z.FILTER_FLETCHER32: "fletcher32",
    h5py.h5z.FILTER_SZIP: "szip",
    h5py.h5z.FILTER_NBIT: "nbit",
    h5py.h5z.FILTER_SCALEOFFSET: "scaleoffset",
    h5py.h5z.FILTER_LZF: "lzf",
}
_WHY = "a weights file must hold its own data; re-save the model with Keras"


def check_self_contained(h5: h5py.File, label: Path | str) -> list[tuple[int, int]]:
    """Raise ``KerasFileError`` naming the first entry of ``h5`` that points outside it.

    Returns the (offset, size) of every contiguous dataset's bytes, the file's bulk, which
    ``check_global_heaps`` need not scan.
    """
    extents: list[tuple[int, int]] = []

    def visit(name: str) -> str | None:  # a returned message stops the walk
        link = h5.get(name, getlink=True)
        if isinstance(link, h5py.ExternalLink):
            return (f"'{name}' is an HDF5 external link into another file ({link.filename!r}, "
                    f"path {link.path!r})")
        if isinstance(link, h5py.SoftLink):
            return None  # resolves inside this file, whose every link this walk checks
        if not isinstance(link, h5py.HardLink):
            return f"'{name}' is a user-defined HDF5 link ({type(link).__name__})"
        obj = h5.get(name)
        if not isinstance(obj, h5py.Dataset):
            return None
        offset = obj.id.get_offset()
        if offset is not None:
            extents.append((int(offset), int(obj.id.get_storage_size())))
        return _dataset_problem(obj, name)

    problem = h5.visit_links(visit)
    if problem:
        raise KerasFileError(f"{label}: {problem}; refused: {_WHY}")
    return extents


def _dataset_problem(dataset: h5py.Dataset, name: str) -> str | None:
    plist = dataset.id.get_create_plist()
    if plist.get_layout() == h5py.h5d.VIRTUAL:
        sources = sorted({plist.get_virtual_filename(i) for i in range(plist.get_virtual_count())})
        return f"weight '{name}' is an HDF5 virtual dataset whose data lives in {sources}"
    if plist.get_external_count():
        files = sorted({plist.get_external(i)[0].decode(errors="replace") for i in range(plist.get_external_count())})
        return f"weight '{name}' keeps its bytes in external file(s) {files} (HDF5 external storage)"
    for index in range(plist.get_nfilters()):
        code, _flags, _values, filter_name = plist.get_filter(index)
        if code not in _BUILT_IN_FILTERS:
            return (f"weight '{name}' needs HDF5 filter {code} ({filter_name.decode(errors='replace') or 'unnamed'}), "
                    f"which would load a plugin library; only built-in filters "
                    f"{sorted(_BUILT_IN_FILTERS.values())} are read")
    return None


class _Readable(Protocol):
    def seek(self, offset: int, whence: int = 0) -> int: ...

    def read(self, size: int = -1) -> bytes: ...


_GCOL = b"GCOL\x01\x00\x00\x00"
_HEADER = 16  # signature, version, 3 reserved bytes, 8-byte collection size
_CHUNK = 1 << 22


def check_global_heaps(handle: _Readable, length: int, skip: list[tuple[int, int]], label: Path | str) -> None:
    """Refuse a global heap collection whose objects do not tile it exactly.

    Variable-length strings (``model_config``, layer and weight names) live in global heap
    collections. HDF5 1.14 walks a collection by each object's recorded size; a corrupt size
    (one byte is enough) can make that step zero, and the read then never returns, holding
    the GIL so that Ctrl-C cannot stop it. The same walk is done here first, with bounds,
    over every collection outside the datasets' own bytes (``skip``).
    """
    position = 0
    for start, stop in _gaps(length, skip):
        position = max(position, start)
        while position < stop:
            handle.seek(position)
            block = handle.read(min(_CHUNK, stop - position) + len(_GCOL))
            found = block.find(_GCOL)
            if found < 0 or position + found >= stop:
                position += max(len(block) - len(_GCOL), 1)
                continue
            problem = _collection_problem(handle, position + found, length)
            if problem:
                raise KerasFileError(f"{label}: damaged HDF5 global heap at byte {position + found} ({problem}); "
                                     "reading its strings could hang, so the file is refused as corrupt")
            position += found + len(_GCOL)


def _gaps(length: int, skip: list[tuple[int, int]]) -> list[tuple[int, int]]:
    gaps, cursor = [], 0
    for offset, size in sorted(skip):
        if offset > cursor:
            gaps.append((cursor, offset))
        cursor = max(cursor, offset + size)
    if cursor < length:
        gaps.append((cursor, length))
    return gaps


def _collection_problem(handle: _Readable, start: int, length: int) -> str | None:
    handle.seek(start)
    header = handle.read(_HEADER)
    size = struct.unpack("<Q", header[8:16])[0] if len(header) == _HEADER else 0
    if size < _HEADER or start + size > length:
        return f"collection size {size} does not fit the file"
    handle.seek(start)
    data = handle.read(size)
    position = _HEADER
    while position < size:
        if position + _HEADER > size:
            break  # a tail too short for an object header is free space
        index, _refs, _reserved, object_size = struct.unpack("<HHIQ", data[position:position + _HEADER])
        step = object_size if index == 0 else _HEADER + (object_size + 7) // 8 * 8
        if step <= 0 or position + step > size:
            return f"object {index} at offset {position} claims {object_size} bytes of a {size}-byte collection"
        position += step
    return None


def handle_length(handle: Any) -> int:
    handle.seek(0, 2)
    return int(handle.tell())
