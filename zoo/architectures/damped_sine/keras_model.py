"""damped_sine in Keras."""

from __future__ import annotations

from typing import Any

__all__ = ["build_keras"]


def build_keras(*, timesteps: int, units: int, n_out: int, dtype: str) -> Any:
    import keras
    from keras import layers

    sequence = keras.Input((None, 1), dtype=dtype, name="sequence")
    x = layers.LSTM(units, return_sequences=True, dtype=dtype, name="lstm1")(sequence)
    x = layers.LSTM(units, dtype=dtype, name="lstm2")(x)
    return keras.Model(sequence, layers.Dense(n_out, dtype=dtype, name="out")(x), name="damped_sine")
