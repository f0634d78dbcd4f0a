"""The reverse direction: a PyTorch state dict into a live Keras model, by the same pairing."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from .._errors import LayoutMismatchError
from ..readers import open_keras
from ._catalog import DEFAULT_RULES
from ._pairing import pair_layers, torch_targets
from ._rules import RuleSet

__all__ = ["assign_to_keras", "torch_to_keras"]

_IGNORED = ("num_batches_tracked",)


def torch_to_keras(state: Mapping[str, np.ndarray], torch_model: Any, keras_model: Any,
                   rules: RuleSet = DEFAULT_RULES) -> list[tuple[Any, np.ndarray]]:
    """(Keras variable, array) for every weight of ``keras_model``, from a PyTorch state dict.

    ``torch_model`` only supplies the structure (build it on the ``meta`` device). Every
    key and shape is checked before anything is returned; nothing is assigned here.
    """
    pairs = pair_layers(open_keras(keras_model), torch_targets(torch_model, rules), rules)
    used: set[str] = set()
    assignments: list[tuple[Any, np.ndarray]] = []
    for pair in pairs:
        sub = {}
        for name, shape in pair.target.shapes.items():
            key = pair.target.key(name)
            if key not in state:
                raise LayoutMismatchError(f"the state dict has no '{key}' for {pair.layer.describe()}")
            if tuple(state[key].shape) != tuple(shape):
                raise LayoutMismatchError(f"state dict entry '{key}' has shape {tuple(state[key].shape)}, "
                                          f"the model expects {tuple(shape)}")
            sub[name] = np.asarray(state[key])
            used.add(key)
        arrays = pair.rule.to_keras(sub, pair.context)
        if len(arrays) != len(pair.layer.weights):
            raise LayoutMismatchError(f"{pair.layer.describe()} holds {len(pair.layer.weights)} weights, "
                                      f"the PyTorch module '{pair.target.path}' gives {len(arrays)}")
        for weight, array in zip(pair.layer.weights, arrays, strict=True):
            if tuple(array.shape) != weight.shape:
                raise LayoutMismatchError(f"{pair.layer.describe()} weight '{weight.key}' has shape {weight.shape}, "
                                          f"PyTorch module '{pair.target.path}' gives {tuple(array.shape)}")
            variable = weight.data.variable  # type: ignore[attr-defined]
            assignments.append((variable, np.ascontiguousarray(array, dtype=weight.data.dtype)))
    extra = sorted(k for k in set(state) - used if k.rsplit(".", 1)[-1] not in _IGNORED)
    if extra:
        raise LayoutMismatchError(f"the state dict has {len(extra)} entries the model does not use: {extra[:6]}")
    return assignments


def assign_to_keras(assignments: list[tuple[Any, np.ndarray]]) -> None:
    for variable, array in assignments:
        variable.assign(array)
