"""shape_generation in Keras."""

from __future__ import annotations

from typing import Any

__all__ = ["build_keras"]


def build_keras(*, units: int, dtype: str) -> Any:
    import keras
    from keras import layers

    point = keras.Input((None, 2), dtype=dtype, name="point")
    x = layers.LSTM(units, dtype=dtype, name="lstm")(point)
    return keras.Model(point, layers.Dense(2, dtype=dtype, name="out")(x), name="shape_generation")
