"""cumsum_bidirectional in Keras."""

from __future__ import annotations

from typing import Any

__all__ = ["build_keras"]


def build_keras(*, timesteps: int, units: int, dtype: str) -> Any:
    import keras
    from keras import layers

    sequence = keras.Input((None, 1), dtype=dtype, name="sequence")
    x = layers.Bidirectional(layers.LSTM(units, return_sequences=True, dtype=dtype), merge_mode="concat",
                             dtype=dtype, name="bilstm")(sequence)
    x = layers.TimeDistributed(layers.Dense(1, activation="sigmoid", dtype=dtype), dtype=dtype, name="out")(x)
    return keras.Model(sequence, x, name="cumsum_bidirectional")
