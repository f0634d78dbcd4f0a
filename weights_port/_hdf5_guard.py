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

from pathlib import Path

import h5py

from ._errors import KerasFileError

__all__ = ["check_self_contained"]

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


def check_self_contained(h5: h5py.File, label: Path | str) -> None:
    """Raise ``KerasFileError`` naming the first entry of ``h5`` that points outside it."""

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
        return _dataset_problem(obj, name) if isinstance(obj, h5py.Dataset) else None

    problem = h5.visit_links(visit)
    if problem:
        raise KerasFileError(f"{label}: {problem}; refused: {_WHY}")


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
