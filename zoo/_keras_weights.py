"""Loading weights into a Keras model: from any Keras file, or back from a PyTorch state dict."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ._formats import TORCH_WEIGHT_SUFFIXES, meta_torch_model
from ._spec import Architecture

__all__ = ["load_into_keras"]


def load_into_keras(model: Any, path: Any, arch: Architecture, config: dict[str, Any],
                    extra_rules: Sequence[Any]) -> None:
    """Fill ``model`` from ``path`` (or a live keras.Model); every array is converted and checked before any is
    assigned."""
    if isinstance(path, Path) and path.suffix.lower() in TORCH_WEIGHT_SUFFIXES:
        arrays = _from_torch_state(model, path, arch, config, extra_rules)
    else:
        arrays = _from_keras_file(model, path)
    for variable, array in arrays:
        variable.assign(array)


def _from_keras_file(model: Any, path: Any) -> list[tuple[Any, np.ndarray]]:
    import weights_port
    from weights_port.porting import PortRule, RuleSet, TorchTarget, checked_array, pair_layers

    own = weights_port.open_keras(model).layers
    # The model's own layers act as targets that take the file's arrays unchanged: the
    # same structural pairing as a port, with an identity rule per Keras class.
    def identity(arrays: Any, ctx: Any) -> dict[str, np.ndarray]:
        return {str(i): a for i, a in enumerate(arrays)}

    classes = sorted({layer.class_name or "" for layer in own})
    rules = RuleSet(PortRule(c, (c,), identity, lambda s, ctx: list(s.values())) for c in classes)
    targets = [TorchTarget(layer.name, layer.class_name or "", {str(i): s for i, s in enumerate(layer.shapes)})
               for layer in own]
    by_name = {layer.name: layer for layer in own}
    with weights_port.open_keras(path) as source:
        assignments = []
        for pair in pair_layers(source, targets, rules):
            for mine, theirs in zip(by_name[pair.target.path].weights, pair.layer.weights, strict=False):
                variable = mine.data.variable  # type: ignore[attr-defined]
                array = checked_array(pair.layer, theirs.key, theirs.read())
                assignments.append((variable, array.astype(mine.data.dtype)))
    return assignments


def _from_torch_state(model: Any, path: Path, arch: Architecture, config: dict[str, Any],
                      extra_rules: Sequence[Any]) -> list[tuple[Any, np.ndarray]]:
    """A PyTorch state dict (safetensors, or .pt read weights-only) converted for ``model``."""
    import weights_port

    from ._torch_weights import read_state_file

    state, _ = read_state_file(path)
    arrays = _real_float_arrays(state, path)
    dtype = "float64" if any(a.dtype == np.float64 for a in arrays.values()) else "float32"
    torch_model = meta_torch_model(arch, config, dtype)
    rules = weights_port.DEFAULT_RULES.extended(extra_rules)
    return weights_port.torch_to_keras(arrays, torch_model, model, rules)


def _real_float_arrays(state: dict[str, Any], path: Path) -> dict[str, np.ndarray]:
    """NumPy arrays of a state dict; refuses what a Keras weight cannot hold, as the other direction does.

    float16, bfloat16 and float8 widen to float32 exactly; integer, boolean and complex
    tensors and non-finite values are refused (BatchNorm's step counter is not a weight).
    """
    import torch

    from weights_port import WeightValueError

    arrays = {}
    for key, tensor in state.items():
        if key.rsplit(".", 1)[-1] == "num_batches_tracked":
            continue
        if tensor.is_complex() or not tensor.is_floating_point():
            raise WeightValueError(f"{path}: tensor '{key}' has dtype {tensor.dtype}; Keras weights are real floating "
                                   "point, so it cannot be ported without losing values")
        if tensor.dtype not in (torch.float32, torch.float64):
            tensor = tensor.to(torch.float32)
        array = tensor.detach().cpu().numpy()
        if not np.isfinite(array).all():
            bad = int(array.size - np.count_nonzero(np.isfinite(array)))
            raise WeightValueError(f"{path}: tensor '{key}' holds {bad} non-finite value(s) (NaN or inf); "
                                   "re-save it from a healthy training run")
        arrays[key] = array
    return arrays
