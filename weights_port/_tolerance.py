"""The agreement both frameworks must reach: stated once, used by every check.

float32: PyTorch and TensorFlow sum in different orders (blocked GEMMs, Winograd or
direct convolutions), so each layer adds rounding of a few float32 ulps (2**-23 ≈ 1.2e-7
relative), and a deep network amplifies it: the calibrated random weights of the check
keep every activation of order one and sensitive to its input, which also makes the
rounding visible. Measured worst case over the catalog: 2.5e-4 relative (ResNet50, 50
layers deep); small networks stay below 1e-6. The bound, max|Δ| ≤ 1e-4 + 1e-3·max|y| per
output tensor, sits
above that, while a layout bug (a transposed kernel, gates out of order, the rows of a
flatten unpermuted, padding on the wrong side) changes outputs by 1e-2 or more.

float64: both frameworks in float64 shrink rounding by 2**29; max|Δ| ≤ 1e-10 + 1e-9·max|y|
proves the two functions are the same, not merely close (a BatchNorm epsilon of 1e-5
instead of 1.001e-5 already fails it).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = [
    "FLOAT64_KERNEL_ALLOWANCES",
    "TOLERANCES",
    "TRAINING_TOLERANCES",
    "Agreement",
    "KernelAllowance",
    "Tolerance",
    "compare_arrays",
]


@dataclass(frozen=True)
class Tolerance:
    atol: float
    rtol: float


TOLERANCES: dict[str, Tolerance] = {
    "float32": Tolerance(atol=1e-4, rtol=1e-3),
    "float64": Tolerance(atol=1e-10, rtol=1e-9),
}

TRAINING_TOLERANCES: dict[str, float] = {
    "float64": 1e-10,
    "float32": 1e-4,
}
"""After each training step, max|Δ| of every weight (and the loss) over max(1, max|w|).

float64: the two frameworks perform the same operations on the same numbers; only the
summation order of gradients differs (about 1e-16 relative), and a few steps of an
adaptive optimizer, which divides by √v, amplify that by at most a few orders. 1e-10 is
the issue's "same function" bound. float32: the gradients themselves differ by a few
float32 ulps per layer (as in inference, see above), and Adam-style updates normalise
them, so a parameter's step of size η can differ by about η·1e-3 when a gradient
component is near zero; over the suite's few steps with η ≤ 0.05 the measured worst is
below 2e-5; 1e-4 bounds that, while a wrong ε, β or momentum convention moves weights by
1e-3 of η per step at least (see docs/training.md).
"""


@dataclass(frozen=True)
class KernelAllowance:
    """A TensorFlow kernel that is less accurate than float64 when it computes in float64.

    A float64 comparison of a model that uses it is held to ``rtol`` (relative to the
    tensor's scale) instead of 1e-9: the kernel's own error is of float32 size, and the
    few layers after it in a model amplify it at most about tenfold. Measured in
    tests/test_equivalence/test_tolerance.py, which fails if TensorFlow becomes exact.
    """

    kernel: str
    rtol: float
    measured: str


FLOAT64_KERNEL_ALLOWANCES: dict[str, KernelAllowance] = {
    "gelu": KernelAllowance(
        "tf.nn.gelu(approximate=False) (Keras's 'gelu')", 1e-6,
        "5.0e-9 max abs from 0.5·x·(1 + erf(x/√2)) on N(0, 3) samples, while tf.math.erf itself is within 2.2e-16"),
    "bilinear": KernelAllowance(
        "ResizeBilinear (tf.image.resize, Keras's UpSampling2D(interpolation='bilinear'))", 1e-6,
        "1.7e-7 max abs from exact bilinear interpolation on N(0, 1) samples (float32 interpolation weights)"),
}


@dataclass(frozen=True)
class Agreement:
    max_abs: float
    max_rel: float
    passed: bool


def compare_arrays(actual: np.ndarray, expected: np.ndarray, dtype: str,
                   allowances: tuple[KernelAllowance, ...] = ()) -> Agreement:
    """max |a − e| ≤ atol + rtol·max |e|, per tensor; also the worst absolute and relative error.

    The relative part is norm-wise (against the tensor's largest magnitude): an entry near
    zero (a tiny probability) carries rounding of the tensor's scale, not of its own.
    """
    tolerance = TOLERANCES[dtype]
    if dtype == "float64" and allowances:
        tolerance = Tolerance(tolerance.atol, max(tolerance.rtol, *(a.rtol for a in allowances)))
    actual = np.asarray(actual, np.float64)
    expected = np.asarray(expected, np.float64)
    if actual.shape != expected.shape:
        return Agreement(float("inf"), float("inf"), False)
    error = np.abs(actual - expected)
    if error.size == 0:
        return Agreement(0.0, 0.0, True)
    finite = bool(np.isfinite(actual).all() and np.isfinite(expected).all())
    if not finite:
        return Agreement(float("inf"), float("inf"), False)
    max_abs, scale = float(error.max()), float(np.abs(expected).max())
    max_rel = max_abs / scale if scale > 0 else (0.0 if max_abs == 0 else float("inf"))
    return Agreement(max_abs, max_rel, max_abs <= tolerance.atol + tolerance.rtol * scale)
