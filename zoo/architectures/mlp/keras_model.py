"""mlp in Keras: the Sequential-style classifier of the migration articles."""

from __future__ import annotations

from typing import Any

__all__ = ["build_keras"]


def build_keras(*, in_features: int, hidden: tuple[int, ...], num_classes: int, dtype: str) -> Any:
    import keras
    from keras import layers

    features = keras.Input((in_features,), dtype=dtype, name="features")
    x = features
    for index, units in enumerate(hidden):
        x = layers.Dense(units, activation="relu", dtype=dtype, name=f"hidden_{index}")(x)
    probabilities = layers.Dense(num_classes, activation="softmax", dtype=dtype, name="classifier")(x)
    return keras.Model(features, probabilities, name="mlp")
