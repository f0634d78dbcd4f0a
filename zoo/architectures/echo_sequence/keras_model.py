"""echo_sequence in Keras."""

from __future__ import annotations

from typing import Any

__all__ = ["build_keras"]


def build_keras(*, timesteps: int, n_features: int, units: int, dtype: str) -> Any:
    import keras
    from keras import layers

    sequence = keras.Input((None, n_features), dtype=dtype, name="sequence")
    x = layers.LSTM(units, dtype=dtype, name="lstm")(sequence)
    return keras.Model(sequence, layers.Dense(n_features, activation="softmax", dtype=dtype, name="out")(x),
                       name="echo_sequence")
