"""mobilenet_v2 in Keras: ``keras.applications.MobileNetV2`` itself, in the requested dtype."""

from __future__ import annotations

from typing import Any

from .._keras_dtype import keras_dtype_policy

__all__ = ["build_keras"]


def build_keras(*, num_classes: int, input_size: int, alpha: float, dtype: str) -> Any:
    import keras

    with keras_dtype_policy(dtype):
        return keras.applications.MobileNetV2(weights=None, classes=num_classes, alpha=alpha,
                                              input_shape=(input_size, input_size, 3))
