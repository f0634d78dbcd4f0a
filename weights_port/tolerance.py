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
    "FLOAT32_TRAINING_FACTOR",
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
    "float32": 2.0**-22,
}
"""After one training step from identical states, max|Δw| over max(1, max|w|) (float64: per tensor).

float64: the two frameworks perform the same operations on the same numbers; only the
summation order of the gradients differs (1e-12 relative at most in the catalog: 5e-12
measured through MobileNetV2's 50 layers in training mode), and an optimizer step
multiplies that by at most η/ε. 1e-10 is the issue's "same function" bound. It is stated
per step: over many steps a deep network amplifies any 1e-12 perturbation, Keras's own
rounding included, so a free-running comparison measures the training problem, not the
translation (the property re-syncs PyTorch from Keras before each step).

float32: two ulps of the weights (2**-22 relative) on top of ``FLOAT32_TRAINING_FACTOR``
times the two frameworks' own float32 errors, taken over the whole model (see there). Each
framework rounds the updated weight once, and the float32 update itself is an ulp from
another framework's: where Keras's own error happens to be tiny, two weights that are both
right still differ by that much (measured: 1.6 ulps, siamese with Adagrad).
"""

FLOAT32_TRAINING_FACTOR = 2.0
"""float32: Keras's and PyTorch's steps may differ by twice the sum of their own float32 errors.

Each framework's own error is its float32 step's distance to its float64 twin taking the
same step from the same state, the largest over the model's tensors relative to
max(1, max|w|). With the twins agreeing to 1e-10, the triangle inequality bounds the
difference by the sum; 2 covers the largest gap and the largest own errors sitting in
different tensors. No absolute figure can serve: an adaptive optimizer turns a gradient
component at rounding level into a step of ±η in either framework (Adam's m/√v).
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
