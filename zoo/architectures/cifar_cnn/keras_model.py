"""cifar_cnn in Keras."""

from __future__ import annotations

from typing import Any

from . import DENSE_UNITS, FILTERS

__all__ = ["build_keras"]


def build_keras(*, input_size: int, in_channels: int, num_classes: int, dtype: str) -> Any:
    import keras
    from keras import layers

    image = keras.Input((input_size, input_size, in_channels), dtype=dtype, name="image")
    x = image
    for index, filters in enumerate(FILTERS, start=1):
        x = layers.Conv2D(filters, 3, padding="same", activation="relu", dtype=dtype, name=f"conv{index}")(x)
        x = layers.MaxPooling2D(2, dtype=dtype, name=f"pool{index}")(x)
    x = layers.Flatten(dtype=dtype, name="flatten")(x)
    x = layers.Dense(DENSE_UNITS, activation="relu", dtype=dtype, name="dense")(x)
    logits = layers.Dense(num_classes, dtype=dtype, name="logits")(x)
    return keras.Model(image, logits, name="cifar_cnn")
