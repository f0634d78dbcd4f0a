"""TensorFlow SavedModel folders written by tf.keras (``model.save(dir)``), read without TensorFlow.

``keras_metadata.pb`` holds the Keras config of the model and of every layer; the
weights are a tensor bundle (``variables/variables.index`` + data shards). The bundle's
object graph tells which variables belong to which layer, in the layer's own order
(``layer.variables``), however TensorFlow keyed them. Only the files of the folder are
read (a symlink out of it is refused); sizes are bounded; nothing is executed
(``saved_model.pb``'s graph is never loaded).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .._errors import KerasFileError
from ._protowire import Fields, decode, integer, messages, read_table, text, varint
from ._source import KerasLayer, KerasSource, KerasWeight

__all__ = ["is_savedmodel", "read_savedmodel"]

MAX_METADATA = 512 * 2**20
MAX_INDEX = 256 * 2**20
_DTYPES = {1: "<f4", 2: "<f8", 3: "<i4", 4: "u1", 5: "<i2", 6: "i1", 9: "<i8", 10: "?", 17: "<u2", 19: "<f2",
           22: "<u4", 23: "<u8"}
_BFLOAT16 = 14
_SKIPPED = {"variables", "trainable_variables", "non_trainable_variables", "keras_api", "regularization_losses",
            "__call__", "call_and_return_all_conditional_losses", "call_and_return_conditional_losses",
            "_default_save_signature", "signatures", "layer_metrics"}
_MODELS = ("_tf_keras_network", "_tf_keras_model", "_tf_keras_sequential")


def is_savedmodel(path: Path) -> bool:
    return path.is_dir() and ((path / "keras_metadata.pb").exists() or (path / "saved_model.pb").exists())


def _inside(folder: Path, relative: str) -> Path:
    """A file of the folder, never one a symlink leads outside to."""
    candidate = folder / relative
    try:
        resolved = candidate.resolve(strict=True)
    except (OSError, RuntimeError):
        raise KerasFileError(f"{folder}: the SavedModel has no {relative}; re-save it with model.save(dir)") from None
    if not resolved.is_relative_to(folder.resolve()) or not resolved.is_file():
        raise KerasFileError(f"{folder}: {relative} is not a file inside the folder (it leads to {resolved}); "
                             "refusing to read outside the SavedModel")
    return resolved


def _read(folder: Path, relative: str, limit: int) -> bytes:
    path = _inside(folder, relative)
    size = path.stat().st_size
    if size > limit:
        raise KerasFileError(f"{folder}: {relative} is {size} bytes, more than the {limit} a Keras SavedModel holds")
    return path.read_bytes()


@dataclass(frozen=True)
class _Entry:
    """A tensor of the bundle: where its bytes lie and how to read them."""

    dtype: int
    shape: tuple[int, ...]
    shard: int
    offset: int
    size: int


class _BundleArray:
    """A bundle tensor, read from its shard only when a rule asks for it (``KerasWeight.data``)."""

    def __init__(self, path: Path, entry: _Entry, key: str) -> None:
        self._path, self._entry, self._key = path, entry, key

    @property
    def shape(self) -> tuple[int, ...]:
        return self._entry.shape

    @property
    def dtype(self) -> np.dtype[Any]:
        return np.dtype("<f4") if self._entry.dtype == _BFLOAT16 else np.dtype(_DTYPES[self._entry.dtype])

    def __getitem__(self, key: Any) -> np.ndarray:
        entry = self._entry
        with self._path.open("rb") as handle:
            handle.seek(entry.offset)
            raw = handle.read(entry.size)
        if len(raw) != entry.size:
            raise KerasFileError(f"{self._path.name}: tensor {self._key!r} is cut short (the shard is truncated)")
        if entry.dtype == _BFLOAT16:
            bits = np.frombuffer(raw, "<u2").astype(np.uint32) << 16
            return bits.view(np.float32).reshape(entry.shape)[key]
        return np.frombuffer(raw, _DTYPES[entry.dtype]).reshape(entry.shape)[key].copy()


def _entry(raw: bytes, key: str, what: str) -> _Entry:
    fields = decode(raw, what)
    dtype = integer(fields, 1, what)
    shape_fields = messages(fields, 2, what)
    dims = tuple(integer(dim, 1, what) for dim in messages(shape_fields[0], 2, what)) if shape_fields else ()
    if dtype not in _DTYPES and dtype != _BFLOAT16:
        raise KerasFileError(f"{what}: tensor {key!r} has TensorFlow dtype {dtype}, which is not a weight's")
    if any(d < 0 or d > 2**31 for d in dims) or fields.get(7):
        raise KerasFileError(f"{what}: tensor {key!r} has shape {dims} (or is partitioned), which no Keras layer saves")
    entry = _Entry(dtype, dims, integer(fields, 3, what), integer(fields, 4, what), integer(fields, 5, what))
    width = 2 if dtype == _BFLOAT16 else np.dtype(_DTYPES[dtype]).itemsize
    if entry.size != width * int(np.prod(dims, dtype=np.float64)) or entry.offset < 0:
        raise KerasFileError(f"{what}: tensor {key!r} claims {entry.size} bytes for shape {dims}")
    return entry


def _object_graph(folder: Path, table: Mapping[str, bytes], header: Fields, what: str) -> list[Fields]:
    raw = table.get("_CHECKPOINTABLE_OBJECT_GRAPH")
    if raw is None:
        raise KerasFileError(f"{what}: the checkpoint has no object graph")
    fields = decode(raw, what)
    if integer(fields, 1, what) != 7:
        raise KerasFileError(f"{what}: the checkpoint's object graph is not a string tensor")
    shard = _shard(folder, integer(fields, 3, what), header, what)
    offset, size = integer(fields, 4, what), integer(fields, 5, what)
    if size > MAX_METADATA or offset + size > shard.stat().st_size:
        raise KerasFileError(f"{what}: the object graph lies outside its shard")
    with shard.open("rb") as handle:
        handle.seek(offset)
        data = handle.read(size)
    length, position = varint(data, 0, what)
    blob = data[position + 4:position + 4 + length]  # a string tensor: its length, a checksum, the bytes
    if len(blob) != length:
        raise KerasFileError(f"{what}: the object graph is cut short")
    return messages(decode(blob, what), 1, what)


def _shard(folder: Path, shard: int, header: Fields, what: str) -> Path:
    count = integer(header, 1, what, 1)
    if not 0 <= shard < count or count > 10_000:
        raise KerasFileError(f"{what}: a tensor names shard {shard} of {count}")
    return _inside(folder, f"variables/variables.data-{shard:05d}-of-{count:05d}")


def _untuple(value: Any) -> Any:
    """tf.keras writes tuples in its metadata as {"class_name": "__tuple__", "items": [...]}."""
    if isinstance(value, dict):
        if value.get("class_name") == "__tuple__" and isinstance(value.get("items"), list):
            return [_untuple(v) for v in value["items"]]
        return {k: _untuple(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_untuple(v) for v in value]
    return value


def read_savedmodel(folder: Path) -> KerasSource:
    what = f"{folder} [TensorFlow SavedModel]"
    if not (folder / "keras_metadata.pb").exists():
        raise KerasFileError(f"{folder}: a SavedModel without Keras metadata (written by model.export or "
                             "tf.saved_model.save) records no Keras layers; save the model with tf_keras's "
                             "model.save(dir) or as .keras")
    metadata = decode(_read(folder, "keras_metadata.pb", MAX_METADATA), what)
    nodes: dict[str, dict[str, Any]] = {}
    for node in messages(metadata, 1, what):
        try:
            nodes[text(node, 3, what)] = dict(json.loads(text(node, 5, what) or "{}"), _identifier=text(node, 4, what))
        except (json.JSONDecodeError, TypeError, ValueError):
            raise KerasFileError(f"{what}: the metadata of {text(node, 3, what)!r} is not a JSON object") from None
    root = nodes.get("root")
    if root is None or not isinstance(root.get("config"), Mapping) or "class_name" not in root:
        raise KerasFileError(f"{what}: its Keras metadata records no model config at 'root'")
    config = {"class_name": root["class_name"], "config": _untuple(root["config"])}
    version = root.get("keras_version") if isinstance(root.get("keras_version"), str) else "2"
    table = read_table(_read(folder, "variables/variables.index", MAX_INDEX), what)
    header = decode(table.get("", b""), what)
    if integer(header, 2, what) != 0:
        raise KerasFileError(f"{what}: a big-endian tensor bundle")
    graph = _object_graph(folder, table, header, what)
    layers = _layers(folder, table, header, graph, nodes, 0, "root", "", what)
    return KerasSource(what, layers, True, keras_version=version, model_config=config)


def _children(graph: list[Fields], node: int, what: str) -> list[tuple[int, str]]:
    if not 0 <= node < len(graph):
        raise KerasFileError(f"{what}: the object graph refers to object {node} of {len(graph)}")
    return [(integer(child, 1, what), text(child, 2, what)) for child in messages(graph[node], 1, what)]


def _layers(folder: Path, table: Mapping[str, bytes], header: Fields, graph: list[Fields],
            nodes: Mapping[str, Mapping[str, Any]], node: int, path: str, prefix: str, what: str,
            depth: int = 0) -> list[KerasLayer]:
    """The weighted layers under a model object, in ``model.layers`` order (nested models flattened as
    "model/layer", as the HDF5 readers name them)."""
    if depth > 32:
        raise KerasFileError(f"{what}: models nested more than 32 deep")
    found: list[KerasLayer] = []
    seen: set[int] = set()
    entries = sorted(((child, name) for child, name in _children(graph, node, what)
                      if name.startswith("layer-")), key=lambda item: int(item[1].split("-")[1]))
    for child, local in entries:
        if child in seen:
            continue
        seen.add(child)
        child_path = next((p for p in (f"{path}.{local}", *(f"{path}.{n}" for c, n in _children(graph, node, what)
                                                             if c == child)) if p in nodes), None)
        info = nodes.get(child_path or "", {})
        name = info.get("name")
        if not isinstance(name, str):
            raise KerasFileError(f"{what}: layer object {local!r} has no name in the Keras metadata")
        if info.get("_identifier") in _MODELS:
            found += _layers(folder, table, header, graph, nodes, child, child_path or "", f"{prefix}{name}/", what,
                             depth + 1)
            continue
        wrapped = next((c for c, n in _children(graph, child, what) if n == "layer"), None)
        wrapped_path = f"{child_path}.layer"
        if info.get("class_name") == "TimeDistributed" and wrapped is not None and \
                nodes.get(wrapped_path, {}).get("_identifier") in _MODELS:
            # TimeDistributed(model): the model's layers, named under the wrapper as the HDF5 readers name them
            found += _layers(folder, table, header, graph, nodes, wrapped, wrapped_path, f"{prefix}{name}/", what,
                             depth + 1)
            continue
        weights = _variables(folder, table, header, graph, child, what)
        if weights:
            found.append(KerasLayer(f"{prefix}{name}", info.get("class_name"), _untuple(info.get("config")),
                                    tuple(weights)))
    return found


def _variables(folder: Path, table: Mapping[str, bytes], header: Fields, graph: list[Fields], node: int,
               what: str) -> list[KerasWeight]:
    """The layer's variables in ``layer.variables`` order, each named by its attribute path ("cell/kernel")."""
    listed = next((child for child, name in _children(graph, node, what) if name == "variables"), None)
    if listed is None:
        return []
    names = _attribute_names(graph, node, what)
    weights = []
    listed_children = [(c, p) for c, p in _children(graph, listed, what) if p.isdigit() and len(p) < 9]
    for child, position in sorted(listed_children, key=lambda item: int(item[1])):
        attributes = [(text(a, 1, what), text(a, 3, what)) for a in messages(graph[child], 2, what)]
        key = next((k for n, k in attributes if n == "VARIABLE_VALUE"), None)
        if key is None or key not in table:
            raise KerasFileError(f"{what}: variable {position} of a layer has no value in the checkpoint")
        entry = _entry(table[key], key, what)
        shard = _shard(folder, entry.shard, header, what)
        if entry.offset + entry.size > shard.stat().st_size:
            raise KerasFileError(f"{what}: tensor {key!r} lies outside its shard (the folder is damaged)")
        weights.append(KerasWeight(names.get(child, f"vars/{position}"), _BundleArray(shard, entry, key)))
    return weights


def _attribute_names(graph: list[Fields], node: int, what: str) -> dict[int, str]:
    """Each variable object under a layer by its first descriptive path ("forward_layer/cell/kernel")."""
    names: dict[int, str] = {}
    stack: list[tuple[int, str, int]] = [(node, "", 0)]
    visited: set[int] = set()
    while stack:
        current, path, depth = stack.pop(0)
        if current in visited or depth > 8:
            continue
        visited.add(current)
        for child, local in _children(graph, current, what):
            if local in _SKIPPED or (local.startswith("layer-") and depth):
                continue
            child_path = f"{path}/{local}" if path else local
            if any(text(a, 1, what) == "VARIABLE_VALUE" for a in messages(graph[child], 2, what)):
                names.setdefault(child, child_path)
            else:
                stack.append((child, child_path, depth + 1))
    return names
