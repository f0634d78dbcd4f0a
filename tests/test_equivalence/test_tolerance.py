"""The float64 kernel allowances are measured facts about TensorFlow, not guesses (equivalence_tests._tolerance)."""

from __future__ import annotations

import math

import numpy as np
import tensorflow as tf
import torch

from equivalence_tests._tolerance import FLOAT64_KERNEL_ALLOWANCES


def test_tensorflow_float64_gelu_is_off_by_float32_size_and_erf_is_exact() -> None:
    x = np.random.default_rng(0).normal(0, 3, 20_000)
    exact = 0.5 * x * (1 + np.array([math.erf(v / math.sqrt(2)) for v in x]))
    gelu_error = np.abs(tf.nn.gelu(tf.constant(x), approximate=False).numpy() - exact).max()
    erf_error = np.abs(tf.math.erf(tf.constant(x)).numpy() - np.array([math.erf(v) for v in x])).max()
    assert 1e-12 < gelu_error < FLOAT64_KERNEL_ALLOWANCES["gelu"].rtol * np.abs(exact).max()
    assert erf_error < 1e-15
    assert np.abs(torch.nn.functional.gelu(torch.from_numpy(x)).numpy() - exact).max() < 1e-14


def test_tensorflow_bilinear_resize_is_float32_arithmetic_and_reproduced_bit_for_bit() -> None:
    """tf.image.resize computes in float32 even for float64 (up to 6.2e-6 of max|y| from exact interpolation over
    300 random shapes, growing with the image size): not an allowance but a kernel the converter reproduces."""
    import tensorflow as tf

    from weights_port.torch_modules import resize_bilinear

    rng = np.random.default_rng(1)
    for height, width, out_h, out_w in [(12, 10, 17, 15), (31, 17, 8, 64), (7, 9, 20, 3)]:
        image = rng.normal(size=(2, height, width, 3))
        resized = tf.image.resize(tf.constant(image), (out_h, out_w), method="bilinear").numpy().astype(np.float64)
        exact = torch.nn.functional.interpolate(torch.from_numpy(image.transpose(0, 3, 1, 2)), size=(out_h, out_w),
                                                mode="bilinear", align_corners=False).numpy().transpose(0, 2, 3, 1)
        assert np.abs(resized - exact).max() > 1e-8  # TensorFlow is not float64-accurate here
        ours = resize_bilinear(torch.from_numpy(image.transpose(0, 3, 1, 2)), (out_h, out_w)).numpy()
        np.testing.assert_array_equal(ours.transpose(0, 2, 3, 1), resized)
