"""What an architecture declares: config parameters, tensors, and its two builders.

Everything here is plain data, so listing, describing and validating an architecture
imports no framework.
"""

from __future__ import annotations

import difflib
import importlib
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from ._errors import ConfigError

__all__ = [
    "DTYPES",
    "IMAGE_SIZE_CEILING",
    "INT_CEILING",
    "Architecture",
    "Imported",
    "Param",
    "TensorSpec",
    "TorchClass",
    "resolve_config",
]

DTYPES = ("float32", "float64")

_TYPE_NAMES = {"int": "an integer", "float": "a number", "ints": "a tuple of integers",
               "bool": "true or false", "str": "a string", "array": "an array or None"}


@dataclass(frozen=True)
class Param:
    """One config keyword: default, kind ("int", "float", "ints", "bool", "str", "array")."""

    default: Any
    kind: str
    doc: str = ""
    minimum: float | None = None
    choices: tuple[Any, ...] | None = None
    maximum: float | None = None
    """Upper bound; integers default to ``INT_CEILING`` so no config asks torch for absurd sizes."""

    def coerce(self, name: str, value: Any) -> Any:
        """The value in canonical form (lists become tuples), or ConfigError naming it."""
        checked = _COERCE[self.kind](value)
        if checked is _INVALID:
            raise ConfigError(f"config '{name}' must be {_TYPE_NAMES[self.kind]}, got {value!r}")
        numbers = checked if self.kind == "ints" else (checked,) if self.kind in ("int", "float") else ()
        if self.minimum is not None and any(n < self.minimum for n in numbers):
            raise ConfigError(f"config '{name}' must be at least {self.minimum:g}, got {value!r}")
        ceiling = self.maximum if self.maximum is not None else INT_CEILING if self.kind in ("int", "ints") else None
        if ceiling is not None and any(n > ceiling for n in numbers):
            raise ConfigError(f"config '{name}' must be at most {ceiling:,.0f}, got {value!r}")
        if self.choices is not None and checked not in self.choices:
            raise ConfigError(f"config '{name}' must be one of {list(self.choices)}, got {value!r}")
        return checked


_INVALID = object()
INT_CEILING = 1 << 20
"""Default upper bound of integer parameters (layer widths, class counts, vocabularies)."""
IMAGE_SIZE_CEILING = 2048
"""Upper bound of image sizes: a larger one allocates gigabytes before anything runs."""


def _as_int(value: Any) -> Any:
    return int(value) if isinstance(value, int) and not isinstance(value, bool) else _INVALID


def _as_float(value: Any) -> Any:
    ok = isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)
    return float(value) if ok else _INVALID


def _as_ints(value: Any) -> Any:
    if not isinstance(value, list | tuple):
        return _INVALID
    items = tuple(_as_int(v) for v in value)
    return _INVALID if _INVALID in items else items


def _as_array(value: Any) -> Any:
    return value if value is None or (hasattr(value, "shape") and hasattr(value, "dtype")) else _INVALID


_COERCE: dict[str, Callable[[Any], Any]] = {
    "int": _as_int,
    "float": _as_float,
    "ints": _as_ints,
    "bool": lambda v: v if isinstance(v, bool) else _INVALID,
    "str": lambda v: v if isinstance(v, str) else _INVALID,
    "array": _as_array,
}


@dataclass(frozen=True)
class TensorSpec:
    """An input or output, per sample (no batch axis); ``None`` marks a free length.

    ``high`` bounds integer inputs (token ids lie in [0, high)). ``spatial`` counts the
    spatial axes of a channels-last Keras tensor: PyTorch holds the channel axis before
    them ((H, W, C) → (C, H, W) is ``spatial=2``); 0 means both layouts are the same.
    """

    name: str
    keras_shape: tuple[int | None, ...]
    torch_shape: tuple[int | None, ...]
    dtype: str = "float"
    high: int | None = None
    spatial: int = 0

    def keras_to_torch(self, array: Any) -> Any:
        """A batch in Keras layout → the same batch in PyTorch layout (NumPy arrays)."""
        import numpy as np

        return array if not self.spatial else np.moveaxis(array, -1, -1 - self.spatial)


Config = Mapping[str, Any]


@dataclass(frozen=True)
class Imported:
    """A function named by import path, ``"package.module:name"``, imported on its first call.

    Declaring an architecture with these costs no import: the module holding the
    framework code loads only when a model is built.
    """

    path: str

    def __post_init__(self) -> None:
        module, _, name = self.path.partition(":")
        if not module or not name.isidentifier():
            raise ValueError(f"import path must read 'package.module:name', got {self.path!r}")

    def resolve(self) -> Any:
        module, _, name = self.path.partition(":")
        return getattr(importlib.import_module(module), name)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self.resolve()(*args, **kwargs)


@dataclass(frozen=True)
class TorchClass(Imported):
    """``build_torch`` for an ``nn.Module`` class whose keyword constructor takes the config.

    ``TorchClass("pkg.torch_model:Net")(dtype="float64", **config)`` is
    ``Net(**config).to(torch.float64)``; ``zoo info`` shows the class's import path.
    """

    @property
    def import_line(self) -> str:
        module, _, name = self.path.partition(":")
        return f"from {module} import {name}"

    def __call__(self, *args: Any, dtype: str = "float32", **config: Any) -> Any:
        import torch

        return self.resolve()(*args, **config).to(getattr(torch, dtype))


@dataclass(frozen=True)
class Architecture:
    """An architecture with a Keras and a PyTorch builder that compute the same function.

    Builders take the config as keywords plus ``dtype``; they import their framework
    inside, so declaring an architecture costs nothing. ``check`` rejects configs that
    cannot build (raise ConfigError); ``config_strategy`` returns a hypothesis strategy
    of configs for the equivalence suite.
    """

    name: str
    description: str
    source: str
    params: Mapping[str, Param]
    build_keras: Callable[..., Any]
    build_torch: Callable[..., Any]
    inputs: Callable[[Config], list[TensorSpec]]
    outputs: Callable[[Config], list[TensorSpec]]
    check: Callable[[Config], None] | None = None
    config_strategy: Callable[[], Any] | None = None
    tags: tuple[str, ...] = field(default=())

    @property
    def defaults(self) -> dict[str, Any]:
        return {name: param.default for name, param in self.params.items()}


def resolve_config(arch: Architecture, overrides: Mapping[str, Any]) -> dict[str, Any]:
    """Defaults updated with ``overrides``, each checked; raises before any framework import."""
    config = arch.defaults
    for name, value in overrides.items():
        if name not in arch.params:
            close = difflib.get_close_matches(name, list(arch.params), n=1)
            hint = f" (did you mean '{close[0]}'?)" if close else ""
            raise ConfigError(
                f"{arch.name} has no config '{name}'{hint}; valid keywords: {', '.join(arch.params)}"
            )
        config[name] = arch.params[name].coerce(name, value)
    if arch.check is not None:
        arch.check(config)
    return config


def check_dtype(dtype: str) -> str:
    if dtype not in DTYPES:
        raise ConfigError(f"dtype must be one of {list(DTYPES)}, got {dtype!r}")
    return dtype
