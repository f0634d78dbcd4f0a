"""The weight porter: a rule per (Keras class, PyTorch module type) that moves arrays between the two layouts,
the pairing of Keras layers with PyTorch modules, and both directions of a port.

``zoo port`` and ``zoo.get(weights=...)`` use it directly; ``weights_port.conversion`` uses the
same rules for the modules it generates, so a converted model's weights are laid out exactly
as a ported one's.
"""

from ._catalog import DEFAULT_RULES
from ._keras_side import assign_to_keras, torch_to_keras
from ._layers_recurrent import cell_to_torch_arrays, conv_lstm_to_torch
from ._pairing import HINTS_ATTRIBUTE, Pairing, checked_array, pair_layers, torch_targets
from ._rules import (
    PortRule,
    RuleContext,
    RuleMismatch,
    RuleSet,
    TorchTarget,
    flatten_rows_to_channels_first,
    flatten_rows_to_channels_last,
)
from ._torch_side import apply_module_settings, keras_to_state_dict, load_into_torch, port_to_torch

__all__ = [
    "DEFAULT_RULES", "HINTS_ATTRIBUTE", "Pairing", "PortRule", "RuleContext", "RuleMismatch", "RuleSet", "TorchTarget",
    "apply_module_settings", "assign_to_keras", "cell_to_torch_arrays", "checked_array", "conv_lstm_to_torch",
    "flatten_rows_to_channels_first", "flatten_rows_to_channels_last", "keras_to_state_dict", "load_into_torch",
    "pair_layers", "port_to_torch", "torch_targets", "torch_to_keras",
]
