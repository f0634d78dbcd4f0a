"""The built-in rule table, assembled from the per-family rule modules."""

from __future__ import annotations

from ._layers_core import CORE_RULES
from ._layers_norm_conv import NORM_CONV_RULES
from ._layers_recurrent import RECURRENT_RULES
from ._rules import RuleSet

__all__ = ["DEFAULT_RULES"]

DEFAULT_RULES = RuleSet([*CORE_RULES, *RECURRENT_RULES, *NORM_CONV_RULES])
