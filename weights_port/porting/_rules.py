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

from .._errors import UnsupportedLayerError
from ..readers import KerasLayer

__all__ = [
    "Arrays",
    "PortRule",
    "RuleContext",
    "RuleMismatch",
    "RuleSet",
    "State",
    "TorchTarget",
    "flatten_rows_to_channels_first",
    "flatten_rows_to_channels_last",
    "split_kernel_bias",
    "with_bias",
]

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
    """What a rule may look at besides the arrays: the Keras layer, the target, the Keras version."""

    layer: KerasLayer
    target: TorchTarget
    keras_version: str | None = None

    def config(self, key: str, default: Any = None) -> Any:
        return (self.layer.config or {}).get(key, default)

    @property
    def keras_major(self) -> int:
        """2 for files written by Keras 2 / tf.keras, else 3."""
        head = (self.keras_version or "3").split(".")[0]
        return int(head) if head.isdigit() else 3


@dataclass(frozen=True)
class PortRule:
    """How one Keras layer class maps onto one family of PyTorch modules."""

    keras_class: str
    torch_types: tuple[str, ...]
    to_torch: Callable[[Arrays, RuleContext], State]
    to_keras: Callable[[Mapping[str, np.ndarray], RuleContext], list[np.ndarray]]
    doc: str = ""
    module_settings: Callable[[RuleContext], dict[str, Any]] | None = None
    """Settings the PyTorch module must have to compute what the Keras layer computes
    (BatchNorm eps, a legacy gate activation); the porter applies or checks them."""


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

    def knows_keras_class(self, keras_class: str) -> bool:
        return any(rule.keras_class == keras_class for rule in self)

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


def split_kernel_bias(arrays: Arrays, ctx: RuleContext, kernel_ndim: int,
                      outputs: int | None = None) -> tuple[np.ndarray, np.ndarray | None]:
    """[kernel, bias?] with the kernel's rank and the bias's length (``outputs``, default the last axis) checked."""
    if len(arrays) not in (1, 2):
        raise RuleMismatch(f"expected a kernel and an optional bias, found {len(arrays)} arrays")
    kernel = arrays[0]
    if kernel.ndim != kernel_ndim:
        raise RuleMismatch(f"expected a {kernel_ndim}-D kernel, found shape {kernel.shape}")
    bias = arrays[1] if len(arrays) == 2 else None
    if bias is not None and bias.shape != (outputs or kernel.shape[-1],):
        raise RuleMismatch(f"bias shape {bias.shape} does not fit kernel shape {kernel.shape}")
    return kernel, bias


def with_bias(weight: np.ndarray, bias: np.ndarray | None) -> State:
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
