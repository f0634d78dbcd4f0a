"""The PyTorch side of a port: build the full state dict and load it in one step."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from .._errors import LayoutMismatchError, UnsupportedLayerError
from ..readers import KerasSource
from ._catalog import DEFAULT_RULES
from ._pairing import convert_pairs, module_settings, pair_layers, torch_targets
from ._rules import RuleSet

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

    Only the settings in ``MODULE_SETTINGS`` exist, each on its module types and checked
    before anything changes: settings may come from a file's metadata, which must not set
    arbitrary attributes. A BatchNorm's ``eps`` is set; an LSTM whose gates must use a
    legacy hard sigmoid is swapped for ``GateActivationLSTM``; an ``nn.RNN`` built with
    the other nonlinearity is an error naming both.
    """
    checked = [(path, module, key, value) for path, wanted in _as_mapping(settings, "module settings").items()
               for module in [_submodule(model, path)]
               for key, value in _as_mapping(wanted, f"settings of '{path}'").items()
               if _check_setting(path, module, key, value)]
    for path, module, key, value in checked:
        if key == "recurrent_activation":
            from ..torch_modules import GateActivationLSTM

            if value != getattr(module, "recurrent_activation", "sigmoid"):
                model.set_submodule(path, GateActivationLSTM.like(model.get_submodule(path), value))
        elif key == "nonlinearity":
            if module.nonlinearity != value:
                raise LayoutMismatchError(f"the Keras layer for PyTorch module '{path}' uses activation {value!r}; "
                                          f"the module was built with nonlinearity {module.nonlinearity!r}")
        else:
            setattr(module, key, value)


def _is_rate(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and 0.0 <= value <= 1.0


_NORMS = ("BatchNorm1d", "BatchNorm2d", "BatchNorm3d", "LayerNorm", "GroupNorm")
MODULE_SETTINGS: dict[str, tuple[tuple[str, ...], Any, str]] = {
    "eps": (_NORMS, lambda v: isinstance(v, int | float) and not isinstance(v, bool) and 0.0 < v < 1.0,
            "a number between 0 and 1"),
    "momentum": (_NORMS[:3], lambda v: v is None or _is_rate(v), "a number between 0 and 1, or null"),
    "recurrent_activation": (("LSTM", "GateActivationLSTM"),
                             lambda v: v in ("sigmoid", "hard_sigmoid", "hard_sigmoid_keras2"),
                             "'sigmoid', 'hard_sigmoid' or 'hard_sigmoid_keras2'"),
    "nonlinearity": (("RNN",), lambda v: v in ("tanh", "relu"), "'tanh' or 'relu'"),
}
"""setting → (module types it applies to, validity test, what a valid value is)."""


def _check_setting(path: str, module: Any, key: str, value: Any) -> bool:
    if key not in MODULE_SETTINGS:
        raise UnsupportedLayerError(f"module setting {key}={value!r} for PyTorch module '{path}' is not one the "
                                    f"porter defines ({', '.join(MODULE_SETTINGS)})")
    types, valid, expected = MODULE_SETTINGS[key]
    if type(module).__name__ not in types:
        raise UnsupportedLayerError(f"PyTorch module '{path}' ({type(module).__name__}) cannot take the setting "
                                    f"{key}={value!r}; it applies to {', '.join(types)}")
    if not valid(value):
        raise UnsupportedLayerError(f"module setting {key}={value!r} for PyTorch module '{path}' is invalid; "
                                    f"expected {expected}")
    return True


def _as_mapping(value: Any, what: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise UnsupportedLayerError(f"{what} must map names to values, got {type(value).__name__}")
    return value


def _submodule(model: Any, path: str) -> Any:
    try:
        return model.get_submodule(path)
    except (AttributeError, TypeError):
        raise UnsupportedLayerError(f"module settings name '{path}', which is no module of this "
                                    f"{type(model).__name__}") from None
