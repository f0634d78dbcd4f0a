"""The zoo's exception hierarchy. Weight-file problems raise ``weights_port.PortError``."""

from __future__ import annotations

__all__ = [
    "BackendError",
    "ConfigError",
    "DuplicateModelError",
    "PluginError",
    "TrainingConfigError",
    "TrainingConfigWarning",
    "UnknownModelError",
    "ZooError",
    "ZooPluginWarning",
]


class ZooError(Exception):
    """Base class of every error the zoo raises about its own inputs."""


class UnknownModelError(ZooError, LookupError):
    """No architecture has that name; the message suggests the closest names."""


class ConfigError(ZooError, ValueError):
    """A config keyword is unknown or has a value of the wrong type or range."""


class DuplicateModelError(ZooError):
    """Two sources registered the same architecture name."""


class PluginError(ZooError):
    """A plugin failed to import or register (raised only with ZOO_STRICT_PLUGINS=1)."""


class BackendError(ZooError):
    """The backend name is invalid or its framework is not installed."""


class TrainingConfigError(ZooError, ValueError):
    """A Keras training setup (optimizer, loss, regularizer, schedule) that PyTorch cannot reproduce here."""


class ZooWarning(UserWarning):
    """Base class of the zoo's warnings."""


class TrainingConfigWarning(ZooWarning):
    """The file does not record a training setting exactly; the message says what was assumed."""


class ZooPluginWarning(ZooWarning):
    """A plugin was skipped; ``zoo plugins`` shows why."""
