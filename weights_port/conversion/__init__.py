"""``zoo convert``'s machinery: any saved Keras model → a typed representation → PyTorch source, weights, manifest.

The pipeline: ``_graph`` (file → layers, nodes, tensors), the rules (``_rules_core``,
``_rules_recurrent``, ``_rules_ops``; ``_table`` holds their shape), which add typed
``ModuleSpec``s and ``Step``s (``_ir``) through an ``Emitter``, names from ``_names``,
config values checked by ``_settings``, and ``_render`` (representation → ``ast`` →
source, or a module built from the checked tree). Runtime helpers are real Python in
``weights_port.torch_modules``. Nothing from a file reaches generated source except as a
constant or a validated identifier.
"""

from __future__ import annotations

from ._convert import Conversion, convert
from ._emitter import Emitter, refuse
from ._graph import Graph, Layer, Op, TensorRef, read_graph
from ._ir import SELF, Expr, F, Global, ModelIR, ModuleSpec, Step, Value, call, compare, const, method, nn, torch
from ._rules_attention import ATTENTION_RULES
from ._rules_audio import AUDIO_RULES
from ._rules_core import CORE_RULES
from ._rules_local import LOCAL_RULES
from ._rules_more import MORE_RULES
from ._rules_preprocessing import PREPROCESSING_RULES
from ._rules_recurrent import RECURRENT_RULES
from ._settings import Settings
from ._table import ConvertRule, ConvertRuleSet, apply_activation

__all__ = [
    "DEFAULT_CONVERT_RULES", "SELF", "Conversion", "ConvertRule", "ConvertRuleSet", "Emitter", "Expr", "F", "Global",
    "Graph", "Layer", "ModelIR", "ModuleSpec", "Op", "Settings", "Step", "TensorRef", "Value", "apply_activation",
    "call", "compare", "const", "convert", "method", "nn", "read_graph", "refuse", "torch",
]

DEFAULT_CONVERT_RULES = ConvertRuleSet([*CORE_RULES, *RECURRENT_RULES, *ATTENTION_RULES, *MORE_RULES,
                                          *PREPROCESSING_RULES, *AUDIO_RULES, *LOCAL_RULES])
