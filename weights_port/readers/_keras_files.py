"""Readers for every way Keras saves weights, with h5py alone.

Formats, told apart by content rather than by file name:

* Keras 3 ``.keras``: a zip holding ``config.json`` (read as JSON data, never executed)
  and ``model.weights.h5``;
* Keras 3 ``.weights.h5``: groups ``layers/<path>/vars/<i>``, where ``<path>`` is the
  snake-cased class name made unique in layer order ("dense", "dense_1", ...);
* legacy HDF5 ``model.save("x.h5")`` (Keras 2, tf.keras, Keras 3): ``model_weights`` with
  ``layer_names`` / ``weight_names`` attributes and a ``model_config`` attribute;
* legacy ``save_weights("x.h5")``: the same groups at the root, without a config;
* an in-memory ``keras.Model`` (duck-typed, so this module never imports Keras).
"""

from __future__ import annotations

import io
import json
import os
import shutil
import struct
import sys
import tempfile
import zipfile
import zlib
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import h5py
import numpy as np

from .._errors import KerasFileError
from ._hdf5_guard import check_global_heaps, check_self_contained, handle_length
from ._source import (
    KerasLayer,
    KerasSource,
    KerasWeight,
    as_sequence,
    natural_key,
    snake_case,
    split_first,
    strip_device_suffix,
)
from ._tfjs import is_tfjs_model_json, read_tfjs

__all__ = ["open_keras", "parse_json_object"]

_ZIP_MAGIC = b"PK\x03\x04"
_HDF5_MAGIC = b"\x89HDF\r\n\x1a\n"
_WEIGHTS_MEMBER = "model.weights.h5"


def is_live_model(source: Any) -> bool:
    """A live ``keras.Model`` rather than a path (duck-typed: checking imports no Keras)."""
    return hasattr(source, "layers") and hasattr(source, "weights") and not isinstance(source, str | os.PathLike)


def open_keras(source: str | os.PathLike[str] | Any, model_config: Mapping[str, Any] | None = None) -> KerasSource:
    """Open saved Keras weights (any format, or a live ``keras.Model``) for porting.

    ``model_config`` is the architecture (``model.to_json()``) for a weights-only file: it
    orders and names a Keras 3 ``.weights.h5``'s layers and is kept as ``model_config``.
    """
    if is_live_model(source):
        return _from_model(source)
    path = Path(source)
    if not path.exists():
        raise KerasFileError(f"{path}: no such file; pass the path of a saved Keras model or weights file")
    if path.is_dir():
        from ._savedmodel import is_savedmodel, read_savedmodel

        if is_savedmodel(path):
            return read_savedmodel(path)
        raise KerasFileError(f"{path}: is a directory, not a Keras file (.keras, .weights.h5, .h5, a SavedModel "
                             "folder or a TensorFlow.js model.json)")
    if not path.is_file():
        raise KerasFileError(f"{path}: is not a regular file (a pipe, device or socket); "
                             "pass a saved Keras file (.keras, .weights.h5 or .h5)")
    with path.open("rb") as handle:
        magic = handle.read(8)
    if not magic:
        raise KerasFileError(f"{path}: the file is empty; re-save the model with Keras")
    if magic.startswith(_ZIP_MAGIC):
        return _from_keras_zip(path)
    if magic == _HDF5_MAGIC:
        h5 = _open_h5(path, path)
        return _from_h5(h5, path, config=model_config, keras_version=None)
    if is_tfjs_model_json(path, magic):
        tfjs = read_tfjs(path)
        return _from_h5(tfjs.h5, path, tfjs.model_config, tfjs.keras_version,
                        kind_override=f"TensorFlow.js layers model, {tfjs.layout} names")
    raise KerasFileError(
        f"{path}: not a Keras file (starts with {magic[:8]!r}); expected a .keras zip "
        "or an HDF5 file (.h5 / .weights.h5) written by Keras"
    )


# --------------------------------------------------------------------------- HDF5


def _open_h5(target: Any, label: Path) -> h5py.File:
    """Open read-only and refuse, before any weight is read, a file that points outside itself."""
    try:
        h5 = h5py.File(target, "r")
    except Exception as exc:  # h5py raises OSError, ValueError, KeyError... on bad bytes
        raise KerasFileError(
            f"{label}: not a readable HDF5 file ({_short(exc)}); the file may be truncated or corrupt"
        ) from None
    try:
        extents = check_self_contained(h5, label)
        if isinstance(target, str | os.PathLike):
            with open(target, "rb") as raw:
                check_global_heaps(raw, handle_length(raw), extents, label)
        else:
            check_global_heaps(target, handle_length(target), extents, label)
    except KerasFileError:
        h5.close()
        raise
    except Exception as exc:  # a damaged link table or object header
        h5.close()
        raise KerasFileError(f"{label}: damaged HDF5 structure ({_short(exc)})") from None
    return h5


def _with_posix_paths(h5: h5py.File, label: Path) -> h5py.File:
    """A Keras 3.0 ``.keras`` saved on Windows names its groups with ``os.path.join``: ``layers\\dense\\vars``
    is one group name there. The same tree with the names split on both separators, in memory."""
    names: list[str] = []
    h5.visit(names.append)
    if not any("\\" in name for name in names):
        return h5
    fixed = h5py.File(f"posix-{id(h5)}.h5", "w", driver="core", backing_store=False)
    for key, value in h5.attrs.items():
        fixed.attrs[key] = value
    for name in names:
        item = h5[name]
        path = "/".join(part for part in name.replace("\\", "/").split("/") if part)
        if isinstance(item, h5py.Dataset):
            if path in fixed:
                raise KerasFileError(f"{label}: two weights at the path {path!r} once separators are unified")
            fixed.create_dataset(path, data=item[()])
        else:
            fixed.require_group(path)
        for key, value in item.attrs.items():
            fixed[path].attrs[key] = value
    h5.close()
    return fixed


def _from_h5(h5: h5py.File, label: Path, config: Mapping[str, Any] | None, keras_version: str | None,
             kind_override: str | None = None) -> KerasSource:
    model_config = config
    try:
        h5 = _with_posix_paths(h5, label)
        if "model_weights" in h5:
            model_config = _json_attr(h5, "model_config", label) or config
            layers = _legacy_layers(h5["model_weights"], label, model_config)
            kind = "legacy HDF5 model (model.save .h5)"
            ordered = True
        elif "layer_names" in h5.attrs:
            layers = _legacy_layers(h5, label, config)
            kind = "legacy HDF5 weights (save_weights .h5)"
            ordered = True
        elif "layers" in h5 or "vars" in h5:
            layers = _keras3_layers(h5, config)
            kind = "Keras 3 weights (.weights.h5)" if config is None else "Keras 3 model (.keras)"
            ordered = config is not None
        else:
            raise KerasFileError(
                f"{label}: an HDF5 file but not a Keras one (no 'model_weights' group, "
                f"'layer_names' attribute or 'layers' group; top level holds {sorted(h5)[:5]})"
            )
    except KerasFileError:
        h5.close()
        raise
    except Exception as exc:  # damaged structure inside an HDF5 that opened
        h5.close()
        raise KerasFileError(f"{label}: damaged Keras weights structure ({_short(exc)})") from None
    version = keras_version or _text(h5.attrs.get("keras_version"))
    try:
        training_config = (config or {}).get("compile_config") if "model_weights" not in h5 else _json_attr(
            h5, "training_config", label)
        optimizer_variables = _optimizer_variables(h5)
    except KerasFileError:
        h5.close()
        raise
    except Exception as exc:
        h5.close()
        raise KerasFileError(f"{label}: damaged optimizer state ({_short(exc)})") from None
    return KerasSource(f"{label} [{kind_override or kind}]", layers, ordered, version, [h5], model_config=model_config,
                       training_config=training_config if isinstance(training_config, Mapping) else None,
                       optimizer_variables=optimizer_variables)


def _optimizer_variables(h5: h5py.File) -> tuple[KerasWeight, ...]:
    """Keras 3 keeps them as ``optimizer/vars/0..n``; legacy files list them in ``weight_names``."""
    group = h5.get("optimizer_weights")
    if isinstance(group, h5py.Group) and "weight_names" in group.attrs:
        return tuple(KerasWeight(name, group[name]) for name in as_sequence(group.attrs["weight_names"]))
    group = h5.get("optimizer/vars")
    if isinstance(group, h5py.Group):
        keys = sorted((k for k in group if k.isdigit()), key=int)
        return tuple(KerasWeight(k, group[k]) for k in keys)
    return ()


def _text(value: Any) -> str | None:
    return value.decode() if isinstance(value, bytes) else (str(value) if value is not None else None)


def _json_attr(h5: h5py.File, name: str, label: Path) -> dict[str, Any] | None:
    raw = h5.attrs.get(name)
    if raw is None:
        return None
    return parse_json_object(raw if isinstance(raw, bytes) else str(raw), f"{label}: the '{name}' attribute")


def _legacy_layers(group: h5py.Group, label: Path, model_config: Mapping[str, Any] | None) -> list[KerasLayer]:
    """Layers of a Keras 2-style file; a nested model's weights are split per inner layer."""
    known = _configs_by_name(model_config) if model_config else {}
    layers: list[KerasLayer] = []
    for layer_name in as_sequence(group.attrs["layer_names"]):
        if layer_name not in group:
            raise KerasFileError(f"{label}: layer '{layer_name}' is listed in layer_names but has no group")
        layer_group = group[layer_name]
        weight_names = as_sequence(layer_group.attrs.get("weight_names", []))
        if not weight_names:
            continue
        weights = [(name, layer_group[name]) for name in weight_names]
        heads = {split_first(name)[0] for name in weight_names}
        class_name, config, is_model = known.get(layer_name, (None, None, heads != {layer_name}))
        if is_model:
            layers.extend(_split_nested(layer_name, weights, known))
        else:
            layers.append(_legacy_layer(layer_name, class_name, config, weights))
    return layers


def _split_nested(
    model_name: str, weights: list[tuple[str, Any]], known: Mapping[str, tuple[str | None, Any, bool]]
) -> list[KerasLayer]:
    """A nested model stores "<inner layer>/<variable>" names; group them by inner layer.

    Keras 3 prefixes them with the model's own name ("encoder/conv2d/kernel"); Keras 2 does not.
    """
    prefix = f"{model_name}/"
    if all(name.startswith(prefix) for name, _ in weights):
        weights = [(name[len(prefix):], data) for name, data in weights]
    groups: dict[str, list[tuple[str, Any]]] = {}
    for name, data in weights:
        groups.setdefault(split_first(name)[0], []).append((name, data))
    layers = []
    for inner, inner_weights in groups.items():
        class_name, config, _ = known.get(inner, (None, None, False))
        layers.append(_legacy_layer(f"{model_name}/{inner}", class_name, config, inner_weights))
    return layers


def _legacy_layer(name: str, class_name: str | None, config: Any, weights: list[tuple[str, Any]]) -> KerasLayer:
    return KerasLayer(
        name=name,
        class_name=class_name,
        config=config,
        weights=tuple(KerasWeight(strip_device_suffix(split_first(n)[1] or n), d) for n, d in weights),
    )


def _configs_by_name(model_config: Mapping[str, Any]) -> dict[str, tuple[str | None, Any, bool]]:
    """name → (class name, config, is a model) for every layer at any depth of a config."""
    found: dict[str, tuple[str | None, Any, bool]] = {}

    def visit(entry: Mapping[str, Any]) -> None:
        config = entry.get("config") or {}
        children = config.get("layers") if isinstance(config, Mapping) else None
        name = entry.get("name") or (config.get("name") if isinstance(config, Mapping) else None)
        wrapped = config.get("layer") if isinstance(config, Mapping) and _class_name(entry) == "TimeDistributed" \
            else None
        inner = wrapped.get("config") if isinstance(wrapped, Mapping) else None
        wraps_model = isinstance(inner, Mapping) and isinstance(inner.get("layers"), list)
        if name:
            found.setdefault(str(name), (_class_name(entry), config, isinstance(children, list) or wraps_model))
        for child in [*(children or []), *([wrapped] if wraps_model else [])]:
            if isinstance(child, Mapping):
                visit(child)

    visit(model_config)
    return found


def _keras3_layers(h5: h5py.File, config: Mapping[str, Any] | None) -> list[KerasLayer]:
    return list(_keras3_container(h5, "", config))


def _keras3_container(group: h5py.Group, prefix: str, config: Mapping[str, Any] | None) -> Iterable[KerasLayer]:
    """Walk ``layers/`` in model order (from the config) or in per-type creation order."""
    if "layers" not in group:
        return
    children = group["layers"]
    ordered = _keras3_paths_from_config(config) if config else None
    if ordered is None or not set(children) <= set(ordered):  # every saved group must be a configured layer
        ordered = {name: {} for name in sorted(children, key=natural_key)}  # no config: per-type order
    for path_name, child_config in ordered.items():
        if path_name not in children:
            continue  # a layer without variables (InputLayer, Activation) has no group
        child = children[path_name]
        real_name = _keras3_layer_name(child) or _entry_name(child_config) or path_name
        if "layers" in child:
            yield from _keras3_container(child, f"{prefix}{real_name}/", child_config)
            continue
        wrapped = child.get("layer")
        if isinstance(wrapped, h5py.Group) and "layers" in wrapped:  # TimeDistributed(model): its layers by name
            inner = child_config.get("config") if child_config else None
            yield from _keras3_container(wrapped, f"{prefix}{real_name}/",
                                         inner.get("layer") if isinstance(inner, Mapping) else None)
            continue
        weights = tuple(_keras3_weights(child))
        if not weights:
            continue
        class_name = _class_name(child_config) if child_config else _class_from_path(path_name)
        layer_config = child_config.get("config") if child_config else None
        yield KerasLayer(f"{prefix}{real_name}", class_name, layer_config, weights)


def _keras3_paths_from_config(config: Mapping[str, Any]) -> dict[str, Mapping[str, Any]] | None:
    """Recreate Keras 3's save paths: snake-cased class names made unique in layer order."""
    inner = config.get("config")
    entries = inner.get("layers") if isinstance(inner, Mapping) else None
    if not isinstance(entries, list):
        return None
    used: dict[str, int] = {}
    paths: dict[str, Mapping[str, Any]] = {}
    for entry in entries:
        base = snake_case(str(entry.get("class_name", "")))
        count = used.get(base)
        used[base] = 0 if count is None else count + 1
        paths[base if count is None else f"{base}_{count + 1}"] = entry
    return paths


def _entry_name(entry: Mapping[str, Any] | None) -> str | None:
    """A layer entry's name: beside class_name in a functional config, inside "config" in a Sequential one."""
    if not entry:
        return None
    inner = entry.get("config")
    name = entry.get("name") or (inner.get("name") if isinstance(inner, Mapping) else None)
    return name if isinstance(name, str) and name else None


def _class_name(entry: Mapping[str, Any]) -> str | None:
    """The layer class; legacy files write a registered custom class as "package>Class"."""
    name = entry.get("class_name")
    return str(name).rsplit(">", 1)[-1] if name is not None else None


def _keras3_layer_name(group: h5py.Group) -> str | None:
    vars_group = group.get("vars")
    name = vars_group.attrs.get("name") if isinstance(vars_group, h5py.Group) else None
    return name.decode() if isinstance(name, bytes) else name


_WRAPPER_ORDER = {"forward_layer": (0, 0), "backward_layer": (0, 1)}


def _keras3_weights(group: h5py.Group) -> Iterable[KerasWeight]:
    """Every variable below a layer group, forward before backward, vars/2 before vars/10."""
    found: list[tuple[str, h5py.Dataset]] = []
    group.visititems(lambda name, obj: found.append((name, obj)) if isinstance(obj, h5py.Dataset) else None)

    def order(item: tuple[str, h5py.Dataset]) -> list[tuple[Any, ...]]:
        return [(_WRAPPER_ORDER.get(p, (1, 0)), natural_key(p) if not p.isdigit() else ("", int(p)))
                for p in item[0].split("/")]

    for name, data in sorted(found, key=order):
        yield KerasWeight(name, data)


def _class_from_path(path_name: str) -> str | None:
    """Keras 3 paths are snake-cased class names: "conv2d_3" → "Conv2D"."""
    base = natural_key(path_name)[0]
    return _KNOWN_CLASSES.get(base)


_KNOWN_CLASSES = {
    snake_case(name): name
    for name in (
        "Dense", "Conv1D", "Conv2D", "Conv3D", "Conv1DTranspose", "Conv2DTranspose", "Conv3DTranspose",
        "DepthwiseConv1D", "DepthwiseConv2D", "SeparableConv1D", "SeparableConv2D",
        "BatchNormalization", "LayerNormalization", "Embedding", "LSTM", "GRU", "SimpleRNN",
        "Bidirectional", "TimeDistributed", "PReLU",
    )
}


# --------------------------------------------------------------------------- .keras zip


def _from_keras_zip(path: Path) -> KerasSource:
    try:
        archive = zipfile.ZipFile(path)
        names = archive.namelist()
    except (zipfile.BadZipFile, OSError, ValueError, EOFError) as exc:
        raise KerasFileError(f"{path}: not a readable .keras archive ({_short(exc)}); the file may be truncated") from None
    with archive:
        if _WEIGHTS_MEMBER not in names:
            raise KerasFileError(
                f"{path}: the .keras archive has no '{_WEIGHTS_MEMBER}' (it holds {names}); "
                "re-save the model with model.save('x.keras')"
            )
        config = _zip_json(archive, path, "config.json")
        metadata = _zip_json(archive, path, "metadata.json") or {}
        info = archive.getinfo(_WEIGHTS_MEMBER)
        handle: Any
        if info.compress_type == zipfile.ZIP_STORED and not info.flag_bits & _ENCRYPTED:
            handle = _MemberView(path, _member_data_offset(path, info), info.file_size)
        else:
            handle = _inflate_to_anonymous_file(archive, info, path)
    try:
        h5 = _open_h5(handle, path)
    except BaseException:
        handle.close()
        raise
    source = _from_h5(h5, path, config, str(metadata.get("keras_version") or "3"))
    source._closers.insert(0, handle)
    return source


_ENCRYPTED = 0x1
_JSON_MEMBER_LIMIT = 64 << 20  # a config.json larger than this is not a Keras config
_ZIP_ERRORS = (zipfile.BadZipFile, zlib.error, NotImplementedError, RuntimeError, OSError, EOFError, ValueError)


def _zip_json(archive: zipfile.ZipFile, path: Path, member: str) -> dict[str, Any] | None:
    """A JSON member of the archive, parsed as data (never deserialised into objects)."""
    if member not in archive.namelist():
        return None
    info = archive.getinfo(member)
    if info.file_size > _JSON_MEMBER_LIMIT:
        raise KerasFileError(f"{path}: {member} declares {info.file_size} bytes, more than a Keras config holds "
                             f"({_JSON_MEMBER_LIMIT >> 20} MiB at most)")
    try:
        with archive.open(info) as handle:
            raw = handle.read(_JSON_MEMBER_LIMIT + 1)
    except _ZIP_ERRORS as exc:
        raise KerasFileError(f"{path}: {member} inside the archive is unreadable ({_describe_zip_error(exc)})") from None
    return parse_json_object(raw, f"{path}: {member} inside the archive")


def parse_json_object(raw: bytes | str, what: str) -> dict[str, Any] | None:
    """JSON text as plain data; too deep a nesting or bad text is a ``KerasFileError``."""
    try:
        data = json.loads(raw)
    except RecursionError:
        raise KerasFileError(f"{what} is nested too deeply to be a Keras config") from None
    except (ValueError, UnicodeDecodeError) as exc:
        raise KerasFileError(f"{what} is not valid JSON ({_short(exc)})") from None
    return data if isinstance(data, dict) else None


def _describe_zip_error(exc: BaseException) -> str:
    if isinstance(exc, NotImplementedError):
        return f"{_short(exc)}; only stored and deflated members are read"
    if isinstance(exc, RuntimeError) and "encrypted" in str(exc).lower():
        return "the member is encrypted; save the model without a password"
    return _short(exc)


def _member_data_offset(path: Path, info: zipfile.ZipInfo) -> int:
    with path.open("rb") as handle:
        handle.seek(info.header_offset)
        header = handle.read(30)
    if len(header) < 30 or header[:4] != _ZIP_MAGIC:
        raise KerasFileError(f"{path}: damaged zip entry for '{info.filename}'")
    name_length, extra_length = struct.unpack("<HH", header[26:30])
    start = info.header_offset + 30 + name_length + extra_length
    if start + info.file_size > path.stat().st_size:
        raise KerasFileError(f"{path}: the zip entry '{info.filename}' runs past the end of the file; "
                             "the file is truncated")
    return start


class _MemberView(io.RawIOBase):
    """A read-only window onto an uncompressed zip member, so h5py reads it in place."""

    def __init__(self, path: Path, start: int, size: int) -> None:
        super().__init__()
        self._file = path.open("rb")
        self._start, self._size, self._pos = start, size, 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._pos

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self._pos, io.SEEK_END: self._size}[whence]
        self._pos = max(0, base + offset)
        return self._pos

    def readinto(self, buffer: Any) -> int:
        view = memoryview(buffer).cast("B")
        count = max(0, min(len(view), self._size - self._pos))
        self._file.seek(self._start + self._pos)
        read = self._file.readinto(view[:count]) or 0
        self._pos += read
        return read

    def close(self) -> None:
        self._file.close()
        super().close()


def _inflate_to_anonymous_file(archive: zipfile.ZipFile, info: zipfile.ZipInfo, path: Path) -> Any:
    """Inflate a compressed member into a temporary file that has no name on disk.

    ``tempfile.TemporaryFile`` is unlinked from the start (O_TMPFILE on Linux), so neither a
    failure, Ctrl-C, SIGTERM nor SIGKILL can leave it behind. At most the size the zip
    header declares is inflated, and only if the temporary directory has room for it.
    """
    directory = tempfile.gettempdir()
    free = shutil.disk_usage(directory).free
    if info.file_size > free:
        raise KerasFileError(f"{path}: '{info.filename}' inflates to {info.file_size} bytes but {directory} has "
                             f"only {free} free; free some space or set TMPDIR to a roomier directory")
    handle = tempfile.TemporaryFile(dir=directory)
    try:
        with archive.open(info) as member:
            left = info.file_size
            while chunk := member.read(min(1 << 24, left + 1)):
                left -= len(chunk)
                if left < 0:
                    raise KerasFileError(f"{path}: '{info.filename}' inflates to more than the "
                                         f"{info.file_size} bytes its zip header declares; the archive is corrupt")
                handle.write(chunk)
        if left:
            raise KerasFileError(f"{path}: '{info.filename}' inflates to {info.file_size - left} bytes, not the "
                                 f"{info.file_size} its zip header declares; the archive is truncated")
        handle.seek(0)
    except KerasFileError:
        handle.close()
        raise
    except _ZIP_ERRORS as exc:
        handle.close()
        raise KerasFileError(f"{path}: '{info.filename}' inside the archive is unreadable "
                             f"({_describe_zip_error(exc)})") from None
    except BaseException:
        handle.close()
        raise
    return handle


# --------------------------------------------------------------------------- live model


def _from_model(model: Any) -> KerasSource:
    layers: list[KerasLayer] = []

    def visit(container: Any, prefix: str) -> None:
        for layer in container.layers:
            if hasattr(layer, "layers") and _is_model(layer):
                visit(layer, f"{prefix}{layer.name}/")
            elif layer.weights:
                try:
                    config = layer.get_config()
                except Exception:  # a custom layer without get_config is still portable
                    config = None
                weights = tuple(KerasWeight(_variable_key(v, layer.name), VariableArray(v)) for v in layer.weights)
                layers.append(KerasLayer(f"{prefix}{layer.name}", type(layer).__name__, config, weights, layer))

    visit(model, "")
    package = sys.modules.get(type(model).__module__.split(".")[0])
    version = "2" if type(model).__module__.startswith("tf_keras") else getattr(package, "__version__", None)
    return KerasSource(f"in-memory Keras model '{getattr(model, 'name', '?')}'", layers, True, version)


class VariableArray:
    """A live Keras variable seen as a stored array; ``variable`` allows assigning back."""

    def __init__(self, variable: Any) -> None:
        self.variable = variable

    @property
    def shape(self) -> tuple[int, ...]:
        return tuple(int(n) for n in self.variable.shape)

    @property
    def dtype(self) -> np.dtype[Any]:
        return np.dtype(str(getattr(self.variable.dtype, "name", self.variable.dtype)))

    def __getitem__(self, key: Any) -> np.ndarray:
        return np.asarray(self.variable.numpy())[key]


def _is_model(layer: Any) -> bool:
    return any(cls.__name__ in {"Model", "Functional", "Sequential"} for cls in type(layer).__mro__)


def _variable_key(variable: Any, layer_name: str) -> str:
    path = strip_device_suffix(str(getattr(variable, "path", None) or variable.name))
    head, rest = split_first(path)
    return rest if head == layer_name and rest else path


def _short(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return text[:200]
