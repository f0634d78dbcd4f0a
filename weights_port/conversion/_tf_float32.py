"""TensorFlow's float32 arithmetic where it is not IEEE's correctly rounded one, reproduced bit for bit in NumPy.

Some Keras layers compute a constant in float32 whatever the model's dtype (MelSpectrogram's filterbank), so a
float64 conversion must hold the very float32 values TensorFlow computed. Its float32 ``log`` is not correctly
rounded: the x86-64 wheel evaluates whole 8-lane AVX packets with Eigen's ``plog_float`` (a rational
approximation, multiplies and adds rounded apart, no FMA) and the remaining elements with the C library's
``logf`` (glibc ≥ 2.28: a 16-entry table and a float64 polynomial). Both are followed here step by step; each
step is one IEEE operation, so NumPy rounds exactly as TensorFlow does. Checked against TensorFlow 2.21 on
x86-64 Linux in tests/test_weights_port/test_preprocessing.py.
"""

from __future__ import annotations

import numpy as np

__all__ = ["float32_linspace", "float32_log"]

_F = np.float32
_PACKET = 8
"""Float32 lanes of an AVX packet: TensorFlow's element-wise kernels evaluate whole packets, then one by one."""

_GLIBC_LOGF_TABLE = np.array([float.fromhex(v) for v in (
    "0x1.661ec79f8f3bep+0", "-0x1.57bf7808caadep-2", "0x1.571ed4aaf883dp+0", "-0x1.2bef0a7c06ddbp-2",
    "0x1.49539f0f010bp+0", "-0x1.01eae7f513a67p-2", "0x1.3c995b0b80385p+0", "-0x1.b31d8a68224e9p-3",
    "0x1.30d190c8864a5p+0", "-0x1.6574f0ac07758p-3", "0x1.25e227b0b8eap+0", "-0x1.1aa2bc79c81p-3",
    "0x1.1bb4a4a1a343fp+0", "-0x1.a4e76ce8c0e5ep-4", "0x1.12358f08ae5bap+0", "-0x1.1973c5a611cccp-4",
    "0x1.0953f419900a7p+0", "-0x1.252f438e10c1ep-5", "0x1p+0", "0x0p+0",
    "0x1.e608cfd9a47acp-1", "0x1.aa5aa5df25984p-5", "0x1.ca4b31f026aap-1", "0x1.c5e53aa362eb4p-4",
    "0x1.b2036576afce6p-1", "0x1.526e57720db08p-3", "0x1.9c2d163a1aa2dp-1", "0x1.bc2860d22477p-3",
    "0x1.886e6037841edp-1", "0x1.1058bc8a07ee1p-2", "0x1.767dcf5534862p-1", "0x1.4043057b6ee09p-2",
)]).reshape(16, 2)
"""glibc's ``logf`` table: per subinterval of [0x3f330000, 2·0x3f330000), 1/c and log(c) for c near its centre."""


def _glibc_logf(values: np.ndarray) -> np.ndarray:
    """glibc's ``logf`` of positive normal float32 values: x = 2^k·z, log(x) = log1p(z/c − 1) + log(c) + k·ln 2."""
    poly = [float.fromhex(v) for v in ("-0x1.00ea348b88334p-2", "0x1.5575b0be00b6ap-2", "-0x1.ffffef20a4123p-2")]
    ln2 = float.fromhex("0x1.62e42fefa39efp-1")
    bits = values.astype(_F).view(np.uint32).astype(np.int64)
    offset = bits - 0x3F330000
    index = (offset >> 19) % 16
    exponent = offset >> 23
    z = (bits - (offset & (0x1FF << 23))).astype(np.uint32).view(_F).astype(np.float64)
    r = z * _GLIBC_LOGF_TABLE[index, 0] - 1
    y0 = _GLIBC_LOGF_TABLE[index, 1] + exponent * ln2
    r2 = r * r
    y = poly[0] * r2 + (poly[1] * r + poly[2])
    return (y * r2 + (y0 + r)).astype(_F)


def _eigen_logf(values: np.ndarray) -> np.ndarray:
    """Eigen's ``plog_float`` of positive normal float32 values, one float32 rounding per operation."""
    mantissa, exponent = np.frexp(values.astype(_F))
    x, e = mantissa.astype(_F), exponent.astype(_F)
    below = x < _F(0.707106781186547524)
    shifted = np.where(below, x, _F(0))
    x = (x - _F(1)) + shifted  # [0.5, 1) → [√½ − 1, √2 − 1)
    e = e - below.astype(_F)
    p = np.full_like(x, 0.18256296349849254)
    for c in (1.0000000190281063, 1.0000000190281136):
        p = p * x + _F(c)
    q = np.full_like(x, 0.049616247954120038)
    for c in (0.59923249590823520, 1.4999999999999927, 1.0):
        q = q * x + _F(c)
    return (e * _F(0.693147180559945309) + (x * p) / q).astype(_F)


def float32_log(values: np.ndarray) -> np.ndarray:
    """``tf.math.log`` of a float32 tensor of positive normal values, in its flat order: whole packets through
    Eigen, the rest through the C library."""
    flat = np.asarray(values, _F).reshape(-1)
    if not np.all(flat >= np.finfo(_F).tiny) or not np.all(np.isfinite(flat)):
        raise ValueError("float32_log takes positive, normal, finite values")
    packed = flat.size - flat.size % _PACKET
    return np.concatenate([_eigen_logf(flat[:packed]), _glibc_logf(flat[packed:])]).reshape(np.shape(values))


def float32_linspace(start: float, stop: float, num: int) -> np.ndarray:
    """``tf.linspace`` in float32: start, start + i·((stop − start) / (num − 1)) for 0 < i < num − 1, stop."""
    first, last = _F(start), _F(stop)
    step = (last - first) / _F(max(num - 1, 1))
    inner = first + np.arange(1, num - 1, dtype=_F) * step
    return np.concatenate([[first], inner, [last]]).astype(_F)[:num]
