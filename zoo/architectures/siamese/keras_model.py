"""siamese in Keras: a ``twin`` sub-model applied to both images."""

from __future__ import annotations

from typing import Any

from . import CONVS

__all__ = ["build_keras"]


def build_keras(*, input_size: int, in_channels: int, embedding_dim: int, dtype: str) -> Any:
    import keras
    from keras import layers

    image = keras.Input((input_size, input_size, in_channels), dtype=dtype, name="image")
    x = image
    for index, (filters, kernel) in enumerate(CONVS):
        x = layers.Conv2D(filters, kernel, activation="relu", dtype=dtype, name=f"conv{index + 1}")(x)
        if index < len(CONVS) - 1:
            x = layers.MaxPooling2D(2, dtype=dtype, name=f"pool{index + 1}")(x)
    x = layers.Flatten(dtype=dtype, name="flatten")(x)
    embedding = layers.Dense(embedding_dim, activation="sigmoid", dtype=dtype, name="embedding")(x)
    twin = keras.Model(image, embedding, name="twin")

    left = keras.Input((input_size, input_size, in_channels), dtype=dtype, name="left")
    right = keras.Input((input_size, input_size, in_channels), dtype=dtype, name="right")
    distance = keras.ops.abs(layers.Subtract(dtype=dtype, name="difference")([twin(left), twin(right)]))
    similarity = layers.Dense(1, activation="sigmoid", dtype=dtype, name="similarity")(distance)
    return keras.Model([left, right], similarity, name="siamese")
