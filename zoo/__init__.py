"""A model zoo where every architecture exists in Keras and in PyTorch, computing the same function.

>>> import zoo
>>> zoo.list_models()
>>> model = zoo.get("siamese", backend="torch", weights="siamese.h5")

``import zoo`` imports neither PyTorch nor TensorFlow; a backend's framework is imported
only when a model of that backend is built.
"""

from __future__ import annotations

from typing import Any

from ._api import ModelInfo, architecture, get, info, list_models, port, port_rules
from ._errors import (
    BackendError,
    ConfigError,
    DuplicateModelError,
    PluginError,
    UnknownModelError,
    ZooError,
    ZooPluginWarning,
)
from ._plugins import PluginReport
from ._spec import Architecture, Imported, Param, TensorSpec, TorchClass, resolve_config
from .hookspecs import hookimpl

__all__ = [
    "Architecture",
    "BackendError",
    "ConfigError",
    "DuplicateModelError",
    "Imported",
    "ModelInfo",
    "Param",
    "PluginError",
    "PluginReport",
    "TensorSpec",
    "TorchClass",
    "UnknownModelError",
    "ZooError",
    "ZooPluginWarning",
    "architecture",
    "get",
    "hookimpl",
    "info",
    "list_models",
    "plugins",
    "port",
    "port_rules",
    "resolve_config",
    "training_setup",
]


def plugins() -> list[PluginReport]:
    """Every loaded plugin (built-ins first) with its distribution, version, models, error."""
    from ._plugins import host

    return list(host().reports)


def training_setup(model: Any, source: Any = None, **settings: Any) -> Any:
    """Keras's training for a PyTorch model: see ``zoo.training.training_setup`` (imports torch)."""
    from .training import training_setup as setup

    return setup(model, source, **settings)
