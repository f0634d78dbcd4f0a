"""The PyTorch side of a port: build the full state dict and load it in one step."""

from __future__ import annotations

from typing import Any

import numpy as np

from ._errors import LayoutMismatchError
from ._port import convert_pairs, pair_layers, torch_targets
from ._rules import DEFAULT_RULES, RuleSet
from ._source import KerasSource

__all__ = ["keras_to_state_dict", "load_into_torch"]


def keras_to_state_dict(source: KerasSource, model: Any, rules: RuleSet = DEFAULT_RULES) -> dict[str, np.ndarray]:
    """The model's complete state dict as NumPy arrays, filled from the Keras weights.

    Works on a model built on the ``meta`` device too (no parameter memory): entries no
    Keras weight fills (BatchNorm's ``num_batches_tracked``) are taken from the model,
    or zero when it holds no data.
    """
    import torch

    pairs = pair_layers(source, torch_targets(model, rules), rules)
    reference = model.state_dict()
    dtypes = {key: torch.empty((), dtype=t.dtype).numpy().dtype for key, t in reference.items()}
    state = dict(convert_pairs(pairs, dtypes.__getitem__))
    for key, tensor in reference.items():
        if key not in state:
            state[key] = np.zeros(tuple(tensor.shape), dtypes[key]) if tensor.is_meta else tensor.numpy().copy()
    return state


def load_into_torch(source: KerasSource, model: Any, rules: RuleSet = DEFAULT_RULES) -> Any:
    """Port ``source`` into ``model`` in place; on any error the model is left untouched."""
    import torch

    state = keras_to_state_dict(source, model, rules)
    tensors = {key: torch.from_numpy(array) for key, array in state.items()}
    missing, unexpected = model.load_state_dict(tensors, strict=False)
    if missing or unexpected:  # cannot happen after pairing; guard against a changed model
        raise LayoutMismatchError(f"state dict mismatch: missing {missing}, unexpected {unexpected}")
    return model
