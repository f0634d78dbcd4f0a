"""Keras 3 operation nodes and constants a functional config records (conversion._rules_ops): slicing, constants
folded at save time (a positional embedding, a class token), stack, split, cumsum, argmax, logsumexp, comparisons,
where and casts, and the Keras 3 activations, converted and proven in float32 and float64."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from equivalence_tests import check_conversion, randomise_keras_weights


def test_operation_nodes_and_constants(tmp_path: Path) -> None:
    import keras
    from keras import layers as L

    x = keras.Input((5, 8))
    positions = L.Embedding(5, 8)(keras.ops.arange(5))           # folded into a constant when saved
    y = x + positions
    token = keras.ops.zeros((1, 1, 8)) + y[:, :1]
    y = keras.ops.concatenate([token, y], axis=1)
    first, rest = y[:, 0], y[:, 1:4, ::2]
    last = y[..., -1]
    stacked = keras.ops.stack([x, x * 2.0], axis=1)
    left, right = keras.ops.split(x, 2, axis=-1)
    running = keras.ops.cumsum(left, axis=1)
    picked = keras.ops.cast(keras.ops.argmax(right, axis=-1), "float32")
    soft = keras.ops.logsumexp(x, axis=-1, keepdims=True)
    masked = keras.ops.where(keras.ops.greater(x, 0.2), x, keras.ops.zeros_like(x) - 1.0)
    activations = [L.Activation(name)(x) for name in ("hard_tanh", "hard_shrink", "soft_shrink", "sparse_plus",
                                                      "sparse_sigmoid", "squareplus", "sparsemax", "log_sigmoid",
                                                      "celu", "tanh_shrink")]
    model = keras.Model(x, [first, rest, last, stacked, running, picked, soft, masked, right, *activations])
    randomise_keras_weights(model, np.random.default_rng(0))
    model.save(tmp_path / "ops.keras")
    check = check_conversion(tmp_path / "ops.keras", keras_model=model)
    assert check.passed, (check.results, check.reports)
    assert {r.dtype for r in check.results} == {"float32", "float64"}
