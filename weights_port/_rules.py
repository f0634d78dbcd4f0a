"""Per-layer porting rules: Keras arrays ⇄ PyTorch state entries, one self-contained rule each.

A rule is data plus two pure functions over NumPy arrays. It is keyed by the Keras class
and the PyTorch module types it serves, reads only the layer's arrays, config and the
target's hints, and never touches files or frameworks. That keeps every rule testable on
its own and lets a future source generator drive the same table.

Shape checks run the very same functions on zero-strided placeholder arrays (no memory),
so there is one description of each layout change, not a second one for shapes.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ._errors import UnsupportedLayerError
from ._source import KerasLayer

__all__ = ["DEFAULT_RULES", "PortRule", "RuleContext", "RuleMismatch", "RuleSet", "TorchTarget"]

Arrays = Sequence[np.ndarray]
State = dict[str, np.ndarray]


class RuleMismatch(Exception):
    """Raised inside a rule when the arrays do not have the layout the rule handles."""


@dataclass(frozen=True)
class TorchTarget:
    """One PyTorch module that owns state, as the porter sees it.

    ``shapes`` maps the module's own state keys ("weight", "bias_ih_l0") to shapes;
    ``hints`` carries layout facts the arrays cannot tell (see ``keras_port_hints``);
    ``attributes`` holds the module settings a rule may check (bias presence, eps...).
    """

    path: str
    module_type: str
    shapes: Mapping[str, tuple[int, ...]]
    hints: Mapping[str, Any] = field(default_factory=dict)
    attributes: Mapping[str, Any] = field(default_factory=dict)

    def key(self, name: str) -> str:
        return f"{self.path}.{name}" if self.path else name

    def describe(self) -> str:
        return f"PyTorch module '{self.path or '<root>'}' ({self.module_type})"


@dataclass(frozen=True)
class RuleContext:
    layer: KerasLayer
    target: TorchTarget

    def config(self, key: str, default: Any = None) -> Any:
        return (self.layer.config or {}).get(key, default)


@dataclass(frozen=True)
class PortRule:
    """How one Keras layer class maps onto one family of PyTorch modules."""

    keras_class: str
    torch_types: tuple[str, ...]
    to_torch: Callable[[Arrays, RuleContext], State]
    to_keras: Callable[[Mapping[str, np.ndarray], RuleContext], list[np.ndarray]]
    doc: str = ""


class RuleSet:
    """Rules indexed by PyTorch module type; a second rule for the same pair is an error."""

    def __init__(self, rules: Iterable[PortRule] = ()) -> None:
        self._by_torch_type: dict[str, list[PortRule]] = {}
        for rule in rules:
            self.add(rule)

    def add(self, rule: PortRule) -> None:
        for torch_type in rule.torch_types:
            bucket = self._by_torch_type.setdefault(torch_type, [])
            if any(r.keras_class == rule.keras_class for r in bucket):
                raise UnsupportedLayerError(
                    f"a porting rule for Keras {rule.keras_class} → PyTorch {torch_type} already exists"
                )
            bucket.append(rule)

    def extended(self, rules: Iterable[PortRule]) -> RuleSet:
        merged = RuleSet(self)
        for rule in rules:
            merged.add(rule)
        return merged

    def for_torch_type(self, torch_type: str) -> list[PortRule]:
        return list(self._by_torch_type.get(torch_type, ()))

    def __iter__(self) -> Any:
        seen: set[int] = set()
        for bucket in self._by_torch_type.values():
            for rule in bucket:
                if id(rule) not in seen:
                    seen.add(id(rule))
                    yield rule


# --------------------------------------------------------------------------- helpers


def _split_kernel_bias(arrays: Arrays, ctx: RuleContext, kernel_ndim: int) -> tuple[np.ndarray, np.ndarray | None]:
    if len(arrays) not in (1, 2):
        raise RuleMismatch(f"expected a kernel and an optional bias, found {len(arrays)} arrays")
    kernel = arrays[0]
    if kernel.ndim != kernel_ndim:
        raise RuleMismatch(f"expected a {kernel_ndim}-D kernel, found shape {kernel.shape}")
    bias = arrays[1] if len(arrays) == 2 else None
    if bias is not None and bias.shape != (kernel.shape[-1],):
        raise RuleMismatch(f"bias shape {bias.shape} does not fit kernel shape {kernel.shape}")
    return kernel, bias


def _with_bias(weight: np.ndarray, bias: np.ndarray | None) -> State:
    return {"weight": weight} if bias is None else {"weight": weight, "bias": bias}


def flatten_rows_to_channels_first(rows: np.ndarray, flatten_from: Sequence[int] | None) -> np.ndarray:
    """Reorder the rows a channels-last Flatten produced into channels-first order.

    ``flatten_from`` is the flattened tensor's channels-first shape (C, *spatial). Keras
    flattened (*spatial, C); PyTorch flattens (C, *spatial). Works on axis 0.
    """
    if not flatten_from:
        return rows
    channels, *spatial = (int(n) for n in flatten_from)
    if rows.shape[0] != channels * int(np.prod(spatial, dtype=np.int64)):
        raise RuleMismatch(
            f"{rows.shape[0]} input rows cannot come from flattening a channels-last "
            f"{(*spatial, channels)} tensor (that gives {channels * int(np.prod(spatial))})"
        )
    tail = rows.shape[1:]
    unflat = rows.reshape(*spatial, channels, *tail)
    return np.moveaxis(unflat, len(spatial), 0).reshape(rows.shape)


def flatten_rows_to_channels_last(rows: np.ndarray, flatten_from: Sequence[int] | None) -> np.ndarray:
    """The inverse of ``flatten_rows_to_channels_first``."""
    if not flatten_from:
        return rows
    channels, *spatial = (int(n) for n in flatten_from)
    tail = rows.shape[1:]
    unflat = rows.reshape(channels, *spatial, *tail)
    return np.moveaxis(unflat, 0, len(spatial)).reshape(rows.shape)


# --------------------------------------------------------------------------- Dense


def _dense_to_torch(arrays: Arrays, ctx: RuleContext) -> State:
    kernel, bias = _split_kernel_bias(arrays, ctx, 2)
    kernel = flatten_rows_to_channels_first(kernel, ctx.target.hints.get("flatten_from"))
    return _with_bias(kernel.T, bias)


def _dense_to_keras(state: Mapping[str, np.ndarray], ctx: RuleContext) -> list[np.ndarray]:
    kernel = flatten_rows_to_channels_last(state["weight"].T, ctx.target.hints.get("flatten_from"))
    return [kernel] + ([state["bias"]] if "bias" in state else [])


# --------------------------------------------------------------------------- Conv


def _conv_rule(keras_class: str, torch_type: str, spatial: int) -> PortRule:
    """Keras kernels are (*k, in, out); PyTorch's are (out, in, *k), for 1, 2 or 3 spatial axes."""
    to_torch_axes = (spatial + 1, spatial, *range(spatial))
    to_keras_axes = (*range(2, spatial + 2), 1, 0)

    def to_torch(arrays: Arrays, ctx: RuleContext) -> State:
        kernel, bias = _split_kernel_bias(arrays, ctx, spatial + 2)
        return _with_bias(kernel.transpose(to_torch_axes), bias)

    def to_keras(state: Mapping[str, np.ndarray], ctx: RuleContext) -> list[np.ndarray]:
        return [state["weight"].transpose(to_keras_axes)] + ([state["bias"]] if "bias" in state else [])

    return PortRule(keras_class, (torch_type,), to_torch, to_keras, doc=f"kernel {to_torch_axes} transpose")


DEFAULT_RULES = RuleSet(
    [
        PortRule("Dense", ("Linear",), _dense_to_torch, _dense_to_keras,
                 doc="kernel transposed; rows reordered when fed by a channels-last Flatten"),
        _conv_rule("Conv1D", "Conv1d", 1),
        _conv_rule("Conv2D", "Conv2d", 2),
        _conv_rule("Conv3D", "Conv3d", 3),
    ]
)
