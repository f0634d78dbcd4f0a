"""Writing the generated PyTorch module: values with their layout, modules, forward lines.

The converter walks the Keras graph once; each layer's rule asks an ``Emitter`` for the
modules it needs, the weights it ports and the lines of ``forward`` it writes. A ``Value``
is a tensor of the generated ``forward``: its Keras shape, and how PyTorch holds it:

* ``keras``: the same axes as Keras (vectors, sequences (N, T, F) batch-first);
* ``cf``: a Keras channels-last tensor held channels-first ((N, H, W, C) → (N, C, H, W));
* ``flat_cf``: a vector flattened from a ``cf`` tensor, its features in channels-first order
  (a Dense reading it gets its kernel rows permuted once, at conversion).

Rules convert between layouts only through ``Emitter.to_layout``, so every transpose in a
generated ``forward`` is one a layer's Keras semantics asks for.
"""

from __future__ import annotations

import keyword
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from ._errors import UnsupportedLayerError
from ._graph import Layer

__all__ = ["Emitter", "Value", "fmt", "identifier"]

Shape = tuple[int | None, ...]


@dataclass(frozen=True)
class Value:
    """A tensor of the generated forward: the expression naming it, its Keras shape, its layout."""

    name: str
    shape: Shape
    layout: str = "keras"
    flat_from: tuple[int, ...] | None = None
    integer: bool = False

    @property
    def rank(self) -> int:
        return len(self.shape)

    @property
    def channels_first(self) -> bool:
        return self.layout == "cf" and self.rank >= 3

    def torch_axis(self, keras_axis: int) -> int:
        """Where PyTorch holds Keras axis ``keras_axis`` of this tensor."""
        axis = keras_axis % self.rank
        if not self.channels_first or axis == 0:
            return axis
        return 1 if axis == self.rank - 1 else axis + 1

    @property
    def torch_shape(self) -> Shape:
        if self.channels_first:
            return (self.shape[0], self.shape[-1], *self.shape[1:-1])
        return self.shape

    @property
    def permutation(self) -> tuple[int, ...]:
        """Axes such that ``torch_array = keras_array.transpose(permutation)``."""
        if self.channels_first:
            return (0, self.rank - 1, *range(1, self.rank - 1))
        return tuple(range(self.rank))


def identifier(name: str) -> str:
    """A Keras layer name as a Python identifier ("conv1/conv" → "conv1_conv")."""
    text = re.sub(r"\W+", "_", name).strip("_").lower() or "layer"
    if text[0].isdigit():
        text = f"layer_{text}"
    return f"{text}_" if keyword.iskeyword(text) else text


def fmt(value: Any) -> str:
    """A Python literal for generated code: floats round-trip exactly, tuples of equal ints collapse."""
    if isinstance(value, bool) or value is None:
        return repr(value)
    if isinstance(value, float | np.floating):
        return repr(float(value))  # repr round-trips: the generated constant is the Keras one
    if isinstance(value, int | np.integer):
        return str(int(value))
    if isinstance(value, tuple | list):
        items = [fmt(v) for v in value]
        if len(items) > 1 and len(set(items)) == 1 and all(isinstance(v, int | np.integer) for v in value):
            return items[0]
        return f"({', '.join(items)}{',' if len(items) == 1 else ''})"
    return repr(value)


class Emitter:
    """Collects modules, state entries, forward lines and helpers while the graph is walked."""

    def __init__(self, arrays: Callable[[Layer], list[np.ndarray]], port: Callable[..., dict[str, np.ndarray]],
                 keras_major: int) -> None:
        self._arrays, self._port = arrays, port
        self.keras_major = keras_major
        self.init_lines: list[str] = []
        self.forward_lines: list[str] = []
        self.state: dict[str, np.ndarray] = {}
        self.helpers: list[str] = []
        self.layer_map: dict[str, list[str]] = {}
        self._taken: set[str] = {"self", "torch", "nn", "F", "x", "input", "super"}
        self._attr_names: set[str] = {"forward", "training"}
        self._attrs: dict[tuple[str, str], str] = {}

    # ------------------------------------------------------------------ names

    def fresh(self, hint: str, taken: set[str] | None = None) -> str:
        """A new name from ``hint``: locals and module attributes are separate namespaces."""
        taken = self._taken if taken is None else taken
        base = identifier(hint)
        name, count = base, 1
        while name in taken:
            name, count = f"{base}_{count}", count + 1
        taken.add(name)
        return name

    # ------------------------------------------------------------------ modules and weights

    def module(self, layer: Layer, constructor: str, state: dict[str, np.ndarray] | None = None,
               suffix: str = "") -> str:
        """``self.<attr>`` built by ``constructor``; a shared layer's second call gets the same module."""
        key = (layer.name, suffix)
        if key in self._attrs:
            return f"self.{self._attrs[key]}"
        attr = self.fresh(layer.name + (f"_{suffix}" if suffix else ""), self._attr_names)
        self._attrs[key] = attr
        self.init_lines.append(f"self.{attr} = {constructor}")
        for name, array in (state or {}).items():
            self.state[f"{attr}.{name}"] = array
        self.layer_map.setdefault(layer.name, []).append(attr)
        return f"self.{attr}"

    def arrays(self, layer: Layer) -> list[np.ndarray]:
        return self._arrays(layer)

    def port(self, layer: Layer, torch_type: str, shapes: Iterable[str], **target: Any) -> dict[str, np.ndarray]:
        """The porter's own rule for (Keras class, PyTorch type): the same layout change a port makes."""
        return self._port(layer, torch_type, tuple(shapes), **target)

    def helper(self, source: str) -> None:
        if source not in self.helpers:
            self.helpers.append(source)

    # ------------------------------------------------------------------ forward

    def let(self, hint: str, expression: str, like: Value, rebind: bool = False, comment: str = "",
            **changes: Any) -> Value:
        """``name = expression`` in forward; the new value is ``like`` with ``changes``.

        ``rebind`` reuses ``like``'s name, for a step inside one layer (its fused activation)
        whose intermediate value nothing else reads.
        """
        name = like.name if rebind else self.fresh(hint)
        self.forward_lines.append(f"{name} = {expression}" + (f"  # {comment}" if comment else ""))
        return replace(like, name=name, **changes)

    def to_layout(self, value: Value, layout: str) -> Value:
        """The same tensor in ``layout``: a transpose in forward only when the layouts really differ."""
        if value.layout == layout:
            return value
        if value.layout == "flat_cf":
            channels, *spatial = value.flat_from or ()
            unflat = f"{value.name}.reshape(-1, {channels}, {', '.join(map(str, spatial))})"
            value = self.let(value.name + "_unflat", unflat, value, layout="cf",
                             shape=(value.shape[0], *spatial, channels), flat_from=None)
            flat = f"{value.name}.movedim(1, -1).flatten(1)"
            return self.let(value.name + "_flat", flat, value, layout="keras",
                            shape=(value.shape[0], int(np.prod([channels, *spatial]))))
        if value.rank < 3:
            return replace(value, layout=layout)
        if layout == "keras":
            return self.let(value.name + "_nhwc", f"{value.name}.movedim(1, -1)", value, layout="keras")
        return self.let(value.name + "_nchw", f"{value.name}.movedim(-1, 1)", value, layout="cf")

    def align(self, values: Sequence[Value]) -> list[Value]:
        """Operands of an element-wise op in one layout (channels-first when any is)."""
        ranked = [v for v in values if v.rank >= 3]
        if any(v.layout == "flat_cf" for v in values) or not ranked:
            return [self.to_layout(v, "keras") if v.layout == "flat_cf" else v for v in values]
        target = "cf" if any(v.layout == "cf" for v in ranked) else "keras"
        return [self.to_layout(v, target) if v.rank >= 3 else v for v in values]


def refuse(layer: Layer, why: str, fix: str = "") -> UnsupportedLayerError:
    return UnsupportedLayerError(f"{layer.describe()}: {why}" + (f"; {fix}" if fix else ""))
