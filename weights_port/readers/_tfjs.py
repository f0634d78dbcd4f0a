"""TensorFlow.js layers models: ``model.json`` and the weight shards it lists beside it.

``modelTopology`` holds the Keras config; ``weightsManifest`` lists groups of shard files
whose concatenated bytes hold the weights in order, each possibly quantized: uint8/uint16
are affine (value = q·scale + min, computed in float64 and rounded to the original dtype,
as tensorflowjs's own reader does), float16 is widened. The converter read the weights
from an HDF5 file (tf.keras's legacy ``.h5`` or Keras 3's ``model.weights.h5``) and kept
its names, so they are laid back into that layout in an in-memory HDF5 file, where the
HDF5 readers' naming rules apply unchanged. Only shard files inside model.json's folder
are read.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeGuard

import h5py
import numpy as np

from .._errors import KerasFileError

__all__ = ["TfjsModel", "is_tfjs_model_json", "read_tfjs"]

MAX_MODEL_JSON = 64 * 2**20
MAX_WEIGHT_BYTES = 8 * 2**30
_STORED = {"float32": "<f4", "int32": "<i4", "bool": "?", "uint8": "u1", "uint16": "<u2", "float16": "<f2"}
_ORIGINAL = {"float32", "int32", "bool"}


@dataclass
class TfjsModel:
    """The weights as an in-memory HDF5 file in the converter's source layout, with the config and version."""

    h5: h5py.File
    model_config: dict[str, Any]
    keras_version: str
    layout: str  # "legacy" (tf.keras .h5 names) or "keras3" (model.weights.h5 paths)


def is_tfjs_model_json(path: Path, head: bytes) -> bool:
    return path.suffix.lower() == ".json" or head.lstrip()[:1] == b"{"


def read_tfjs(path: Path) -> TfjsModel:
    what = f"{path} [TensorFlow.js layers model]"
    document = _model_json(path)
    topology = document.get("modelTopology")
    manifest = document.get("weightsManifest")
    if not isinstance(topology, Mapping) or not isinstance(manifest, list):
        raise KerasFileError(f"{path}: a JSON file but not a TensorFlow.js layers model (no modelTopology and "
                             "weightsManifest); a model.to_json() file needs its weights: --weights FILE")
    config = topology.get("model_config", topology)
    if not isinstance(config, Mapping) or "class_name" not in config:
        raise KerasFileError(f"{what}: modelTopology holds no Keras model config (no class_name)")
    entries = _entries(manifest, path.parent, what)
    names = [name for name, _ in entries]
    if len(set(names)) != len(names):
        duplicate = next(n for n in names if names.count(n) > 1)
        raise KerasFileError(f"{what}: weight {duplicate!r} is listed twice; TensorFlow.js would load one of them "
                             "for both, so the file is ambiguous")
    keras3 = any(name.startswith(("layers/", "vars/")) for name in names)
    recorded = topology.get("keras_version")  # TensorFlow.js itself writes "tfjs-layers x.y"
    version = recorded if isinstance(recorded, str) and recorded[:1] == ("3" if keras3 else "2") else (
        "3" if keras3 else "2")
    h5 = h5py.File(f"tfjs-{id(document)}.h5", "w", driver="core", backing_store=False)
    try:
        if keras3:
            for name, array in entries:
                h5.create_dataset(name, data=array)
        else:
            _legacy_layout(h5, entries, config, what)
            h5.attrs["model_config"] = json.dumps(config)
            if isinstance(topology.get("training_config"), Mapping):
                h5.attrs["training_config"] = json.dumps(topology["training_config"])
    except KerasFileError:
        h5.close()
        raise
    except (ValueError, TypeError, KeyError) as exc:  # h5py refuses a name ("a/../b", "" parts, clashes)
        h5.close()
        raise KerasFileError(f"{what}: weight names that do not form a Keras weight layout ({exc})") from None
    return TfjsModel(h5, dict(config), version, "keras3" if keras3 else "legacy")


def _model_json(path: Path) -> dict[str, Any]:
    size = path.stat().st_size
    if size > MAX_MODEL_JSON:
        raise KerasFileError(f"{path}: {size} bytes of JSON, more than a model.json holds ({MAX_MODEL_JSON})")
    try:
        document = json.loads(path.read_bytes())
    except (json.JSONDecodeError, UnicodeDecodeError, RecursionError) as exc:
        raise KerasFileError(f"{path}: not valid JSON ({type(exc).__name__}: {str(exc)[:120]})") from None
    if not isinstance(document, dict):
        raise KerasFileError(f"{path}: JSON holding {type(document).__name__}, not a TensorFlow.js model object")
    return document


def _entries(manifest: list[Any], folder: Path, what: str) -> list[tuple[str, np.ndarray]]:
    """Every weight of every group, dequantized, in manifest order."""
    found: list[tuple[str, np.ndarray]] = []
    for number, group in enumerate(manifest):
        if not isinstance(group, Mapping) or not isinstance(group.get("paths"), list) \
                or not isinstance(group.get("weights"), list):
            raise KerasFileError(f"{what}: weightsManifest group {number} has no 'paths' and 'weights' lists")
        data = b"".join(_shard(folder, shard, what) for shard in group["paths"])
        offset = 0
        for spec in group["weights"]:
            name, array, offset = _weight(spec, data, offset, what)
            found.append((name, array))
        if offset != len(data):
            raise KerasFileError(f"{what}: group {number}'s shards hold {len(data)} bytes but its weights take "
                                 f"{offset}; a shard is missing, extra or from another export")
    return found


def _shard(folder: Path, relative: Any, what: str) -> bytes:
    """A shard named by the manifest, read only if it lies in model.json's folder."""
    if not isinstance(relative, str) or not relative or "\\" in relative or relative.startswith("/") \
            or "://" in relative:
        raise KerasFileError(f"{what}: shard path {relative!r} is not a file name beside model.json")
    candidate = folder / relative.removeprefix("./")
    try:
        resolved = candidate.resolve(strict=True)
    except (OSError, RuntimeError):
        raise KerasFileError(f"{what}: shard {relative!r} is missing; copy every file the converter wrote "
                             "beside model.json") from None
    if not resolved.is_relative_to(folder.resolve()) or not resolved.is_file():
        raise KerasFileError(f"{what}: shard {relative!r} leads to {resolved}, outside model.json's folder; "
                             "refusing to read it")
    size = resolved.stat().st_size
    if size > MAX_WEIGHT_BYTES:
        raise KerasFileError(f"{what}: shard {relative!r} is {size} bytes, more than {MAX_WEIGHT_BYTES}")
    return resolved.read_bytes()


def _weight(spec: Any, data: bytes, offset: int, what: str) -> tuple[str, np.ndarray, int]:
    if not isinstance(spec, Mapping) or not isinstance(spec.get("name"), str) or not spec["name"]:
        raise KerasFileError(f"{what}: a weight entry without a name: {str(spec)[:120]}")
    name, shape, original = spec["name"], spec.get("shape"), spec.get("dtype")
    if not isinstance(shape, list) or not all(isinstance(d, int) and not isinstance(d, bool) and 0 <= d < 2**31
                                              for d in shape):
        raise KerasFileError(f"{what}: weight {name!r} has shape {shape!r}, not a list of sizes")
    if original not in _ORIGINAL:
        raise KerasFileError(f"{what}: weight {name!r} has dtype {original!r}; Keras layer weights are one of "
                             f"{sorted(_ORIGINAL)}")
    quantization = spec.get("quantization")
    stored = original
    if quantization is not None:
        if not isinstance(quantization, Mapping) or quantization.get("dtype") not in ("uint8", "uint16", "float16"):
            raise KerasFileError(f"{what}: weight {name!r} has quantization {str(quantization)[:120]}, not uint8, "
                                 "uint16 or float16")
        stored = quantization["dtype"]
    dtype = np.dtype(_STORED[stored])
    count = int(np.prod(shape, dtype=np.int64))
    end = offset + count * dtype.itemsize
    if end > len(data):
        raise KerasFileError(f"{what}: weight {name!r} runs past the end of its shards ({end} > {len(data)} "
                             "bytes); a shard is truncated or missing")
    array = np.frombuffer(data, dtype, count, offset).reshape(shape)
    return name, _dequantized(array, quantization, original, name, what), end


def _dequantized(array: np.ndarray, quantization: Mapping[str, Any] | None, original: str, name: str,
                 what: str) -> np.ndarray:
    if quantization is None:
        return array.astype(_STORED[original])
    if quantization["dtype"] == "float16":
        if original != "float32":
            raise KerasFileError(f"{what}: weight {name!r} is float16-quantized but was {original}")
        return array.astype(np.float32)
    scale, minimum = quantization.get("scale"), quantization.get("min")
    if not _finite(scale) or not _finite(minimum):
        raise KerasFileError(f"{what}: weight {name!r} is {quantization['dtype']}-quantized without a finite "
                             f"scale and min (got scale={scale!r}, min={minimum!r})")
    values = array.astype(np.float64) * float(scale) + float(minimum)
    if original == "int32":
        return np.round(values).astype(np.int32)
    if original == "bool":
        return values != 0
    return values.astype(np.float32)


def _finite(value: Any) -> TypeGuard[float]:
    return isinstance(value, int | float) and not isinstance(value, bool) and bool(np.isfinite(value))


def _legacy_layout(h5: h5py.File, entries: list[tuple[str, np.ndarray]], config: Mapping[str, Any],
                   what: str) -> None:
    """tf.keras's ``model_weights/<layer>/<variable>`` layout: each weight goes to the top-level layer
    its variable name begins with, or to the nested model holding a layer of that name."""
    plain, nested, order = _top_level(config)
    owned: dict[str, list[tuple[str, np.ndarray]]] = {}
    for name, array in entries:
        head = name.split("/", 1)[0]
        owners = ([head] if head in plain else []) + [model for model, inner in nested.items()
                                                      if head == model or head in inner]
        if len(owners) != 1:
            problem = "no layer of the model config" if not owners else f"layers {owners} alike"
            raise KerasFileError(f"{what}: weight {name!r} names {problem}; the topology and the weights do not "
                                 "belong together")
        owned.setdefault(owners[0], []).append((name, array))
    weights = h5.create_group("model_weights")
    names = [layer for layer in order if layer in owned]
    weights.attrs["layer_names"] = names
    for layer in names:
        group = weights.create_group(layer)
        group.attrs["weight_names"] = [name for name, _ in owned[layer]]
        for name, array in owned[layer]:
            group.create_dataset(name, data=array)


def _top_level(config: Mapping[str, Any]) -> tuple[set[str], dict[str, set[str]], list[str]]:
    """(plain layer names, nested model name → every layer name inside it, all names in order)."""
    plain: set[str] = set()
    nested: dict[str, set[str]] = {}
    order: list[str] = []
    for entry in _layer_entries(config):
        name = _name(entry)
        if name is None:
            continue
        order.append(name)
        wrapped = _wrapped_model(entry)
        if _layer_entries(entry) or wrapped is not None:
            nested[name] = set(_all_names(entry if wrapped is None else wrapped))
        else:
            plain.add(name)
    return plain, nested, order


def _wrapped_model(entry: Mapping[str, Any]) -> Mapping[str, Any] | None:
    """The model a ``TimeDistributed`` wraps (its weights are stored under the wrapper, by the inner names)."""
    inner = entry.get("config")
    wrapped = inner.get("layer") if isinstance(inner, Mapping) and entry.get("class_name") == "TimeDistributed" \
        else None
    return wrapped if isinstance(wrapped, Mapping) and _layer_entries(wrapped) else None


def _layer_entries(entry: Mapping[str, Any]) -> Sequence[Mapping[str, Any]]:
    inner = entry.get("config")
    layers = inner.get("layers") if isinstance(inner, Mapping) else None
    return [layer for layer in layers if isinstance(layer, Mapping)] if isinstance(layers, list) else []


def _name(entry: Mapping[str, Any]) -> str | None:
    inner = entry.get("config")
    name = entry.get("name") or (inner.get("name") if isinstance(inner, Mapping) else None)
    return name if isinstance(name, str) and name else None


def _all_names(entry: Mapping[str, Any]) -> list[str]:
    names: list[str] = []
    for layer in _layer_entries(entry):
        name = _name(layer)
        if name is not None:
            names.append(name)
        names += _all_names(layer)
    return names
