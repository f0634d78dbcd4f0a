"""The divergence report: run both models layer by layer and name where they part.

Keras layers record their first call (input and output) through a wrapped ``call``;
PyTorch modules through forward hooks. Pairs come from the porter's own structural
pairing, so every weighted Keras layer is compared with the module its weights filled.
Tensors are brought to the Keras layout before comparing (channels last, the rows of a
channels-last flatten, the last step of a sequence). Like is compared with like: a Keras
layer with a fused activation (Dense, Conv) is recorded before its activation, as the
PyTorch module computes it; what either side does after (its activation, pooling...) shows
in the next pair's inputs, and the report says the two part between those layers.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import numpy as np

from ._tolerance import compare_arrays

__all__ = ["LayerComparison", "compare_layers", "divergence_report"]

_CHANNEL_MODULES = ("Conv", "BatchNorm2d", "BatchNorm3d", "SeparableConv", "MaxPool", "AvgPool")


@dataclass(frozen=True)
class LayerComparison:
    keras_layer: str
    torch_module: str
    input_error: float | None  # None: could not be aligned
    output_error: float | None
    input_ok: bool
    output_ok: bool
    keras_activation: str | None = None
    """The fused activation Keras applies after this layer's compared (pre-activation) output."""


def _first(value: Any) -> Any:
    while isinstance(value, list | tuple):
        value = value[0]
    return value


def _numpy(value: Any) -> np.ndarray:
    value = _first(value)
    if hasattr(value, "detach"):
        return value.detach().cpu().numpy()
    return value.numpy() if hasattr(value, "numpy") else np.asarray(value)


@contextmanager
def _record_keras(layers: Sequence[Any]) -> Iterator[dict[int, tuple[np.ndarray, np.ndarray]]]:
    records: dict[int, tuple[np.ndarray, np.ndarray]] = {}

    def wrap(layer: Any) -> Callable[..., Any]:
        original = layer.call
        activation = getattr(layer, "activation", None) if _fuses_activation(layer) else None

        def recording(*args: Any, **kwargs: Any) -> Any:
            if id(layer) in records:
                return original(*args, **kwargs)
            if activation is None:
                out = original(*args, **kwargs)
                before = out
            else:  # the output before the fused activation: what the PyTorch module computes
                object.__setattr__(layer, "activation", lambda x: x)
                try:
                    before = original(*args, **kwargs)
                finally:
                    object.__setattr__(layer, "activation", activation)
                out = activation(before)
            records[id(layer)] = (_numpy(args[0] if args else next(iter(kwargs.values()))), _numpy(before))
            return out

        return recording

    for layer in layers:
        object.__setattr__(layer, "call", wrap(layer))
    try:
        yield records
    finally:
        for layer in layers:
            object.__delattr__(layer, "call")


@contextmanager
def _record_torch(modules: Sequence[Any]) -> Iterator[dict[int, tuple[np.ndarray, np.ndarray]]]:
    records: dict[int, tuple[np.ndarray, np.ndarray]] = {}

    def hook(module: Any, args: tuple[Any, ...], output: Any) -> None:
        if id(module) not in records:
            records[id(module)] = (_numpy(args[0]), _numpy(output))

    handles = [m.register_forward_hook(hook) for m in modules]
    try:
        yield records
    finally:
        for handle in handles:
            handle.remove()


def _fuses_activation(layer: Any) -> bool:
    """Dense and convolution layers apply their ``activation`` inside ``call``; PyTorch needs a separate op."""
    return type(layer).__name__ in _FUSING_LAYERS and callable(getattr(layer, "activation", None))


_FUSING_LAYERS = {"Dense", "Conv1D", "Conv2D", "Conv3D", "Conv1DTranspose", "Conv2DTranspose", "Conv3DTranspose",
                  "DepthwiseConv1D", "DepthwiseConv2D", "SeparableConv1D", "SeparableConv2D"}


def _activation_name(layer: Any) -> str | None:
    activation = getattr(layer, "activation", None) if _fuses_activation(layer) else None
    name = getattr(activation, "__name__", None)
    return None if name in (None, "linear") else name


def _layouts(value: np.ndarray, module_type: str, flatten_from: Sequence[int] | None) -> list[np.ndarray]:
    """Ways the PyTorch tensor may be laid out for Keras, the likeliest first."""
    candidates = [value]
    if flatten_from and value.ndim >= 2:
        channels, *spatial = flatten_from
        lead = value.shape[:-1]
        unflat = value.reshape(*lead, channels, *spatial)
        candidates.insert(0, np.moveaxis(unflat, len(lead), -1).reshape(value.shape))
    if value.ndim >= 3:
        moved = [np.moveaxis(value, 1, -1)] + ([np.moveaxis(value, 2, -1)] if value.ndim == 5 else [])
        channel_first = any(module_type.startswith(p) for p in _CHANNEL_MODULES)
        candidates = moved + candidates if channel_first else candidates + moved
        candidates.append(value[:, -1])  # a sequence whose Keras twin returns the last step
        if value.shape[-1] % 2 == 0:  # a bidirectional sequence: forward last, backward first
            half = value.shape[-1] // 2
            candidates.append(np.concatenate([value[:, -1, :half], value[:, 0, half:]], axis=-1))
    return candidates


def _align(torch_value: np.ndarray, keras_value: np.ndarray, module_type: str,
           flatten_from: Sequence[int] | None) -> np.ndarray | None:
    for candidate in _layouts(torch_value, module_type, flatten_from):
        if candidate.shape == keras_value.shape:
            return candidate
    return None


def compare_layers(pairs: Sequence[Any], keras_model: Any, torch_model: Any,
                   keras_inputs: Sequence[np.ndarray], torch_inputs: Sequence[Any], dtype: str,
                   allowances: tuple[Any, ...] = ()) -> list[LayerComparison]:
    """Run both models once more, recording every paired layer; compare input and output of each."""
    import torch

    keras_layers = [p.layer.origin for p in pairs]
    modules = [torch_model.get_submodule(p.target.path) for p in pairs]
    with _record_keras(keras_layers) as keras_records, _record_torch(modules) as torch_records:
        keras_model(list(keras_inputs) if len(keras_inputs) > 1 else keras_inputs[0], training=False)
        with torch.no_grad():
            torch_model(*torch_inputs)
    comparisons = []
    for pair, layer, module in zip(pairs, keras_layers, modules, strict=True):
        if id(layer) not in keras_records or id(module) not in torch_records:
            continue
        k_in, k_out = keras_records[id(layer)]
        t_in, t_out = torch_records[id(module)]
        hint = pair.target.hints.get("flatten_from")
        errors = []
        for t_value, k_value, flatten in ((t_in, k_in, hint), (t_out, k_out, None)):
            aligned = _align(t_value, k_value, pair.target.module_type, flatten)
            agreement = None if aligned is None else compare_arrays(aligned, k_value, dtype, allowances)
            if k_value is k_in and (agreement is None or not agreement.passed) and \
                    _same_values(t_value, k_value, dtype, allowances):
                agreement = compare_arrays(k_value, k_value, dtype)  # same numbers, another order: a layout
            errors.append(agreement)
        comparisons.append(LayerComparison(
            pair.layer.name, pair.target.path or "<root>",
            None if errors[0] is None else errors[0].max_abs, None if errors[1] is None else errors[1].max_abs,
            errors[0] is None or errors[0].passed, errors[1] is None or errors[1].passed, _activation_name(layer),
        ))
    return comparisons


def _same_values(torch_value: np.ndarray, keras_value: np.ndarray, dtype: str, allowances: tuple[Any, ...]) -> bool:
    """Per sample, the same multiset of values (a flatten in channels-first instead of channels-last order)."""
    if torch_value.size != keras_value.size or torch_value.shape[0] != keras_value.shape[0]:
        return False
    per_sample = (torch_value.reshape(torch_value.shape[0], -1), keras_value.reshape(keras_value.shape[0], -1))
    return compare_arrays(np.sort(per_sample[0], axis=1), np.sort(per_sample[1], axis=1), dtype, allowances).passed


def divergence_report(name: str, comparisons: Sequence[LayerComparison], final_error: float) -> str:
    """One line naming the first pair of layers whose values part, with the error before it."""
    matched: list[float] = []
    previous: LayerComparison | None = None
    for c in comparisons:
        earlier = f"every earlier layer matches to {max(matched):.1e}" if matched else "it is the first paired layer"
        where = f"{c.keras_layer} (Keras) / {c.torch_module} (PyTorch)"
        if not c.input_ok and previous is not None:
            after = (f"the activation Keras fuses into {previous.keras_layer} ('{previous.keras_activation}') or "
                     "the weightless operations after it" if previous.keras_activation
                     else f"the weightless operations after {previous.keras_layer}")
            return (f"{name}: diverges between {previous.keras_layer} / {previous.torch_module} and {where}: "
                    f"{previous.keras_layer}'s output matches before its activation, {c.keras_layer}'s inputs differ "
                    f"by max abs {c.input_error:.1e}: {after} differ in PyTorch; {earlier}")
        if not c.input_ok:
            return (f"{name}: diverges before {where}: its inputs differ by max abs {c.input_error:.1e} "
                    f"(the weightless operations feeding it differ); {earlier}")
        if not c.output_ok:
            return f"{name}: diverges at {where}: max abs {c.output_error:.1e}; {earlier}"
        matched += [e for e in (c.input_error, c.output_error) if e is not None]
        previous = c
    best = f"to {max(matched):.1e}" if matched else ""
    return (f"{name}: every paired layer matches {best}; the outputs differ by max abs {final_error:.1e} "
            "after the last paired layer (in weightless operations of the head)")
