"""Building a Keras model in float64 when its constructor takes no dtype (keras.applications)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

__all__ = ["keras_dtype_policy"]


@contextmanager
def keras_dtype_policy(dtype: str) -> Iterator[None]:
    """Every layer (and input) created inside uses ``dtype``; the globals are restored afterwards."""
    import keras

    previous_policy, previous_floatx = keras.config.dtype_policy(), keras.config.floatx()
    keras.config.set_dtype_policy(dtype)
    keras.config.set_floatx(dtype)
    try:
        yield
    finally:
        keras.config.set_floatx(previous_floatx)
        keras.config.set_dtype_policy(previous_policy)
