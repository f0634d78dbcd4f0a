"""Port saved Keras weights to PyTorch, reading files with h5py alone.

>>> with weights_port.open_keras("model.h5") as source:
...     weights_port.load_into_torch(source, torch_model)
"""

from __future__ import annotations

from ._catalog import DEFAULT_RULES
from ._errors import (
    ConfigValueError,
    KerasFileError,
    LayoutMismatchError,
    OutputError,
    PortError,
    UnknownLayerError,
    UnsupportedLayerError,
    WeightValueError,
)
from ._files import atomic_write, save_safetensors
from ._keras_side import assign_to_keras, torch_to_keras
from ._port import HINTS_ATTRIBUTE, Pairing, pair_layers, torch_targets
from ._readers import open_keras
from ._rules import PortRule, RuleContext, RuleMismatch, RuleSet, TorchTarget
from ._source import KerasLayer, KerasSource, KerasWeight
from ._torch_side import apply_module_settings, keras_to_state_dict, load_into_torch, port_to_torch
from .conversion import DEFAULT_CONVERT_RULES, Conversion, ConvertRule, ConvertRuleSet, convert

__all__ = [
    "DEFAULT_CONVERT_RULES",
    "DEFAULT_RULES",
    "HINTS_ATTRIBUTE",
    "ConfigValueError",
    "Conversion",
    "ConvertRule",
    "ConvertRuleSet",
    "KerasFileError",
    "KerasLayer",
    "KerasSource",
    "KerasWeight",
    "LayoutMismatchError",
    "OutputError",
    "Pairing",
    "PortError",
    "PortRule",
    "RuleContext",
    "RuleMismatch",
    "RuleSet",
    "TorchTarget",
    "UnknownLayerError",
    "UnsupportedLayerError",
    "WeightValueError",
    "apply_module_settings",
    "assign_to_keras",
    "atomic_write",
    "convert",
    "keras_to_state_dict",
    "load_into_torch",
    "open_keras",
    "pair_layers",
    "port_to_torch",
    "save_safetensors",
    "torch_targets",
    "torch_to_keras",
]
