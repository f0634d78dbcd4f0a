"""The built-in catalog, registered through the same hook a third-party plugin uses."""

from __future__ import annotations

from typing import Any

from ..hookspecs import hookimpl
from . import cifar_cnn, mlp, mobilenet_v2, resnet50, sequences, siamese, text_classifier

__all__ = ["zoo_architectures", "zoo_port_rules"]

_MODULES = (mlp, siamese, cifar_cnn, text_classifier, resnet50, mobilenet_v2)


@hookimpl
def zoo_architectures() -> list[Any]:
    return [*(module.ARCHITECTURE for module in _MODULES), *sequences.ARCHITECTURES]


@hookimpl
def zoo_port_rules() -> list[Any]:
    return []
