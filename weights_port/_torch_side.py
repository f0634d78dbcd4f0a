"""The PyTorch side of a port: build the full state dict and load it in one step."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from ._catalog import DEFAULT_RULES
from ._errors import LayoutMismatchError, UnsupportedLayerError
from ._port import convert_pairs, module_settings, pair_layers, torch_targets
from ._rules import RuleSet
from ._source import KerasSource

__all__ = ["apply_module_settings", "keras_to_state_dict", "load_into_torch", "port_to_torch"]


def port_to_torch(source: KerasSource, model: Any, rules: RuleSet = DEFAULT_RULES
                  ) -> tuple[dict[str, np.ndarray], dict[str, dict[str, Any]]]:
    """The model's complete state dict as NumPy arrays, and the module settings it needs.

    Works on a model built on the ``meta`` device too (no parameter memory): entries no
    Keras weight fills (BatchNorm's ``num_batches_tracked``) are taken from the model,
    or zero when it holds no data. Settings are what ``apply_module_settings`` takes.
    """
    import torch

    pairs = pair_layers(source, torch_targets(model, rules), rules)
    settings = module_settings(pairs)
    reference = model.state_dict()
    dtypes = {key: torch.empty((), dtype=t.dtype).numpy().dtype for key, t in reference.items()}
    state = dict(convert_pairs(pairs, dtypes.__getitem__, _contiguous))
    for key, tensor in reference.items():
        if key not in state:
            state[key] = np.zeros(tuple(tensor.shape), dtypes[key]) if tensor.is_meta else tensor.numpy().copy()
    return state, settings


def _contiguous(array: np.ndarray, dtype: Any) -> np.ndarray:
    """Materialise a transposed view with PyTorch's parallel copy kernels (about twice NumPy's
    speed on 4-D kernel permutations); NumPy for what torch cannot wrap (read-only views)."""
    import torch

    if array.flags.c_contiguous and array.dtype == dtype:
        return array
    if not array.flags.writeable or any(stride <= 0 for stride in array.strides):
        return np.ascontiguousarray(array, dtype=dtype)
    tensor = torch.from_numpy(array).contiguous()
    return np.ascontiguousarray(tensor.numpy(), dtype=dtype)


def keras_to_state_dict(source: KerasSource, model: Any, rules: RuleSet = DEFAULT_RULES) -> dict[str, np.ndarray]:
    """Only the state dict of ``port_to_torch`` (for models whose modules need no settings)."""
    return port_to_torch(source, model, rules)[0]


def load_into_torch(source: KerasSource, model: Any, rules: RuleSet = DEFAULT_RULES) -> Any:
    """Port ``source`` into ``model`` in place; on any error the model is left untouched."""
    import torch

    state, settings = port_to_torch(source, model, rules)
    apply_module_settings(model, settings)
    tensors = {key: torch.from_numpy(array) for key, array in state.items()}
    missing, unexpected = model.load_state_dict(tensors, strict=False)
    if missing or unexpected:  # cannot happen after pairing; guard against a changed model
        raise LayoutMismatchError(f"state dict mismatch: missing {missing}, unexpected {unexpected}")
    return model


def apply_module_settings(model: Any, settings: Mapping[str, Mapping[str, Any]]) -> None:
    """Make modules compute what the Keras layers computed (see ``PortRule.module_settings``).

    Attributes such as a BatchNorm's ``eps`` are set; an LSTM whose gates must use a
    legacy hard sigmoid is swapped for ``GateActivationLSTM``; a setting a module cannot
    take (an ``nn.RNN`` built with the other nonlinearity) is an error naming both.
    """
    for path, wanted in settings.items():
        module = model.get_submodule(path)
        for key, value in wanted.items():
            if key == "recurrent_activation":
                from .torch_modules import GateActivationLSTM

                module = GateActivationLSTM.like(module, value)
                model.set_submodule(path, module)
            elif key == "nonlinearity":
                if module.nonlinearity != value:
                    raise LayoutMismatchError(f"the Keras layer for PyTorch module '{path}' uses activation {value!r}; "
                                              f"the module was built with nonlinearity {module.nonlinearity!r}")
            elif hasattr(module, key):
                setattr(module, key, value)
            else:
                raise UnsupportedLayerError(f"PyTorch module '{path}' ({type(module).__name__}) cannot take "
                                            f"the setting {key}={value!r} its Keras layer needs")
