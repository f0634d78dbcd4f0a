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


def test_tensorflow_float64_bilinear_resize_is_off_by_float32_size() -> None:
    image = np.random.default_rng(1).normal(size=(2, 5, 6, 3))
    resized = tf.image.resize(tf.constant(image), (10, 12), method="bilinear").numpy()
    exact = torch.nn.functional.interpolate(torch.from_numpy(image.transpose(0, 3, 1, 2)), scale_factor=2.0,
                                            mode="bilinear", align_corners=False).numpy().transpose(0, 2, 3, 1)
    error = np.abs(resized - exact).max()
    assert 1e-12 < error < FLOAT64_KERNEL_ALLOWANCES["bilinear"].rtol * np.abs(exact).max()
