"""Proof that a converted module computes what the Keras model computes (``zoo convert --check``).

The Keras model is loaded from the same file; the float64 run rebuilds it from its own
config with every floating dtype set to float64 (weights widened exactly), so both
frameworks compute in float64. Inputs are random (token ids inside each Embedding's
vocabulary), batch > 1; outputs are compared with the suite's one tolerance rule. When
they part, each Keras layer's output is compared with the generated ``forward``'s local
of the same layer (captured from its frame, permuted by the manifest) and the first one
that differs is named.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from weights_port.tolerance import FLOAT64_KERNEL_ALLOWANCES, Agreement, KernelAllowance, compare_arrays

__all__ = ["ConversionCheck", "OutputAgreement", "check_conversion", "instantiate", "load_keras_model"]


@dataclass(frozen=True)
class OutputAgreement:
    dtype: str
    output: str
    agreement: Agreement


@dataclass
class ConversionCheck:
    results: list[OutputAgreement] = field(default_factory=list)
    reports: list[str] = field(default_factory=list)
    allowances: tuple[KernelAllowance, ...] = ()
    """TensorFlow kernels in the model that are not float64-accurate (see ``FLOAT64_KERNEL_ALLOWANCES``)."""
    notes: list[str] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return all(r.agreement.passed for r in self.results)


def check_conversion(model: str | Path, weights: str | Path | None = None, *, dtypes: Sequence[str] = ("float32", "float64"),
                     batch: int = 2, seed: int = 0, class_name: str | None = None, rules: Any = None,
                     port_rules: Any = None, keras_model: Any = None,
                     input_shape: Sequence[Sequence[int]] | None = None, flat: bool = False) -> ConversionCheck:
    """Convert ``model`` in each dtype and compare with Keras on the same random batch.

    ``keras_model`` is the reference when given (the live model that wrote the file: Keras
    cannot reload every file it writes); otherwise the file is loaded with Keras.
    """
    import weights_port

    keras_model = keras_model if keras_model is not None else load_keras_model(model, weights)
    check = ConversionCheck(allowances=kernel_allowances(json.loads(keras_model.to_json())))
    rng = np.random.default_rng(seed)
    inputs32 = _random_inputs(keras_model, batch, rng, input_shapes(keras_model, input_shape))
    for dtype in dtypes:
        conversion = weights_port.convert(model, weights, class_name=class_name, dtype=dtype,
                                          rules=rules or weights_port.DEFAULT_CONVERT_RULES,
                                          port_rules=port_rules or weights_port.DEFAULT_RULES, flat=flat)
        module = instantiate(conversion)
        reference = keras_model if dtype == "float32" else _as_float64(keras_model)
        inputs = [a.astype(dtype) if a.dtype.kind == "f" else a for a in inputs32]
        try:
            expected = _run_keras(reference, inputs)
        except Exception as exc:  # TensorFlow lacks some float64 kernels (MaxPool3D); some layers fail in float64
            text = str(exc)
            missing_kernel = "{{node " in text and ("allowed values" in text or "find device" in text)
            mixed_dtypes = _FLOAT32_IN_FLOAT64 in text
            if dtype == "float32" or not (missing_kernel or mixed_dtypes):
                from weights_port import PortError

                raise PortError(f"Keras cannot run the model on inputs of shape {[list(a.shape) for a in inputs]}: "
                                f"{_first_line(text) or type(exc).__name__}") from None
            if missing_kernel:
                kernel = text.split("{{node ")[1].split("}}")[0].split(" ")[0]
                check.notes.append(f"float64 not checked: TensorFlow has no float64 {kernel} kernel, so Keras "
                                   "cannot run this model in float64")
            else:
                check.notes.append("float64 not checked: Keras itself fails in float64 (one of its layers meets a "
                                   f"float32 tensor of its own: {_first_line(text)}); checked in float32 only")
            continue
        try:
            actual, _ = _run_torch(module, inputs, conversion.manifest)
        except RuntimeError as exc:  # torch's own refusal of an input Keras accepted: one line, not a traceback
            from weights_port import PortError

            raise PortError(f"{dtype}: the converted module cannot run the inputs Keras ran "
                            f"({[list(a.shape) for a in inputs]}): {_first_line(str(exc)) or type(exc).__name__}; "
                            "please report it") from None
        for entry, got, want in zip(conversion.manifest["outputs"], actual, expected, strict=True):
            agreement = compare_arrays(got, want.transpose(entry["permutation"]), dtype, check.allowances)
            check.results.append(OutputAgreement(dtype, entry["name"], agreement))
        if not all(r.agreement.passed for r in check.results if r.dtype == dtype):
            _, local_values = _run_torch(conversion.build(keep_intermediates=True), inputs, conversion.manifest)
            check.reports.append(_first_divergence(reference, inputs, local_values, conversion.manifest, dtype,
                                                   check.allowances))
    return check


_FLOAT32_IN_FLOAT64 = "was expected to be a double tensor but is a float tensor"
"""TensorFlow's error where a float64 Keras layer combines its input with a float32 tensor it made itself
(MelSpectrogram's decibel reference in Keras 3.15): Keras cannot run the model in float64 at all."""


def _first_line(text: str) -> str:
    """The first informative line of an error, without terminal colour codes."""
    import re

    lines = [re.sub(r"\x1b\[[0-9;]*m", "", line).strip() for line in text.splitlines()]
    informative = [line for line in lines if line and not line.startswith("Exception encountered")]
    return informative[0][:200] if informative else ""


def load_keras_model(model: str | Path, weights: str | Path | None = None) -> Any:
    """The Keras model of a file (``.keras``, full ``.h5``, or ``to_json()`` with its weights), loaded by the
    Keras that wrote it: tf-keras for a Keras 2 file (when installed), else Keras 3."""
    path = Path(model)
    if weights is None and path.suffix.lower() == ".json":
        from weights_port import KerasFileError

        raise KerasFileError(f"{path}: --check compares with Keras, and no Keras reads a TensorFlow.js model; "
                             "check the .h5 or .keras it was exported from, or convert without --check")
    K = _keras_for(path, weights)
    if weights is not None:
        keras_model = K.models.model_from_json(path.read_text())
        keras_model.load_weights(str(weights))
        return keras_model
    return K.models.load_model(str(path), compile=False)


def _keras_for(path: Path, weights: str | Path | None) -> Any:
    import weights_port

    if weights is not None:
        version = str(json.loads(path.read_text()).get("keras_version") or "3")
    else:
        with weights_port.open_keras(path) as source:
            version = source.keras_version or "3"
    if version.split(".")[0] == "2":
        try:
            import tf_keras

            return tf_keras
        except ImportError:
            pass
    import keras

    return keras


def _keras_module(model: Any) -> Any:
    """The Keras package a live model belongs to (``keras`` or ``tf_keras``)."""
    import importlib

    return importlib.import_module(type(model).__module__.split(".")[0])


def instantiate(conversion: Any) -> Any:
    """The generated class, built with no argument and loaded strictly, in inference mode."""
    return conversion.build()


def _as_float64(model: Any) -> Any:
    """The same model with every floating dtype float64; weights widened exactly.

    From its config where Keras can rebuild it so; else (a layer class Keras cannot find
    by name, such as tf-keras's ConvNeXt helpers) cloned layer by layer from the classes.
    """
    K = _keras_module(model)
    try:
        clone = K.models.model_from_json(json.dumps(_float64_config(json.loads(model.to_json()))))
    except (TypeError, ValueError):
        inputs = [K.Input(tuple(t.shape[1:]), dtype="float64" if "float" in str(t.dtype) else t.dtype)
                  for t in model.inputs]
        clone = K.models.clone_model(model, input_tensors=inputs, clone_function=lambda layer: type(layer).from_config(
            _float64_config({**layer.get_config(), "dtype": "float64"})))
    clone.set_weights([np.asarray(w, np.float64) if np.asarray(w).dtype.kind == "f" else w
                       for w in model.get_weights()])
    for layer in clone.layers:
        if type(layer).__name__ == "Normalization" and layer.weights:
            layer.finalize_state()  # recompute its statistics from the new weights, as Keras's loader does
    return clone


def _float64_config(value: Any) -> Any:
    if isinstance(value, dict):
        out: dict[str, Any] = {}
        for key, item in value.items():
            if key == "dtype" and isinstance(item, str) and item.startswith(("float", "bfloat")):
                out[key] = "float64"
            elif key == "dtype" and isinstance(item, dict) and item.get("class_name") == "DTypePolicy":
                out[key] = {**item, "config": {**item.get("config", {}), "name": "float64"}}
            else:
                out[key] = _float64_config(item)
        return out
    if isinstance(value, list):
        return [_float64_config(v) for v in value]
    return value


MAX_CHECK_ELEMENTS = 2**26
"""The largest input (elements per sample) ``--check`` draws: a declared shape beyond it is refused, not allocated."""

_SPATIAL_CANDIDATES = (32, 64, 96, 128, 160, 224, 299)
"""Sizes tried for an image axis the model leaves free (``input_shape=None``): the first the model accepts."""


def input_shapes(model: Any, given: Sequence[Sequence[int]] | None = None) -> list[tuple[int, ...]]:
    """One shape (without the batch axis) per input: ``given``, or the declared one with free axes filled.

    A free time axis becomes 7 steps; free image axes the smallest candidate size that the
    Keras model runs on (strides and kernels decide it; a fixed 7 made MobileNetV3 fail).
    """
    from weights_port import PortError

    declared = [tuple(tensor.shape)[1:] for tensor in model.inputs]
    if given is not None:
        if len(given) != len(declared) or any(len(g) != len(d) or any(a is not None and a != b for a, b in zip(
                d, g, strict=True)) for g, d in zip(given, declared, strict=True)):
            raise PortError(f"--input-shape {[list(g) for g in given]} does not fit the model's inputs "
                            f"{[list(d) for d in declared]} (give one shape per input, free axes filled)")
        shapes = [tuple(int(v) for v in g) for g in given]
    else:
        shapes = []
        for shape in declared:
            if None not in shape or len(shape) < 3:
                shapes.append(tuple(7 if d is None else int(d) for d in shape))
                continue
            for size in _SPATIAL_CANDIDATES:
                candidate = tuple(size if d is None else int(d) for d in shape)
                if _keras_accepts(model, declared, shapes, candidate):
                    shapes.append(candidate)
                    break
            else:
                raise PortError(f"the model runs on none of the input sizes {_SPATIAL_CANDIDATES} for its free axes "
                                f"{list(shape)}; give one with --input-shape")
    for shape in shapes:
        if int(np.prod(shape, dtype=np.float64)) > MAX_CHECK_ELEMENTS:
            raise PortError(f"input shape {list(shape)} has more than {MAX_CHECK_ELEMENTS} elements per sample; the "
                            "check would not fit in memory (give a smaller one with --input-shape)")
    return shapes


def _keras_accepts(model: Any, declared: list[tuple[Any, ...]], chosen: list[tuple[int, ...]],
                   candidate: tuple[int, ...]) -> bool:
    rest = [tuple(7 if d is None else int(d) for d in shape) for shape in declared[len(chosen) + 1:]]
    arrays = [np.zeros((1, *shape), dtype="float32") for shape in [*chosen, candidate, *rest]]
    try:
        _run_keras(model, arrays)
    except Exception:  # Keras's own refusal (a kernel larger than its input), of any type
        return False
    return True


def _random_inputs(model: Any, batch: int, rng: np.random.Generator,
                   shapes: Sequence[tuple[int, ...]] | None = None) -> list[np.ndarray]:
    vocabularies = _embedding_vocabularies(model)
    shapes = shapes if shapes is not None else input_shapes(model)
    arrays = []
    for index, tensor in enumerate(model.inputs):
        shape = [batch, *shapes[index]]
        dtype = str(getattr(tensor.dtype, "name", tensor.dtype))
        if index in vocabularies or dtype.startswith("int"):
            arrays.append(rng.integers(0, vocabularies.get(index, 10), shape).astype(
                dtype if dtype.startswith("int") else "float32"))
        else:
            arrays.append(rng.uniform(-1.0, 1.0, shape).astype("float32"))
    return arrays


def _embedding_vocabularies(model: Any) -> dict[int, int]:
    """Input index → the smallest vocabulary of an Embedding reading it (directly)."""
    found: dict[int, int] = {}
    names = [getattr(t, "name", None) for t in model.inputs]
    for layer in model.layers:
        if type(layer).__name__ != "Embedding":
            continue
        for node in getattr(layer, "_inbound_nodes", []):
            tensors = getattr(node, "input_tensors", [])  # tf.keras: the tensor itself for a single input
            for tensor in tensors if isinstance(tensors, list | tuple) else [tensors]:
                history = getattr(tensor, "_keras_history", None)
                source = history[0] if history else None
                source_name = getattr(source, "name", None)
                for index, name in enumerate(names):
                    if source_name and name and source_name in (name, name.split(":")[0]):
                        found[index] = min(found.get(index, layer.input_dim), layer.input_dim)
    if not found and any(type(layer).__name__ == "Embedding" for layer in model.layers):
        smallest = min(layer.input_dim for layer in model.layers if type(layer).__name__ == "Embedding")
        found = dict.fromkeys(range(len(model.inputs)), smallest)
    return found


def _run_keras(model: Any, inputs: list[np.ndarray]) -> list[np.ndarray]:
    outputs = model(inputs if len(inputs) > 1 else inputs[0], training=False)
    outputs = outputs if isinstance(outputs, list | tuple) else [outputs]
    return [np.asarray(o) for o in outputs]


def _run_torch(module: Any, inputs: list[np.ndarray], manifest: Mapping[str, Any]
               ) -> tuple[list[np.ndarray], dict[str, Any]]:
    """Outputs, and ``forward``'s locals at its return (every layer's value, by variable name)."""
    import torch

    tensors = [torch.from_numpy(np.ascontiguousarray(a.transpose(entry["permutation"])))
               for a, entry in zip(inputs, manifest["inputs"], strict=True)]
    captured: dict[str, Any] = {}
    code = type(module).forward.__code__

    def profile(frame: Any, event: str, arg: Any) -> None:
        if event == "return" and frame.f_code is code:
            captured.update(frame.f_locals)

    previous = sys.getprofile()
    sys.setprofile(profile)
    try:
        with torch.no_grad():
            outputs = module(*tensors)
    finally:
        sys.setprofile(previous)
    outputs = outputs if isinstance(outputs, tuple) else (outputs,)
    return [o.detach().numpy() for o in outputs], captured


def kernel_allowances(config: Any) -> tuple[KernelAllowance, ...]:
    """The inaccurate TensorFlow kernels a model config uses (a gelu activation). TensorFlow's bilinear resize,
    float32 arithmetic even in float64, is reproduced by the converter (``torch_modules.resize_bilinear``)."""
    found: set[str] = set()

    def visit(value: Any) -> None:
        if isinstance(value, dict):
            if value.get("activation") == "gelu" or value.get("class_name") == "Gelu":
                found.add("gelu")
            for item in value.values():
                visit(item)
        elif isinstance(value, list):
            for item in value:
                visit(item)

    visit(config)
    return tuple(FLOAT64_KERNEL_ALLOWANCES[name] for name in sorted(found))


def _first_divergence(model: Any, inputs: list[np.ndarray], local_values: Mapping[str, Any],
                      manifest: Mapping[str, Any], dtype: str, allowances: tuple[KernelAllowance, ...]) -> str:
    keras = _keras_module(model)
    layers = [layer for layer in model.layers if layer.name in manifest["layers"]
              and len(getattr(layer, "_inbound_nodes", [])) == 1]
    firsts = [layer.output[0] if isinstance(layer.output, list | tuple) else layer.output for layer in layers]
    probe = keras.Model(model.inputs, firsts)  # a layer's first output (its sequence, not its states)
    values = probe(inputs if len(inputs) > 1 else inputs[0], training=False)
    values = values if isinstance(values, list | tuple) else [values]
    for layer, value in zip(layers, values, strict=True):
        entry = manifest["layers"][layer.name]
        local = local_values.get(entry["output"])
        if local is None:
            continue
        expected = np.asarray(value)
        if entry.get("flat_from"):
            channels, *spatial = entry["flat_from"]
            expected = np.moveaxis(expected.reshape(-1, *spatial, channels), -1, 1).reshape(expected.shape)
        else:
            expected = expected.transpose(entry["permutation"])
        found = local.detach().numpy()
        if found.shape != expected.shape and found.shape == tuple(d for d in expected.shape if d != 1):
            expected = expected.reshape(found.shape)  # a pooled classifier's 1×1 convolution as nn.Linear: (N, C)
        agreement = compare_arrays(found, expected, dtype, allowances)
        if not agreement.passed:
            modules = ", ".join(entry["modules"]) or "no module"
            return (f"{dtype}: diverges at Keras layer '{layer.name}' ({type(layer).__name__}) → {modules}: "
                    f"max abs {agreement.max_abs:.2e}, max rel {agreement.max_rel:.2e}; every earlier layer agrees")
    return f"{dtype}: the outputs differ but no single layer's output does (compare the outputs' layouts)"
