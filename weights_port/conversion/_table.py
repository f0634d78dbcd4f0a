"""The conversion table's shape: one ``ConvertRule`` per Keras class, and the activations all rules share.

Each ``ConvertRule`` names the porter rule its weights go through (``weights``: the
PyTorch module type the porter's table pairs with that Keras class, so conversion and
porting share one description of every layout change), emits modules and ``forward``
steps through the ``Emitter``, and declares the layout it prefers for its input
(``layout``: "cf" for layers that compute over channels-first tensors, "keras" for
layers whose semantics are Keras's axis order, "any" for element-wise ones). Plugins add
rules through the ``zoo_convert_rules`` hook; ``ConvertRuleSet`` refuses a second rule
for the same class.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from .._errors import ConfigValueError, UnsupportedLayerError
from ._emitter import Emitter, refuse
from ._graph import Layer, Op, quoted
from ._ir import Expr, F, Value, torch
from ._settings import shown

__all__ = ["ACTIVATIONS", "ConvertRule", "ConvertRuleSet", "Emit", "activation_expression", "activation_name",
           "apply_activation"]

Emit = Callable[[Op, list[Value], Emitter], list[Value]]


MaskRule = Callable[[Op, list[Value | None], list[Value], Emitter], list[Value | None]]


@dataclass(frozen=True)
class ConvertRule:
    """How one Keras class converts: ``emit`` adds its modules and steps, ``weights`` names its porter rule.

    ``masks``: ``emit`` applies the masks Keras passes to the call (``emitter.masks``); a rule
    without it is never given a mask (the layer is refused rather than the mask ignored).
    ``compute_mask``: the masks of the outputs, for files whose masks are implicit (tf.keras);
    without it a layer passes its first input's mask on when Keras's does (``supports_masking``).
    """

    keras_class: str
    emit: Emit
    layout: str = "any"
    weights: str | None = None
    doc: str = ""
    masks: bool = False
    compute_mask: MaskRule | None = None


class ConvertRuleSet:
    """Keras class → ``ConvertRule``, in two tiers: the built-in rules, and those added with ``extended``
    (plugins, ``--rules``). A custom layer (a class Keras does not define, recorded with its registered
    name) is looked up in the added rules first, a built-in layer in the built-in ones first: a plugin's
    own ``Attention`` never shadows Keras's. A second rule for a class within one tier is an error.
    """

    def __init__(self, rules: Iterable[ConvertRule] = (), added: Iterable[ConvertRule] = ()) -> None:
        self._rules: dict[str, ConvertRule] = {}
        self._added: dict[str, ConvertRule] = {}
        for rule in rules:
            self.add(rule)
        for rule in added:
            self._add(self._added, rule)

    def add(self, rule: ConvertRule) -> None:
        self._add(self._rules, rule)

    @staticmethod
    def _add(table: dict[str, ConvertRule], rule: ConvertRule) -> None:
        if rule.keras_class in table:
            raise UnsupportedLayerError(f"a conversion rule for Keras {rule.keras_class} already exists")
        table[rule.keras_class] = rule

    def extended(self, rules: Iterable[ConvertRule]) -> ConvertRuleSet:
        return ConvertRuleSet(self._rules.values(), [*self._added.values(), *rules])

    def get(self, keras_class: str, custom: bool = False) -> ConvertRule | None:
        first, second = (self._added, self._rules) if custom else (self._rules, self._added)
        return first.get(keras_class) or second.get(keras_class)

    def for_layer(self, layer: Layer) -> ConvertRule | None:
        return self.get(layer.class_name, layer.custom)

    def __iter__(self) -> Iterator[ConvertRule]:
        return iter([*self._rules.values(), *self._added.values()])


# --------------------------------------------------------------------------- activations

Activation = Callable[[Expr, int, Emitter], Expr]

ACTIVATIONS: dict[str, Activation] = {
    "relu": lambda x, axis, em: F.relu(x),
    "relu6": lambda x, axis, em: F.relu6(x),
    "sigmoid": lambda x, axis, em: torch.sigmoid(x),
    "tanh": lambda x, axis, em: torch.tanh(x),
    "softmax": lambda x, axis, em: F.softmax(x, dim=axis),
    "log_softmax": lambda x, axis, em: F.log_softmax(x, dim=axis),
    "swish": lambda x, axis, em: F.silu(x),
    "silu": lambda x, axis, em: F.silu(x),
    "gelu": lambda x, axis, em: F.gelu(x),
    "gelu_approximate": lambda x, axis, em: F.gelu(x, approximate="tanh"),
    "hard_sigmoid": lambda x, axis, em: F.hardsigmoid(x),
    "hard_sigmoid_keras2": lambda x, axis, em: em.runtime("keras2_hard_sigmoid")(x),
    "hard_swish": lambda x, axis, em: F.hardswish(x),
    "hard_silu": lambda x, axis, em: F.hardswish(x),
    "elu": lambda x, axis, em: F.elu(x),
    "selu": lambda x, axis, em: F.selu(x),
    "softplus": lambda x, axis, em: F.softplus(x),
    "softsign": lambda x, axis, em: F.softsign(x),
    "exponential": lambda x, axis, em: torch.exp(x),
    "leaky_relu": lambda x, axis, em: F.leaky_relu(x, 0.2),
    "mish": lambda x, axis, em: F.mish(x),
    "celu": lambda x, axis, em: F.celu(x),
    "glu": lambda x, axis, em: F.glu(x, dim=axis),
    "log_sigmoid": lambda x, axis, em: F.logsigmoid(x),
    "tanh_shrink": lambda x, axis, em: F.tanhshrink(x),
    "hard_tanh": lambda x, axis, em: F.hardtanh(x),
    "hard_shrink": lambda x, axis, em: F.hardshrink(x, 0.5),
    "soft_shrink": lambda x, axis, em: F.softshrink(x, 0.5),
    "sparse_plus": lambda x, axis, em: em.runtime("sparse_plus")(x),
    "sparse_sigmoid": lambda x, axis, em: em.runtime("sparse_sigmoid")(x),
    "squareplus": lambda x, axis, em: em.runtime("squareplus")(x),
    "sparsemax": lambda x, axis, em: em.runtime("sparsemax")(x, axis),
    "linear": lambda x, axis, em: x,
}
"""Keras activation name → the PyTorch expression of ``x`` (``axis``: the torch axis of Keras's last)."""


def activation_name(activation: Any, keras_major: int, layer: Layer, key: str = "activation") -> str:
    """The activation's table name; Keras 2's hard sigmoid was clip(0.2x + 0.5), Keras 3's relu6(x + 3) / 6."""
    raw = activation
    if isinstance(activation, Mapping):
        config = activation.get("config")
        activation = (config.get("name") if isinstance(config, Mapping) else config) or activation.get("class_name")
    if activation is None:
        activation = "linear"
    if not isinstance(activation, str):
        raise ConfigValueError(f"{layer.describe()}: config '{key}' is {shown(raw)}; Keras allows an activation name")
    name = activation.lower()
    if name == "hard_sigmoid" and keras_major < 3:
        return "hard_sigmoid_keras2"
    if name == "gelu" and isinstance(raw, Mapping) and isinstance(raw.get("config"), Mapping) and \
            raw["config"].get("approximate") is True:
        return "gelu_approximate"
    return name


def activation_expression(name: str, value: Value, layer: Layer, em: Emitter) -> Expr:
    if name not in ACTIVATIONS:
        raise refuse(layer, f"activation {quoted(name, 40)} has no PyTorch form here",
                     f"known: {', '.join(sorted(ACTIVATIONS))}")
    return ACTIVATIONS[name](value.ref, value.torch_axis(-1), em)


def apply_activation(em: Emitter, layer: Layer, value: Value, activation: Any, fused: bool = True) -> Value:
    """``value`` through a Keras activation; ``fused`` (the layer's own activation argument)
    rebinds the layer's variable, whose pre-activation value nothing else reads."""
    name = activation_name(activation, em.keras_major, layer)
    if name == "linear":
        return value
    return em.let(layer.name, activation_expression(name, value, layer, em), value, rebind=fused)
