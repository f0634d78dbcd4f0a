"""A format-neutral view of saved Keras weights: ordered layers, each with its arrays.

Every reader in ``_readers`` produces a ``KerasSource``. Arrays stay lazy (an h5py
dataset or an in-memory array) until a rule converts them, so a port reads each weight
once and never holds the whole file in memory twice.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np

from .._errors import KerasFileError

__all__ = ["ArrayLike", "KerasLayer", "KerasSource", "KerasWeight", "native_float", "natural_key", "snake_case"]


class ArrayLike(Protocol):
    """What a stored weight offers before it is read: a shape, a dtype, and ``[()]``."""

    @property
    def shape(self) -> tuple[int, ...]: ...

    @property
    def dtype(self) -> np.dtype[Any]: ...

    def __getitem__(self, key: Any) -> Any: ...


@dataclass(frozen=True)
class KerasWeight:
    """One stored variable. ``key`` is its path inside the layer ("kernel", "cell/vars/1")."""

    key: str
    data: ArrayLike

    @property
    def shape(self) -> tuple[int, ...]:
        try:
            return tuple(int(n) for n in self.data.shape)
        except Exception as exc:  # a damaged dataset header
            raise KerasFileError(f"weight '{self.key}' is unreadable ({type(exc).__name__}: {exc})") from None

    def read(self) -> np.ndarray:
        """The array; Keras's bfloat16 (stored as 2-byte opaque data) comes back as float32."""
        try:
            array = np.asarray(self.data[()])
        except Exception as exc:  # h5py raises OSError and others on damaged data
            raise KerasFileError(f"weight '{self.key}' is unreadable ({type(exc).__name__}: {exc}); "
                                 "the file may be truncated or corrupt") from None
        if array.dtype.kind == "V" and array.dtype.itemsize == 2 and self._declared_dtype() in ("bfloat16", None):
            return bfloat16_to_float32(array)
        return native_float(array, self.key)

    def _declared_dtype(self) -> str | None:
        declared = getattr(self.data, "attrs", {}).get("dtype")
        return declared.decode() if isinstance(declared, bytes) else declared


def native_float(array: np.ndarray, key: str) -> np.ndarray:
    """Floats in native byte order; long double narrowed to float64 only where that is exact.

    HDF5 may store big-endian or extended-precision floats (Keras loads both); torch takes
    neither, and a silent rounding would be a different model.
    """
    if array.dtype.kind != "f":
        return array
    if array.dtype.itemsize > 8:
        narrowed = array.astype(np.float64)
        if not np.array_equal(narrowed.astype(array.dtype), array, equal_nan=True):
            raise KerasFileError(f"weight '{key}' is stored as {array.dtype.itemsize * 8}-bit long double with values "
                                 "that float64 cannot hold exactly; re-save the model in float32 or float64")
        return narrowed
    return array if array.dtype.isnative else array.astype(array.dtype.newbyteorder("="))


def bfloat16_to_float32(raw: np.ndarray) -> np.ndarray:
    """bfloat16 is the top half of a float32: widen it exactly, with no extra dependency."""
    bits = np.ascontiguousarray(raw).view(np.uint16).astype(np.uint32) << 16
    return bits.view(np.float32).reshape(raw.shape)


@dataclass(frozen=True)
class KerasLayer:
    """A Keras layer that owns weights, as the file describes it.

    ``class_name`` and ``config`` are ``None`` where the format does not record them
    (a legacy ``save_weights`` file); rules then work from the arrays alone.
    """

    name: str
    class_name: str | None
    config: Mapping[str, Any] | None
    weights: tuple[KerasWeight, ...]
    origin: Any = field(default=None, compare=False, repr=False)
    """The live Keras layer, when read from an in-memory model."""

    @property
    def shapes(self) -> list[tuple[int, ...]]:
        return [w.shape for w in self.weights]

    def describe(self) -> str:
        kind = self.class_name or "layer of unrecorded type"
        return f"Keras layer '{self.name}' ({kind})"


@dataclass
class KerasSource:
    """All weighted layers of one saved model, in the best order the format records.

    ``ordered`` is True when the format records the model's layer order (a config or
    ``layer_names``); otherwise layers are in creation order within each layer type.
    """

    description: str
    layers: list[KerasLayer]
    ordered: bool
    keras_version: str | None = None
    _closers: list[Any] = field(default_factory=list, repr=False)
    model_config: Mapping[str, Any] | None = None
    """The architecture the file records (``config.json``, ``model_config``), read as data."""
    training_config: Mapping[str, Any] | None = None
    """The compile settings the file records (a ``.keras``'s ``compile_config``, a legacy
    ``.h5``'s ``training_config``), read as data; None if the model was saved uncompiled."""
    optimizer_variables: tuple[KerasWeight, ...] = ()
    """The optimizer's saved variables in Keras's order (iterations first), if the file holds them."""

    def __iter__(self) -> Iterator[KerasLayer]:
        return iter(self.layers)

    def close(self) -> None:
        while self._closers:
            self._closers.pop().close()

    def __enter__(self) -> KerasSource:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def snake_case(class_name: str) -> str:
    """Keras's own class-name → path-name rule ("Conv2D" → "conv2d", "ReLU" → "re_lu")."""
    name = re.sub(r"\W+", "", class_name)
    name = re.sub(r"(.)([A-Z][a-z]+)", r"\1_\2", name)
    return re.sub(r"([a-z])([A-Z])", r"\1_\2", name).lower()


def natural_key(name: str) -> tuple[str, int]:
    """Sort "dense", "dense_1", …, "dense_10" in creation order, not alphabetically."""
    base, _, number = name.rpartition("_")
    if base and number.isdigit():
        return (base, int(number) + 1)
    return (name, 0)


def split_first(path: str) -> tuple[str, str]:
    head, _, rest = path.partition("/")
    return head, rest


def strip_device_suffix(name: str) -> str:
    """Keras 2 names variables "kernel:0"; Keras 3 legacy files use "kernel"."""
    return re.sub(r":\d+$", "", name)


def as_sequence(value: Any) -> Sequence[str]:
    if isinstance(value, bytes | str):
        text = value.decode() if isinstance(value, bytes) else value
        return [text] if text else []
    return [v.decode() if isinstance(v, bytes) else str(v) for v in np.asarray(value).ravel()]
