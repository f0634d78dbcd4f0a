"""moving_square in Keras."""

from __future__ import annotations

from typing import Any

__all__ = ["build_keras"]


def build_keras(*, frames: int, size: int, filters: int, units: int, dtype: str) -> Any:
    import keras
    from keras import layers

    video = keras.Input((None, size, size, 1), dtype=dtype, name="video")
    x = layers.TimeDistributed(layers.Conv2D(filters, 2, activation="relu", dtype=dtype), dtype=dtype, name="conv")(video)
    x = layers.TimeDistributed(layers.MaxPooling2D(2, dtype=dtype), dtype=dtype, name="pool")(x)
    x = layers.TimeDistributed(layers.Flatten(dtype=dtype), dtype=dtype, name="flatten")(x)
    x = layers.LSTM(units, dtype=dtype, name="lstm")(x)
    return keras.Model(video, layers.Dense(1, activation="sigmoid", dtype=dtype, name="out")(x), name="moving_square")
