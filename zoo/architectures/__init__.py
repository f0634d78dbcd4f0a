"""The built-in catalog, registered through the same hook a third-party plugin uses.

One package per architecture: ``__init__`` declares it (no framework imported),
``keras_model`` holds the Keras builder and ``torch_model`` the PyTorch ``nn.Module``
classes, at module level, so they can be imported, subclassed and pickled.
"""

from __future__ import annotations

from typing import Any

from ..hookspecs import hookimpl
from . import (
    addition_seq2seq,
    cifar_cnn,
    cumsum_bidirectional,
    damped_sine,
    echo_sequence,
    mlp,
    mobilenet_v2,
    moving_square,
    resnet50,
    shape_generation,
    siamese,
    text_classifier,
)
from ._keras_dtype import keras_dtype_policy

__all__ = ["keras_dtype_policy", "zoo_architectures", "zoo_port_rules"]

_PACKAGES = (mlp, siamese, cifar_cnn, text_classifier, resnet50, mobilenet_v2, echo_sequence, damped_sine,
             moving_square, addition_seq2seq, cumsum_bidirectional, shape_generation)


@hookimpl
def zoo_architectures() -> list[Any]:
    return [package.ARCHITECTURE for package in _PACKAGES]


@hookimpl
def zoo_port_rules() -> list[Any]:
    return []
