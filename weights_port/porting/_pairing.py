"""Matching Keras layers to PyTorch modules by structure, then converting their arrays.

Layer names never decide anything: a file saved by any Keras code that builds the same
architecture has other names. A PyTorch module is paired with the next unused Keras layer
of a compatible class whose converted shapes fit, in the order the file records. Every
pairing is checked before any array is read, so a bad file fails before anything loads.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from .._errors import LayoutMismatchError, UnsupportedLayerError, WeightValueError
from ..readers import KerasLayer, KerasSource
from ._catalog import DEFAULT_RULES
from ._rules import PortRule, RuleContext, RuleMismatch, RuleSet, TorchTarget

__all__ = ["HINTS_ATTRIBUTE", "Pairing", "checked_array", "convert_pairs", "pair_layers", "torch_targets"]

HINTS_ATTRIBUTE = "keras_port_hints"
"""A model attribute mapping module paths to layout hints, e.g. ``{"fc": {"flatten_from": (64, 4, 4)}}``."""

_SKIPPED_BUFFERS = {"num_batches_tracked"}
_MODULE_ATTRIBUTES = ("eps", "momentum", "affine", "bidirectional", "num_layers", "hidden_size", "in_channels",
                      "padding_idx", "groups", "stride", "padding", "elementwise_affine")


@dataclass(frozen=True)
class Pairing:
    layer: KerasLayer
    target: TorchTarget
    rule: PortRule
    keras_version: str | None = None

    @property
    def context(self) -> RuleContext:
        return RuleContext(self.layer, self.target, self.keras_version)


def torch_targets(model: Any, rules: RuleSet = DEFAULT_RULES) -> list[TorchTarget]:
    """Every module of ``model`` that a rule fills, in registration order.

    A module whose type has a rule is one target with all the state below it (a
    ``SeparableConv2d`` holds a depthwise and a pointwise conv); its children are not
    visited again. A module with state that no rule handles is an error.
    """
    hints: Mapping[str, Mapping[str, Any]] = getattr(model, HINTS_ATTRIBUTE, None) or {}
    targets: list[TorchTarget] = []
    claimed: list[str] = []
    for path, module in model.named_modules():
        if any(path.startswith(prefix) for prefix in claimed):
            continue
        module_type = type(module).__name__
        has_rule = bool(rules.for_torch_type(module_type))
        own = {name: tuple(p.shape) for name, p in module.named_parameters(recurse=has_rule)}
        own.update({name: tuple(b.shape) for name, b in module.named_buffers(recurse=has_rule)
                    if name.rsplit(".", 1)[-1] not in _SKIPPED_BUFFERS})
        if not own:
            continue
        if not has_rule:
            raise UnsupportedLayerError(
                f"PyTorch module '{path}' is a {module_type}, which no porting rule handles; "
                "a plugin can add one through the zoo_port_rules hook"
            )
        claimed.append(f"{path}." if path else "")
        attributes = {name: getattr(module, name) for name in _MODULE_ATTRIBUTES if hasattr(module, name)}
        attributes["has_bias"] = getattr(module, "bias", None) is not None
        targets.append(TorchTarget(path, module_type, own, dict(hints.get(path, {})), attributes))
    return targets


def pair_layers(source: KerasSource, targets: Sequence[TorchTarget], rules: RuleSet = DEFAULT_RULES) -> list[Pairing]:
    """Pair every target with one Keras layer; raise naming the first misfit if impossible."""
    try:
        return _pair(source, targets, rules, in_order=True)
    except LayoutMismatchError as in_order_error:
        try:  # a format without a recorded order, or a topological order unlike ours
            return _pair(source, targets, rules, in_order=False)
        except LayoutMismatchError:
            raise in_order_error from None


def _pair(source: KerasSource, targets: Sequence[TorchTarget], rules: RuleSet, in_order: bool) -> list[Pairing]:
    layers, version = source.layers, source.keras_version
    unused = list(layers)
    pairs = []
    for target in targets:
        candidates = [(layer, rule) for layer in unused for rule in rules.for_torch_type(target.module_type)
                      if layer.class_name in (None, rule.keras_class)]
        if not candidates:
            wanted = " / ".join(r.keras_class for r in rules.for_torch_type(target.module_type))
            raise LayoutMismatchError(
                f"the file has no {wanted} layer left for {target.describe()}; "
                f"it was saved from a different architecture or config ({_summary(unused)} unmatched)"
            )
        if in_order:  # the next compatible layer must fit
            first_layer = candidates[0][0]
            candidates = [(layer, rule) for layer, rule in candidates if layer is first_layer]
        problems = []
        for layer, rule in candidates:
            problem = shape_problem(layer, target, rule, version)
            if problem is None:
                pairs.append(Pairing(layer, target, rule, version))
                unused.remove(layer)
                break
            problems.append(problem)
        else:
            raise LayoutMismatchError(problems[0])
    unknown = [layer for layer in unused if layer.class_name and not rules.knows_keras_class(layer.class_name)]
    if unknown:
        layer = unknown[0]
        raise UnsupportedLayerError(
            f"Keras layer '{layer.name}' is a {layer.class_name}, which no porting rule handles (and the model has "
            "no module for it); a plugin can add a rule through the zoo_port_rules hook"
        )
    if unused:
        raise LayoutMismatchError(
            f"the file has {len(unused)} layer(s) with weights that the model does not: {_summary(unused)}; "
            "check the architecture name and config"
        )
    return pairs


def shape_problem(layer: KerasLayer, target: TorchTarget, rule: PortRule, keras_version: str | None = None) -> str | None:
    """Why ``layer`` cannot fill ``target`` (naming both sides and shapes), or None if it fits."""
    placeholders = [np.broadcast_to(np.zeros((), np.float32), shape) for shape in layer.shapes]
    try:
        converted = rule.to_torch(placeholders, RuleContext(layer, target, keras_version))
    except RuleMismatch as exc:
        return f"{layer.describe()} does not fit {target.describe()}: {exc}"
    keras_shapes = ", ".join(f"{w.key} {w.shape}" for w in layer.weights)
    missing = sorted(set(target.shapes) - set(converted))
    extra = sorted(set(converted) - set(target.shapes))
    if missing or extra:
        return (f"{layer.describe()} [{keras_shapes}] does not fit {target.describe()}: "
                f"the module expects {sorted(target.shapes)}, the layer gives {sorted(converted)}")
    for name, expected in target.shapes.items():
        got = tuple(converted[name].shape)
        if got != tuple(expected):
            return (f"{layer.describe()} [{keras_shapes}] does not fit PyTorch parameter "
                    f"'{target.key(name)}': the Keras weights give shape {got}, the model expects {tuple(expected)}")
    return None


def module_settings(pairs: Sequence[Pairing]) -> dict[str, dict[str, Any]]:
    """Per module path, the settings the Keras layers demand (see ``PortRule.module_settings``)."""
    settings = {}
    for pair in pairs:
        wanted = pair.rule.module_settings(pair.context) if pair.rule.module_settings else {}
        if wanted:
            settings[pair.target.path] = wanted
    return settings


def convert_pairs(pairs: Sequence[Pairing], dtype: Callable[[str], Any],
                  contiguous: Callable[[np.ndarray, Any], np.ndarray] = np.ascontiguousarray,
                  ) -> Iterator[tuple[str, np.ndarray]]:
    """Read, check and convert each paired layer; yields (state key, contiguous array).

    ``dtype(key)`` gives the NumPy dtype the model holds for that key; ``contiguous``
    materialises a (transposed) view in that dtype, once per array.
    """
    for pair in pairs:
        arrays = [checked_array(pair.layer, w.key, w.read()) for w in pair.layer.weights]
        for name, array in pair.rule.to_torch(arrays, pair.context).items():
            key = pair.target.key(name)
            yield key, contiguous(array, dtype(key))


def checked_array(layer: KerasLayer, key: str, array: np.ndarray) -> np.ndarray:
    """``array`` if it is a finite floating-point weight, else a WeightValueError naming the layer."""
    if array.dtype.kind not in "f" and array.dtype.name != "bfloat16":
        raise WeightValueError(f"{layer.describe()}: weight '{key}' has dtype {array.dtype}, expected floating point "
                               "(float16, bfloat16, float32 or float64); re-save the model with float weights")
    if not np.isfinite(array.astype(np.float32, copy=False) if array.dtype.kind != "f" else array).all():
        bad = int(np.size(array) - np.count_nonzero(np.isfinite(array.astype(np.float64))))
        raise WeightValueError(
            f"{layer.describe()}: weight '{key}' holds {bad} non-finite value(s) (NaN or inf); "
            "the saved model is broken, re-save it from a healthy training run"
        )
    return array


def _summary(layers: Sequence[KerasLayer], limit: int = 6) -> str:
    shown = [f"'{layer.name}' ({layer.class_name or '?'} {layer.shapes})" for layer in layers[:limit]]
    more = f" and {len(layers) - limit} more" if len(layers) > limit else ""
    return (", ".join(shown) + more) if shown else "none"
