"""A layer's config values, each checked against Keras's own rules before a rule uses it.

A config is data from a file: ``strides`` may be ``[0, "x"]``, ``epsilon`` NaN, a pool
size 10⁹. ``Settings`` hands a rule only values Keras itself would accept (the same
closed sets, signs and ranges Keras's constructors and ``standardize_*`` helpers check),
and otherwise raises ``ConfigValueError`` naming the layer, the key, the value and what
is allowed, in one line.
"""

from __future__ import annotations

import functools
import importlib.resources
import json
import math
import re
from collections.abc import Collection, Mapping, Sequence
from typing import Any

from .._errors import ConfigValueError
from ._graph import Layer

__all__ = ["MAX_DIMENSION", "MAX_ELEMENTS", "Settings", "check_layer_config", "keras_catalog", "model_named_by_keras",
           "named_by_keras", "shown"]

MAX_DIMENSION = 2**20
"""Largest size, count or repeat a config may ask for (the converter never allocates from it, but sizes derive)."""

MAX_ELEMENTS = 2**31
"""Largest number of elements per sample a declared shape may have."""

MAX_SHOWN = 60


def shown(value: Any) -> str:
    """A config value in a message: its repr, bounded."""
    text = repr(value)
    return text if len(text) <= MAX_SHOWN else text[:MAX_SHOWN - 3] + "..."


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


class Settings:
    """Typed, validated access to one layer's config."""

    def __init__(self, layer: Layer) -> None:
        self.layer = layer
        self.config = layer.config

    def error(self, key: str, value: Any, allowed: str) -> ConfigValueError:
        return ConfigValueError(f"{self.layer.describe()}: config '{key}' is {shown(value)}; Keras allows {allowed}")

    def raw(self, key: str, default: Any = None, nullable: bool = False) -> Any:
        """The value, or ``default`` when the key is absent (or null where Keras reads null as the default)."""
        if key not in self.config:
            return default
        value = self.config[key]
        if value is None and (nullable or default is None):
            return default
        return value

    def has(self, key: str) -> bool:
        return self.config.get(key) is not None

    def null_is_refused(self, key: str, what: str) -> None:
        """Keras reads ``key: null`` as an error (a missing key takes the default): refuse it likewise."""
        if key in self.config and self.config[key] is None:
            raise self.error(key, None, what)

    # ------------------------------------------------------------------ scalars

    def flag(self, key: str, default: bool = False) -> bool:
        value = self.raw(key, default)
        if not isinstance(value, bool):
            raise self.error(key, value, "true or false")
        return value

    def choice(self, key: str, allowed: Collection[str], default: str, nullable: bool = False) -> str:
        value = self.raw(key, default, nullable)
        text = value.lower() if isinstance(value, str) else value
        if text not in allowed:
            raise self.error(key, value, "one of " + ", ".join(repr(a) for a in sorted(allowed)))
        return str(text)

    def optional_choice(self, key: str, allowed: Collection[str]) -> str | None:
        return self.choice(key, allowed, "") if self.has(key) else None

    def integer(self, key: str, default: int | None = None, minimum: int | None = None,
                maximum: int = MAX_DIMENSION) -> int:
        value = self.raw(key, default)
        if not _is_int(value) or (minimum is not None and value < minimum) or value > maximum:
            low = "" if minimum is None else f" ≥ {minimum}"
            raise self.error(key, value, f"an integer{low} (at most {maximum})")
        return int(value)

    def optional_integer(self, key: str, minimum: int | None = None, maximum: int = MAX_DIMENSION) -> int | None:
        return self.integer(key, None, minimum, maximum) if self.has(key) else None

    def number(self, key: str, default: float | None = None, minimum: float | None = None,
               maximum: float | None = None, exclusive_minimum: bool = False) -> float:
        value = self.raw(key, default)
        ok = _is_number(value) and math.isfinite(value)
        ok = ok and (minimum is None or (value > minimum if exclusive_minimum else value >= minimum))
        ok = ok and (maximum is None or value <= maximum)
        if not ok:
            bounds = []
            if minimum is not None:
                bounds.append(f"{'>' if exclusive_minimum else '≥'} {minimum:g}")
            if maximum is not None:
                bounds.append(f"≤ {maximum:g}")
            raise self.error(key, value, "a finite number" + (f" {' and '.join(bounds)}" if bounds else ""))
        return float(value)

    def optional_number(self, key: str, minimum: float | None = None, maximum: float | None = None) -> float | None:
        return self.number(key, None, minimum, maximum) if self.has(key) else None

    def numbers(self, key: str, default: Any = None) -> float | list[Any]:
        """A finite number, or a (nested) list of them (Rescaling's scale, Normalization's mean)."""
        value = self.raw(key, default)

        def check(item: Any, depth: int) -> Any:
            if _is_number(item) and math.isfinite(item):
                return float(item)
            if isinstance(item, list | tuple) and depth < 8 and len(item) <= MAX_DIMENSION:
                return [check(i, depth + 1) for i in item]
            raise self.error(key, value, "finite numbers")

        return check(value, 0)

    # ------------------------------------------------------------------ tuples

    def ints(self, key: str, n: int, default: Any, minimum: int = 1, maximum: int = MAX_DIMENSION,
             nullable: bool = False) -> tuple[int, ...]:
        """Keras's ``standardize_tuple``: one integer for every axis, or exactly ``n``."""
        value = self.raw(key, default, nullable)
        items: Any = (value,) * n if _is_int(value) else value
        if not isinstance(items, list | tuple) or len(items) != n or \
                not all(_is_int(v) and minimum <= v <= maximum for v in items):
            kind = "positive integers" if minimum == 1 else f"integers ≥ {minimum}"
            raise self.error(key, value, f"{n} {kind} (or one for all axes), at most {maximum}")
        return tuple(int(v) for v in items)

    def pairs(self, key: str, n: int, default: Any, maximum: int = MAX_DIMENSION) -> list[tuple[int, int]]:
        """(before, after) per axis, as ZeroPadding/Cropping take them: an int, n ints, or n pairs."""
        value = self.raw(key, default)
        fail = self.error(key, value, f"non-negative integers: one, {n}, or {n} (before, after) pairs")
        ok = lambda v: _is_int(v) and 0 <= v <= maximum  # noqa: E731
        if ok(value):
            return [(int(value), int(value))] * n
        if not isinstance(value, list | tuple):
            raise fail
        items = list(value)
        if n == 1 and len(items) == 2 and all(ok(v) for v in items):
            return [(int(items[0]), int(items[1]))]
        if len(items) != n:
            raise fail
        out = []
        for item in items:
            if ok(item):
                out.append((int(item), int(item)))
            elif isinstance(item, list | tuple) and len(item) == 2 and all(ok(v) for v in item):
                out.append((int(item[0]), int(item[1])))
            else:
                raise fail
        return out

    def axes(self, key: str, rank: int, default: Any = -1) -> list[int]:
        """An axis or a list of axes of a rank-``rank`` tensor (batch axis 0 excluded), non-negative, sorted."""
        value = self.raw(key, default)
        items = [value] if _is_int(value) else value
        if not isinstance(items, list | tuple) or not items or \
                not all(_is_int(a) and -rank <= a < rank and a % rank != 0 for a in items) or \
                len({a % rank for a in items}) != len(items):
            raise self.error(key, value, f"distinct axes between 1 and {rank - 1} (or -1 to {-(rank - 1)})")
        return sorted(int(a) % rank for a in items)

    def axis(self, key: str, rank: int, default: int = -1) -> int:
        axes = self.axes(key, rank, default)
        if len(axes) != 1:
            raise self.error(key, self.raw(key, default), "one axis")
        return axes[0]

    def shape(self, key: str, allow_unknown: int = 1) -> tuple[int, ...]:
        """A target shape (Reshape): positive sizes, at most ``allow_unknown`` of them -1."""
        value = self.raw(key)
        if not isinstance(value, list | tuple) or not value or len(value) > 16 or \
                not all(_is_int(v) and (0 < v <= MAX_DIMENSION or v == -1) for v in value) or \
                sum(v == -1 for v in value) > allow_unknown or math.prod(abs(v) for v in value) > MAX_ELEMENTS:
            raise self.error(key, value, f"a list of positive sizes with at most {allow_unknown} -1, "
                             f"at most {MAX_ELEMENTS} elements")
        return tuple(int(v) for v in value)

    def matches(self, key: str, value: Any, expected: Any, what: str) -> None:
        """A config value the weights also record must agree with them."""
        if value != expected:
            raise ConfigValueError(f"{self.layer.describe()}: config '{key}' is {shown(self.raw(key))} but its weights "
                                   f"hold {what} {shown(expected)}; the file is inconsistent (Keras cannot load it)")


def known_shape(shape: Sequence[int | None]) -> bool:
    return all(s is not None for s in shape)


# --------------------------------------------------------------------------- what Keras accepts in any layer config

_DTYPES = frozenset({"float16", "float32", "float64", "bfloat16", "mixed_float16", "mixed_bfloat16", "int8", "int16",
                     "int32", "int64", "uint8", "uint16", "uint32", "uint64", "bool", "string", "half", "float",
                     "double"})
_CLOSED_SETS = ("padding", "data_format", "interpolation", "merge_mode", "window")
"""Checked by the rules themselves against the set Keras allows (a better message than the kind of the default)."""
_OBJECT_KINDS = (("_initializer", "initializers"), ("_regularizer", "regularizers"), ("_constraint", "constraints"))


@functools.cache
def keras_catalog() -> dict[str, Any]:
    """What the installed Keras 3 and tf_keras accept (``scripts/keras_catalog.py`` writes it; data, not code)."""
    text = importlib.resources.files(__package__).joinpath("keras_catalog.json").read_text()
    return dict(json.loads(text))


def check_layer_config(layer: Layer, keras_major: int) -> None:
    """Refuse a config Keras itself refuses to deserialize: an argument the class does not take, a ``trainable``
    that is not a boolean, an unknown dtype, initializer, regularizer, constraint or activation."""
    if layer.custom:
        return
    catalog = keras_catalog()["keras3" if keras_major >= 3 else "keras2"]
    s = Settings(layer)
    keys = catalog["layers"].get(layer.class_name)
    if keys is not None:
        unknown = sorted(set(layer.config) - set(keys))
        if unknown:
            raise ConfigValueError(f"{layer.describe()}: config key {shown(unknown[0])} is not an argument of "
                                   f"Keras's {layer.class_name}, so Keras refuses the file too")
    if "trainable" in layer.config:
        s.flag("trainable")
    for key, default in catalog["defaults"].get(layer.class_name, {}).items():
        if key in layer.config and key not in _CLOSED_SETS:
            _check_like_default(s, key, layer.config[key], default)
    seed = layer.config.get("seed")
    if seed is not None and (not isinstance(seed, int) or isinstance(seed, bool)):
        raise s.error("seed", seed, "an integer or null")
    shape = layer.config.get("noise_shape")
    if shape is not None and (not isinstance(shape, list) or not all(
            d is None or (isinstance(d, int) and not isinstance(d, bool) and d > 0) for d in shape)):
        raise s.error("noise_shape", shape, "null or a list of positive sizes and nulls")
    dtype = layer.config.get("dtype")
    name = dtype.get("config", {}).get("name") if isinstance(dtype, Mapping) and isinstance(
        dtype.get("config"), Mapping) else dtype
    if dtype is not None and (not isinstance(name, str) or name not in _DTYPES):
        raise s.error("dtype", dtype, "a dtype name or a DTypePolicy")
    for key, value in layer.config.items():
        for suffix, part in _OBJECT_KINDS:
            if key.endswith(suffix):
                _check_object(s, key, value, catalog[part], part)
        if key in ("activation", "recurrent_activation") and value is not None:
            _check_object(s, key, value, catalog["activations"], "activations")


def _check_like_default(s: Settings, key: str, value: Any, default: Any) -> None:
    """A value of the kind Keras's default has: null only where the default is null, a boolean for a flag,
    a finite number for a number, text for text (the shapes Keras's constructors work with)."""
    if value is None:
        if default is not None:
            raise s.error(key, value, f"a value like its default {default!r}, not null")
        return
    if isinstance(default, bool):
        ok, kind = isinstance(value, bool), "true or false"
    elif isinstance(default, int):  # or one per axis (axis=-1 is written [-1], strides=1 as [1, 1])
        ok, kind = isinstance(value, int | list) and not isinstance(value, bool), "an integer (or one per axis)"
    elif isinstance(default, float):  # or a (low, high) range: the augmentation layers' factors
        finite = lambda v: isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v)  # noqa: E731
        ok = finite(value) or (isinstance(value, list | tuple) and len(value) == 2 and all(finite(v) for v in value))
        kind = "a finite number or a (low, high) pair"
    elif isinstance(default, str):
        ok = isinstance(value, str) or key.endswith(("_initializer", "_regularizer", "_constraint", "activation"))
        kind = "text"
    else:
        ok, kind = True, ""
    if not ok:
        raise s.error(key, value, kind)


def _check_object(s: Settings, key: str, value: Any, known: Mapping[str, list[str]], part: str) -> None:
    if value is None:
        return
    if isinstance(value, str):
        if value not in known["strings"]:
            raise s.error(key, value, f"one of Keras's {part}")
        return
    if isinstance(value, Mapping):
        class_name, config = value.get("class_name"), value.get("config", {})
        registered = value.get("registered_name")
        if part == "activations" and class_name == "function" and isinstance(config, str) and \
                config in known["strings"]:
            return
        if isinstance(class_name, str) and class_name in known["classes"] and isinstance(config, Mapping | None) \
                and (registered is None or registered == class_name):
            return
    raise s.error(key, value, f"one of Keras's {part} (a name or its serialized dict)")


@functools.cache
def _keras_default_names() -> frozenset[str]:
    """What Keras names a layer it was given no name for (``Conv2D`` → ``conv2d``, ``BatchNormalization`` →
    ``batch_normalization``, then ``_1``, ``_2``, ...), for every layer class of either Keras."""
    catalog = keras_catalog()
    classes = {name for major in ("keras3", "keras2") for name in catalog[major]["layers"]}
    snake = (re.sub("([a-z])([A-Z])", r"\1_\2", re.sub("(.)([A-Z][a-z]+)", r"\1_\2", name)).lower() for name in classes)
    return frozenset(snake)


def named_by_keras(name: str) -> bool:
    """Whether a (flat attribute) name is one Keras gave by itself: a session counter, not a part's name."""
    return re.sub(r"_\d+$", "", name) in _keras_default_names()


def model_named_by_keras(name: str) -> bool:
    """Whether a model's name is one Keras gave by itself (``functional_28``, ``sequential_3``, tf.keras's
    ``model_2``): it says nothing of what the model is."""
    return re.fullmatch(r"(functional|sequential|model)(_\d+)?", name) is not None
