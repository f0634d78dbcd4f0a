"""The porter's exception hierarchy: every failure a user can cause is a ``PortError``."""

from __future__ import annotations

__all__ = [
    "KerasFileError",
    "LayoutMismatchError",
    "OutputError",
    "PortError",
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
