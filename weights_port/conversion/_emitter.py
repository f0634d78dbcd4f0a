"""What a conversion rule talks to: it asks the ``Emitter`` for modules, weights and ``forward`` steps.

The converter walks the Keras graph once; each layer's rule adds ``ModuleSpec``s and
``Step``s (typed, see ``_ir``) through an ``Emitter``, and reads and ports the layer's
arrays through it. Names come from two ``NameTable``s (module attributes, locals), so a
rule never spells a name, and rules change a tensor's layout only through ``to_layout``,
so every transpose in a generated ``forward`` is one a layer's Keras semantics asks for.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

import numpy as np

from .._errors import UnsupportedLayerError
from ._graph import Layer
from ._ir import Attr, Expr, Global, Helper, ModuleSpec, Name, Step, TupleTarget, Value, lift, vocabulary_error
from ._names import NameTable, is_safe_identifier
from ._vocabulary import RUNTIME_HELPERS

__all__ = ["Emitter", "refuse"]


class Emitter:
    """Collects modules, state entries, ``forward`` steps and helpers while the graph is walked."""

    def __init__(self, arrays: Callable[[Layer], list[np.ndarray]], port: Callable[..., dict[str, np.ndarray]],
                 keras_major: int, rules: Any,
                 named_arrays: Callable[[Layer], dict[str, np.ndarray]] | None = None) -> None:
        self._arrays, self._port, self._named = arrays, port, named_arrays
        self.keras_major = keras_major
        self.rules = rules
        """The conversion table in use (wrappers such as TimeDistributed look their inner layer up in it)."""
        self.attributes = NameTable()
        self.locals = NameTable()
        for table in (self.attributes, self.locals):
            table.reserve(*RUNTIME_HELPERS)
        self.modules: list[ModuleSpec] = []
        self.steps: list[Step] = []
        self.state: dict[str, np.ndarray] = {}
        self.helpers: list[Helper] = []
        self.layer_map: dict[str, list[str]] = {}
        self.origins: dict[int, tuple[np.ndarray, tuple[str, ...]]] = {}
        """Arrays the porter's rules made, by id (the array kept, so the id stays its own): the file's weights
        each one holds."""
        self._state_origins: dict[str, dict[str, Any]] = {}
        self._attrs: dict[tuple[str, str], str] = {}
        self._layer: str = ""
        self.nested_call: tuple[int, str] | None = None
        """The nested-model call the current op belongs to (the converter sets it per op)."""
        self.masks: list[Value | None] = []
        """The masks Keras passes to the current call, one per data input (None where there is none)."""
        self.call_args: list[Any] = []
        self.call_kwargs: dict[str, Any] = {}
        self.implicit_masks: dict[str, Value | None] = {}
        """The masks the current call's inputs carry (by their local), for layers that read them off their
        inputs (MultiHeadAttention's query, value and key masks)."""
        self.float_type = Global(("torch", "float32"))
        """The generated module's float type (``torch.float64`` for a float64 conversion)."""

    def begin(self, layer: Layer, masks: list[Value | None] | None = None, args: list[Any] | None = None,
              kwargs: dict[str, Any] | None = None) -> None:
        """Steps and modules from here on compute ``layer`` (for the manifest and the names of its parts);
        ``args``/``kwargs`` are the call's arguments with tensors as Values (rules that read them by name)."""
        self._layer = layer.name
        self.masks = list(masks or [])
        self.call_args, self.call_kwargs = list(args or []), dict(kwargs or {})

    def mask(self, index: int = 0) -> Value | None:
        """The mask of data input ``index`` for the current call, if Keras passes one."""
        return self.masks[index] if index < len(self.masks) else None

    # ------------------------------------------------------------------ names

    def fresh(self, hint: str) -> str:
        """A new local of ``forward`` named after ``hint`` (any text; the table makes it safe and unique)."""
        return self.locals.allocate(hint)

    # ------------------------------------------------------------------ modules and weights

    def module(self, layer: Layer, constructor: Global, *args: Any, state: Mapping[str, np.ndarray] | None = None,
               suffix: str = "", **kwargs: Any) -> Attr:
        """``self.<attr> = constructor(*args, **kwargs)``; a shared layer's second call gets the same module.

        ``args``/``kwargs`` are constants (numbers, strings, tuples): a module is built from its
        settings, its weights come from ``state``.
        """
        key = (layer.name, suffix)
        if key in self._attrs:
            return Attr(Name("self"), self._attrs[key])
        attr = self.attributes.allocate(layer.name + (f"_{suffix}" if suffix else ""))
        self._attrs[key] = attr
        spec = ModuleSpec(attr, constructor, tuple(lift(a) for a in args),
                          tuple((k, lift(v)) for k, v in kwargs.items()), layer.name,
                          self.nested_call[1] if self.nested_call else "")
        self.modules.append(spec)
        weights: list[_Weight] | None = None  # the layer's file weights, read once, where a rule made a tensor
        for name, array in (state or {}).items():
            self.state[f"{attr}.{name}"] = array
            origin = self.origins.get(id(array))
            if origin and origin[0] is array:
                held: list[str] | None = list(origin[1])
            else:
                if weights is None:
                    weights = [_Weight(key, np.asarray(w)) for key, w in (self._named(layer) if self._named else {}).items()]
                held = _holding(weights, array)
            self._state_origins[f"{attr}.{name}"] = {"keras_layer": layer.name, "keras_weights": held}
        self.layer_map.setdefault(layer.name, []).append(attr)
        return spec.call

    def state_origin(self, key: str) -> dict[str, Any]:
        """The manifest's entry for state key ``key``: its Keras layer and, where a porter's rule made the tensor,
        the file's weights it holds (None where a conversion rule computed it from them)."""
        return self._state_origins.get(key, {"keras_layer": None, "keras_weights": None})

    def arrays(self, layer: Layer) -> list[np.ndarray]:
        return self._arrays(layer)

    def named_arrays(self, layer: Layer) -> dict[str, np.ndarray]:
        """The layer's arrays by their path in the file, for layers with several sub-layers (attention)."""
        return self._named(layer) if self._named is not None else {}

    def port(self, layer: Layer, torch_type: str, keys: Iterable[str], **target: Any) -> dict[str, np.ndarray]:
        """The porter's own rule for (Keras class, PyTorch type): the same layout change a port makes."""
        return self._port(layer, torch_type, tuple(keys), **target)

    def constant(self, layer: Layer, array: np.ndarray) -> Value:
        """A tensor the config holds as a value: a ``Constant`` module's buffer, read once where it is used."""
        integer = array.dtype.kind in "iub"
        dtype = Global(("torch", "int64" if array.dtype.kind in "iu" else "bool")) if integer else None
        module = self.module(layer, self.runtime("Constant"), tuple(int(d) for d in array.shape),
                             **({"dtype": dtype} if dtype is not None else {}), suffix=f"constant_{len(self.modules)}",
                             state={"value": array.astype(np.int64) if array.dtype.kind in "iu" else array})
        like = Value("constant", tuple(int(d) for d in array.shape), integer=integer)
        return self.let(layer.name + "_constant", module(), like)

    def runtime(self, name: str) -> Global:
        """A helper of ``weights_port.torch_modules`` by name, copied into the generated file."""
        if name not in RUNTIME_HELPERS:
            raise vocabulary_error(f"{name!r} is not a runtime helper")
        if all(h.name != name for h in self.helpers):
            self.helpers.append(Helper(name, None))
        return Global((name,))

    def helper(self, obj: Any) -> Global:
        """A function or class whose source is copied into the generated file; returns its name there."""
        name = getattr(obj, "__name__", "")
        if not (inspect.isfunction(obj) or inspect.isclass(obj)) or not is_safe_identifier(name):
            raise vocabulary_error(f"helper {obj!r} is not a named function or class")
        if all(h.name != name for h in self.helpers):
            if name in self.locals.origins or name in self.attributes.origins:
                raise vocabulary_error(f"helper name {name!r} is already a generated name")
            self.locals.reserve(name)
            self.attributes.reserve(name)
            self.helpers.append(Helper(name, obj))
        return Global((name,))

    # ------------------------------------------------------------------ forward

    def let(self, hint: str, expr: Any, like: Value, rebind: bool = False, **changes: Any) -> Value:
        """``name = expr`` in forward; the new value is ``like`` with ``changes``.

        ``rebind`` reuses ``like``'s name, for a step inside one layer (its fused activation)
        whose intermediate value nothing else reads.
        """
        name = like.name if rebind else self.fresh(hint)
        self.steps.append(Step(Name(name), lift(expr), self._layer, self.nested_call))
        return like.with_(name=name, **changes)

    def unpack(self, expr: Expr, hints: Sequence[Any]) -> list[Any]:
        """``a, (b, c) = expr``: one fresh name per hint, nested like ``hints``; returns the names so."""

        def target(item: Any) -> tuple[Name | TupleTarget, Any]:
            if isinstance(item, str):
                name = self.fresh(item)
                return Name(name), name
            parts = [target(i) for i in item]
            return TupleTarget(tuple(p[0] for p in parts)), [p[1] for p in parts]

        node, names = target(list(hints))
        self.steps.append(Step(node, expr, self._layer, self.nested_call))
        return names

    def to_layout(self, value: Value, layout: str) -> Value:
        """The same tensor in ``layout``: a transpose in forward only when the layouts really differ."""
        if value.layout == layout:
            return value
        if value.layout == "flat_cf":
            channels, *spatial = value.flat_from or ()
            value = self.let(value.name + "_unflat", value.ref.m("reshape", -1, channels, *spatial), value,
                             layout="cf", shape=(value.shape[0], *spatial, channels), flat_from=None)
            return self.let(value.name + "_flat", value.ref.m("movedim", 1, -1).m("flatten", 1), value,
                            layout="keras", shape=(value.shape[0], int(np.prod([channels, *spatial]))))
        if value.rank < 3:
            return value.with_(layout=layout)
        if layout == "keras":
            return self.let(value.name + "_nhwc", value.ref.m("movedim", 1, -1), value, layout="keras")
        return self.let(value.name + "_nchw", value.ref.m("movedim", -1, 1), value, layout="cf")

    def align(self, values: Sequence[Value]) -> list[Value]:
        """Operands of an element-wise op in one layout: channels-first when any is, but for sequences (rank 3)
        of both layouts Keras's (N, steps, features), which attention, LayerNorm and Dense take: a transformer's
        residual stream then keeps one layout through every layer, a Conv1D feed-forward transposing in and out,
        and its layers are one class."""
        ranked = [v for v in values if v.rank >= 3]
        if any(v.layout == "flat_cf" for v in values) or not ranked:
            return [self.to_layout(v, "keras") if v.layout == "flat_cf" else v for v in values]
        layouts = {v.layout for v in ranked}
        sequences = all(v.rank == 3 for v in ranked) and len(layouts) > 1
        target = "cf" if "cf" in layouts and not sequences else "keras"
        return [self.to_layout(v, target) if v.rank >= 3 else v for v in values]


def refuse(layer: Layer, why: str, fix: str = "") -> UnsupportedLayerError:
    return UnsupportedLayerError(f"{layer.describe()}: {why}" + (f"; {fix}" if fix else ""))


_SORTED_AT_MOST = 1 << 20
"""Larger tensors are matched by their extremes and sum alone (sorting a 16M-value projection per candidate
would cost seconds per layer)."""


class _Weight:
    """A file weight and its fingerprint under any rearrangement (size, extremes, sum), computed once."""

    def __init__(self, key: str, values: np.ndarray) -> None:
        self.key, self.values = key, values
        numeric = values.size > 0 and values.dtype.kind in "fiu"
        self.fingerprint = (values.size, values.min(), values.max(), float(values.sum(dtype=np.float64))) \
            if numeric else None

    def held_by(self, other: _Weight) -> bool:
        """Whether ``other`` holds these values, rearranged; the multiset itself is compared below 1M values."""
        if self.fingerprint is None or other.fingerprint is None or self.fingerprint[:3] != other.fingerprint[:3] or \
                not np.isclose(self.fingerprint[3], other.fingerprint[3], rtol=1e-6, atol=1e-9 * self.values.size):
            return False
        return self.values.size > _SORTED_AT_MOST or \
            np.array_equal(np.sort(self.values, axis=None), np.sort(other.values, axis=None))


def _holding(weights: list[_Weight], array: np.ndarray) -> list[str] | None:
    """The one file weight whose values ``array`` holds, rearranged (a rule that reshapes or transposes a kernel
    itself: attention projections, normalisation scales); None where none or several do. Extremes are exact under
    any rearrangement and the sum nearly so."""
    made = _Weight("", np.asarray(array))
    found = [weight.key for weight in weights if weight.held_by(made)]
    return found if len(found) == 1 else None
