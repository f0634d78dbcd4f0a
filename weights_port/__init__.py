"""Port saved Keras weights to PyTorch, reading files with h5py alone.

>>> with weights_port.open_keras("model.h5") as source:
...     weights_port.load_into_torch(source, torch_model)
"""

from __future__ import annotations

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
from ._files import atomic_write, check_output_path, save_safetensors
from .conversion import DEFAULT_CONVERT_RULES, Conversion, ConvertRule, ConvertRuleSet, convert
from .porting import (
    DEFAULT_RULES,
    HINTS_ATTRIBUTE,
    Pairing,
    PortRule,
    RuleContext,
    RuleMismatch,
    RuleSet,
    TorchTarget,
    apply_module_settings,
    assign_to_keras,
    keras_to_state_dict,
    load_into_torch,
    pair_layers,
    port_to_torch,
    torch_targets,
    torch_to_keras,
)
from .readers import KerasLayer, KerasSource, KerasWeight, open_keras

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
    "check_output_path",
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
