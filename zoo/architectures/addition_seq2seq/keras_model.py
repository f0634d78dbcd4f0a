"""addition_seq2seq in Keras."""

from __future__ import annotations

from typing import Any

__all__ = ["build_keras"]


def build_keras(*, n_in: int, n_out: int, n_chars: int, encoder_units: int, decoder_units: int, dtype: str) -> Any:
    import keras
    from keras import layers

    digits = keras.Input((None, n_chars), dtype=dtype, name="digits")
    x = layers.LSTM(encoder_units, dtype=dtype, name="encoder")(digits)
    x = layers.RepeatVector(n_out, dtype=dtype, name="repeat")(x)
    x = layers.LSTM(decoder_units, return_sequences=True, dtype=dtype, name="decoder")(x)
    x = layers.TimeDistributed(layers.Dense(n_chars, activation="softmax", dtype=dtype), dtype=dtype, name="out")(x)
    return keras.Model(digits, x, name="addition_seq2seq")
