"""Keras 3 operation nodes and constants a functional config records (conversion._rules_ops): slicing, constants
folded at save time (a positional embedding, a class token), stack, split, cumsum, argmax, logsumexp, comparisons,
where and casts, and the Keras 3 activations, converted and proven in float32 and float64."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

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


def test_preprocessing_and_normalization_layers(tmp_path: Path) -> None:
    import keras
    from keras import layers as L

    from weights_port.conversion._rules_more import INFERENCE_IDENTITY

    image = keras.Input((12, 10, 3))
    x = L.RandomFlip()(image)
    x = L.RandomRotation(0.1)(x)
    x = L.RandomContrast(0.2)(x)
    x = L.Identity()(x)
    for augmentation in (L.RandomErasing(), L.RandomGaussianBlur(), L.RandomInvert(), L.RandomPerspective(),
                         L.RandomElasticTransform(), L.AugMix(), L.CutMix(), L.RandAugment()):
        x = augmentation(x)  # factors Keras writes as (low, high) pairs
    up = L.Resizing(17, 15)(x)                                         # bilinear, upsampling
    down = L.Resizing(5, 7, interpolation="nearest")(x)                # half-pixel nearest
    crop = L.CenterCrop(6, 8)(x)
    unit = L.UnitNormalization()(L.Dense(4)(L.GlobalAveragePooling2D()(x)))
    rms = L.RMSNormalization()(L.Dense(6)(L.Flatten()(crop)))
    model = keras.Model(image, [up, down, crop, unit, rms])
    randomise_keras_weights(model, np.random.default_rng(2))
    model.save(tmp_path / "pre.keras")
    check = check_conversion(tmp_path / "pre.keras", keras_model=model)
    assert check.passed, (check.results, check.reports)
    values = np.random.default_rng(3).uniform(0, 1, (2, 16, 16, 3)).astype("float32")
    for name in INFERENCE_IDENTITY:  # the claim behind treating them as identity, checked on Keras itself
        cls = getattr(keras.layers, name, None)
        if cls is None:
            continue
        args = {"RandomRotation": (0.1,), "RandomZoom": (0.2,), "RandomTranslation": (0.1, 0.1),
                "RandomContrast": (0.2,), "RandomBrightness": (0.2,), "RandomHue": (0.2, (0, 1)),
                "RandomSaturation": (0.2,), "RandomSharpness": (0.2,), "RandomShear": (0.2,),
                "RandomPosterization": ((0, 1),), "RandomColorDegeneration": (0.2,), "RandomColorJitter": ((0, 1),),
                "RandomHeight": (0.2,), "RandomWidth": (0.2,), "MaxNumBoundingBoxes": (3,)}.get(name, ())
        assert np.array_equal(np.asarray(cls(*args)(values, training=False)), values), name


@pytest.mark.filterwarnings("ignore:You passed `rms_scaling=True`")
def test_normalization_layers_on_any_axis(tmp_path: Path) -> None:
    """BatchNormalization / GroupNormalization / LayerNormalization / Normalization on axes other than the last,
    LayerNormalization without centre or scale and with rms_scaling, Normalization with invert: the reference is
    Keras reloading the saved file (Normalization's statistics are only current after a reload)."""
    import keras
    from keras import layers as L

    x = keras.Input((4, 6, 8))
    outputs = [
        L.BatchNormalization(axis=1)(x),
        L.BatchNormalization(axis=2, center=False)(x),
        L.GroupNormalization(groups=2, axis=1)(x),
        L.LayerNormalization(axis=[1, 3], center=False, scale=False)(x),
        L.LayerNormalization(axis=2, scale=False)(x),
        L.LayerNormalization(rms_scaling=True)(x),
        L.Normalization(axis=None, mean=0.3, variance=2.0)(x),
        L.Normalization(axis=(1, 2), mean=np.linspace(-1, 1, 24).reshape(4, 6),
                        variance=np.linspace(0.5, 2, 24).reshape(4, 6))(x),
        L.Normalization(axis=-1, mean=np.linspace(-1, 1, 8), variance=np.linspace(0.5, 2, 8), invert=True)(x),
    ]
    model = keras.Model(x, outputs)
    randomise_keras_weights(model, np.random.default_rng(4))
    model.save(tmp_path / "norms.keras")
    check = check_conversion(tmp_path / "norms.keras")
    assert check.passed, (check.results, check.reports)


def test_spectral_and_synchronized_normalization(tmp_path: Path) -> None:
    """SpectralNormalization computes with the kernel it holds at inference (after a training step has written
    the normalised one back); tf.keras's SyncBatchNormalization is BatchNormalization at inference."""
    import keras
    import tf_keras
    from keras import layers as L

    vector, image = keras.Input((5,)), keras.Input((6, 6, 2))
    model = keras.Model([vector, image], [L.SpectralNormalization(L.Dense(3))(vector),
                                          L.SpectralNormalization(L.Conv2D(3, 3, padding="same"))(image),
                                          L.BatchNormalization(synchronized=True)(image)])
    randomise_keras_weights(model, np.random.default_rng(5))
    model.compile("sgd", "mse")
    rng = np.random.default_rng(6)
    model.train_on_batch([rng.normal(size=(4, 5)), rng.normal(size=(4, 6, 6, 2))],
                         [rng.normal(size=(4, 3)), rng.normal(size=(4, 6, 6, 3)), rng.normal(size=(4, 6, 6, 2))])
    model.save(tmp_path / "spectral.keras")
    check = check_conversion(tmp_path / "spectral.keras")
    assert check.passed, (check.results, check.reports)
    legacy = tf_keras.Sequential([tf_keras.Input((4, 4, 3)),
                                  tf_keras.layers.experimental.SyncBatchNormalization(epsilon=0.01)])
    randomise_keras_weights(legacy, np.random.default_rng(7))
    legacy.save(tmp_path / "sync.h5")
    check = check_conversion(tmp_path / "sync.h5", keras_model=legacy)
    assert check.passed, (check.results, check.reports)


def test_indexing_and_repeating_operations(tmp_path: Path) -> None:
    """take (tensor and constant indices, negative ones wrapping), one_hot (ids outside the range give zero rows),
    tile, repeat and vector/Frobenius norms, on inputs chosen so every index path runs; float32 and float64."""
    import keras
    import torch

    from equivalence_tests._convert_check import _as_float64
    from weights_port import convert
    from weights_port.tolerance import compare_arrays

    x, ids = keras.Input((5, 4)), keras.Input((3,), dtype="int32")
    outputs = [keras.ops.take(x, ids, axis=1), keras.ops.take(x, [0, -1, 2], axis=2), keras.ops.one_hot(ids, 4),
               keras.ops.tile(x, (1, 2, 3)), keras.ops.repeat(x, 2, axis=1), keras.ops.norm(x, axis=-1),
               keras.ops.norm(x, ord=1, axis=1, keepdims=True), keras.ops.norm(x, axis=(1, 2))]
    model = keras.Model([x, ids], outputs)
    model.save(tmp_path / "index.keras")
    for dtype in ("float32", "float64"):
        inputs = [np.random.default_rng(0).normal(size=(2, 5, 4)).astype(dtype), np.array([[0, 4, -1], [2, 2, -5]])]
        reference = model if dtype == "float32" else _as_float64(model)
        expected = [np.asarray(y) for y in reference([inputs[0], inputs[1].astype("int32")])]
        with torch.no_grad():
            actual = convert(tmp_path / "index.keras", dtype=dtype).build()(*map(torch.from_numpy, inputs))
        for got, want in zip(actual, expected, strict=True):
            assert got.shape == want.shape and compare_arrays(got.numpy(), want, dtype).passed, dtype


def test_tf_keras_slicing(tmp_path: Path) -> None:
    """tf.keras's SlicingOpLambda (``x[:, 1:4]``, ``x[..., -1]``, a new axis and a step) becomes the same indexing."""
    import tf_keras

    x = tf_keras.Input((5, 6))
    model = tf_keras.Model(x, [x[:, 1:4], x[..., -1], x[:, ::2, None, 2:]])
    model.save(tmp_path / "slices.h5")
    check = check_conversion(tmp_path / "slices.h5", keras_model=model)
    assert check.passed, check.results


def test_reversible_embedding(tmp_path: Path) -> None:
    """ReversibleEmbedding called forward and with reverse=True: tied (F.linear with the embedding matrix) and
    untied with a logit soft cap."""
    import keras
    from keras import layers as L

    ids = keras.Input((6,), dtype="int32")
    tied = L.ReversibleEmbedding(11, 8, mask_zero=True)
    own = L.ReversibleEmbedding(11, 8, tie_weights=False, logit_soft_cap=3.0)
    hidden = L.LayerNormalization()(tied(ids))
    model = keras.Model(ids, [tied(hidden, reverse=True), own(L.Dense(8)(own(ids)), reverse=True)])
    randomise_keras_weights(model, np.random.default_rng(8))
    model.save(tmp_path / "reversible.keras")
    check = check_conversion(tmp_path / "reversible.keras")
    assert check.passed, (check.results, check.reports)


def test_tensorflow_resize_kernels(tmp_path: Path) -> None:
    """Resizing and UpSampling2D with TensorFlow's bicubic (Keys a = −0.5, renormalised at the edges), area and
    antialiased bilinear/bicubic (scale_and_translate) kernels, which torch's interpolate does not compute: the
    runtime helpers reproduce them in float32 as TensorFlow does for any dtype, so float64 agrees too. Keras 3
    (.keras, shrinking and growing by non-integer ratios) and tf.keras (.h5) UpSampling2D."""
    import keras
    import tf_keras
    from keras import layers as L

    image = keras.Input((9, 11, 3))
    x = L.Conv2D(4, 3, padding="same")(image)
    outputs = [
        L.Resizing(17, 15, interpolation="bicubic")(x),                  # growing, 9→17 and 11→15
        L.Resizing(5, 7, interpolation="bicubic")(x),                    # shrinking by non-integer ratios
        L.Resizing(2, 1, interpolation="bicubic")(x),                    # taps clamped at both edges
        L.Resizing(13, 4, interpolation="area")(x),
        L.Resizing(4, 6, interpolation="bilinear", antialias=True)(x),   # triangle kernel stretched
        L.Resizing(7, 16, interpolation="bicubic", antialias=True)(x),   # keys cubic, one axis each way
        L.Resizing(5, 7, interpolation="nearest", antialias=True)(x),    # TensorFlow ignores antialias here
        L.UpSampling2D((2, 3), interpolation="bicubic")(x),
        L.UpSampling2D(2, interpolation="area")(x),
    ]
    model = keras.Model(image, outputs)
    randomise_keras_weights(model, np.random.default_rng(9))
    model.save(tmp_path / "resize.keras")
    check = check_conversion(tmp_path / "resize.keras", keras_model=model)
    assert check.passed, (check.results, check.reports)
    assert {r.dtype for r in check.results} == {"float32", "float64"}

    legacy = tf_keras.Sequential([tf_keras.Input((5, 6, 2)), tf_keras.layers.Conv2D(3, 2),
                                  tf_keras.layers.UpSampling2D((3, 2), interpolation="bicubic"),
                                  tf_keras.layers.UpSampling2D(2, interpolation="area")])
    randomise_keras_weights(legacy, np.random.default_rng(10))
    legacy.save(tmp_path / "resize.h5")
    check = check_conversion(tmp_path / "resize.h5", keras_model=legacy)
    assert check.passed, (check.results, check.reports)
    assert {r.dtype for r in check.results} == {"float32", "float64"}


def test_top_k_and_tf_gather_one_hot_tile(tmp_path: Path) -> None:
    """keras.ops.top_k (values and indices), and tf.keras's tf.gather (axis 0 by default, as TensorFlow's),
    tf.one_hot and tf.tile nodes."""
    import keras
    import tensorflow as tf
    import tf_keras
    import torch

    from weights_port import convert

    x = keras.Input((6,))
    values, indices = keras.ops.top_k(x, 3)
    keras.Model(x, [values, indices]).save(tmp_path / "top.keras")
    scores = np.random.default_rng(1).normal(size=(4, 6)).astype("float32")
    expected = [np.asarray(t) for t in keras.models.load_model(tmp_path / "top.keras")(scores)]
    with torch.no_grad():
        actual = convert(tmp_path / "top.keras").build()(torch.from_numpy(scores))
    assert all(np.array_equal(a.numpy(), e) for a, e in zip(actual, expected, strict=True))

    x, ids = tf_keras.Input((5, 4)), tf_keras.Input((3,), dtype="int32")
    legacy = tf_keras.Model([x, ids], [tf.gather(x, ids, axis=1), tf.gather(x, [0, 3], axis=2), tf.one_hot(ids, 5),
                                       tf.tile(x, [1, 2, 1])])
    legacy.save(tmp_path / "gather.h5")
    inputs = [np.random.default_rng(0).normal(size=(2, 5, 4)).astype("float32"), np.array([[0, 4, 1], [2, 2, 3]])]
    expected = [np.asarray(t) for t in legacy([inputs[0], inputs[1].astype("int32")])]
    with torch.no_grad():
        actual = convert(tmp_path / "gather.h5").build()(*map(torch.from_numpy, inputs))
    assert all(np.array_equal(a.numpy(), e) for a, e in zip(actual, expected, strict=True))


def test_constants_that_broadcast(tmp_path: Path) -> None:
    """A constant operand of another shape broadcasts as in NumPy (``x[:, -1, 0:1] * arange(1, 7)`` is (N, 6), so the
    Reshape after it is possible); NumPy-array constants (Keras 3 ``__numpy__``), tf.keras's list operands (a
    ``tf.range`` folded at save time) and its ``_CONSTANT_VALUE`` first arguments (``tf.maximum(0.0, x)``)."""
    import keras
    import tensorflow as tf
    import tf_keras
    import torch

    from weights_port import convert
    from weights_port.tolerance import compare_arrays

    x = keras.Input((4, 3))
    last = x[:, -1, 0:1]
    ramp = keras.layers.Reshape((6, 1))(last * keras.ops.arange(1, 7, dtype="float32"))
    shifted = keras.ops.arange(1, 7, dtype="float32") + last
    scaled = last * np.arange(1, 7, dtype="float32")
    model = keras.Model(x, [ramp, shifted, scaled, x * np.linspace(-1, 1, 3, dtype="float32")])
    model.save(tmp_path / "broadcast.keras")
    check = check_conversion(tmp_path / "broadcast.keras", keras_model=model)
    assert check.passed, (check.results, check.reports)

    tokens = tf_keras.Input((5,), dtype="int32")
    legacy = tf_keras.Model(tokens, tf_keras.layers.Embedding(5, 3)(tokens * 0 + tf.range(5)))
    randomise_keras_weights(legacy, np.random.default_rng(0))
    legacy.save(tmp_path / "legacy.h5")
    check = check_conversion(tmp_path / "legacy.h5", keras_model=legacy)
    assert check.passed, (check.results, check.reports)

    # float32 only: TensorFlow turns the constant 0.0 into a float32 tensor, so Keras cannot run this in float64
    values = tf_keras.Input((5,))
    legacy = tf_keras.Model(values, tf_keras.layers.Dense(2)(tf.math.maximum(0.0, values)))
    legacy.save(tmp_path / "constant_first.h5")
    inputs = np.random.default_rng(1).normal(size=(3, 5)).astype("float32")
    with torch.no_grad():
        actual = convert(tmp_path / "constant_first.h5").build()(torch.from_numpy(inputs)).numpy()
    assert compare_arrays(actual, np.asarray(legacy(inputs)), "float32").passed


def test_positions_from_tf_shape_and_tf_range(tmp_path: Path) -> None:
    """tf.keras positions computed from a free sequence length: ``tf.range(tf.shape(x)[1])`` (a single bound is the
    limit) and ``tf.range(0, limit=tf.shape(x)[-2], delta=1)`` become ``torch.arange`` of the input's size."""
    import tensorflow as tf
    import tf_keras

    tokens = tf_keras.Input((None,), dtype="int32")
    x = tf_keras.layers.Embedding(20, 4)(tokens)
    first = tf_keras.layers.Embedding(64, 4)(tf.range(tf.shape(tokens)[1]))
    second = tf_keras.layers.Embedding(64, 4)(tf.range(0, limit=tf.shape(x)[-2], delta=1))
    model = tf_keras.Model(tokens, tf_keras.layers.GlobalAveragePooling1D()(x + first + second))
    randomise_keras_weights(model, np.random.default_rng(0))
    model.save(tmp_path / "positions.h5")
    check = check_conversion(tmp_path / "positions.h5", keras_model=model, input_shape=[[7]])
    assert check.passed, (check.results, check.reports)
