"""resnet50 in Keras: ``keras.applications.ResNet50`` itself, in the requested dtype."""

from __future__ import annotations

from typing import Any

from .._keras_dtype import keras_dtype_policy

__all__ = ["build_keras"]


def build_keras(*, num_classes: int, input_size: int, include_top: bool, dtype: str) -> Any:
    import keras

    with keras_dtype_policy(dtype):
        return keras.applications.ResNet50(weights=None, include_top=include_top, classes=num_classes,
                                           input_shape=(input_size, input_size, 3))
