"""The agreement both frameworks must reach: stated once, used by every check.

float32: PyTorch and TensorFlow sum in different orders (oneDNN, blocked GEMMs), so
each output carries rounding of a few float32 ulps times the depth of the network;
with outputs of order 1 that stays well below 1e-5 absolute, while a layout bug (a
transposed kernel, gates out of order, rows of a flatten unpermuted) changes outputs by
1e-2 or more. float64 in both frameworks shrinks rounding by 2**29: agreement to about
1e-10 proves the functions are the same, not just close.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["TOLERANCES", "Agreement", "Tolerance", "compare_arrays"]


@dataclass(frozen=True)
class Tolerance:
    atol: float
    rtol: float


TOLERANCES: dict[str, Tolerance] = {
    "float32": Tolerance(atol=1e-5, rtol=1e-4),
    "float64": Tolerance(atol=1e-10, rtol=1e-9),
}


@dataclass(frozen=True)
class Agreement:
    max_abs: float
    max_rel: float
    passed: bool


def compare_arrays(actual: np.ndarray, expected: np.ndarray, dtype: str) -> Agreement:
    """Elementwise |a − e| ≤ atol + rtol·|e|, with the worst absolute and relative error."""
    tolerance = TOLERANCES[dtype]
    actual = np.asarray(actual, np.float64)
    expected = np.asarray(expected, np.float64)
    if actual.shape != expected.shape:
        return Agreement(float("inf"), float("inf"), False)
    error = np.abs(actual - expected)
    if error.size == 0:
        return Agreement(0.0, 0.0, True)
    finite = bool(np.isfinite(actual).all() and np.isfinite(expected).all())
    max_abs = float(error.max()) if finite else float("inf")
    max_rel = float((error / np.maximum(np.abs(expected), tolerance.atol)).max()) if finite else float("inf")
    passed = finite and bool((error <= tolerance.atol + tolerance.rtol * np.abs(expected)).all())
    return Agreement(max_abs, max_rel, passed)
