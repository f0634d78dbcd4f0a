"""The porter's exception hierarchy: every failure a user can cause is a ``PortError``."""

from __future__ import annotations

__all__ = [
    "ConfigValueError",
    "KerasFileError",
    "LayoutMismatchError",
    "OutputError",
    "PortError",
    "UnknownLayerError",
    "UnsupportedLayerError",
    "WeightValueError",
]


class PortError(Exception):
    """Base class: weights could not be ported; the message says what and how to fix it."""


class KerasFileError(PortError):
    """The input file is missing, unreadable, or not a Keras weights file."""


class LayoutMismatchError(PortError):
    """The file's layers or shapes do not fit the target model."""


class UnsupportedLayerError(PortError):
    """A layer or module type has no porting rule (or a variant no rule can express)."""


class WeightValueError(PortError):
    """A weight array holds values that cannot be ported (non-finite, wrong dtype kind)."""


class OutputError(PortError):
    """The output cannot be written (bad path, full disk, read-only directory); nothing was written."""


class ConfigValueError(KerasFileError):
    """A recorded config value is one Keras itself would refuse (names the layer, the key and the value)."""


class UnknownLayerError(UnsupportedLayerError):
    """A layer class the converter has no rule for (a custom layer, a ``Lambda``): its computation is unknown."""
