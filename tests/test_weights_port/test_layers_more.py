"""Keras 3 layers with an inference meaning (conversion._rules_more, _rules_attention): RandomCrop (identity at
inference in Keras 3, ``smart_resize`` in tf.keras), AutoContrast, Solarization, Equalization and MaxNumBoundingBoxes
(identity at inference), ContrastLimitedAdaptiveHistogramEqualization, Pipeline (its layers' own rules), Resizing's
crop_to_aspect_ratio and pad_to_aspect_ratio, the Lanczos kernels of Resizing and UpSampling2D, and the sliding
window of MultiHeadAttention and GroupQueryAttention; each proven against Keras reloading the file, float32 and float64, and
the cases without an exact conversion refused with the reason."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
from porting import converted_exactly, reloaded_exactly

from equivalence_tests import randomise_keras_weights


def test_random_crop_is_identity_at_inference_in_keras_3(tmp_path: Path) -> None:
    """Keras 3.15's ``transform_images(training=False)`` returns the images as they are, larger, equal or smaller
    than (height, width)."""
    import keras
    from keras import layers as L

    large, exact, small = keras.Input((7, 9, 3)), keras.Input((4, 5, 3)), keras.Input((3, 4, 2))
    outputs = [L.RandomCrop(4, 5)(large), L.RandomCrop(4, 5)(exact), L.RandomCrop(4, 5)(small) * 2.0]
    model = keras.Model([large, exact, small], outputs)
    assert [tuple(y.shape) for y in model([np.zeros((1, 7, 9, 3)), np.zeros((1, 4, 5, 3)), np.zeros((1, 3, 4, 2))],
                                          training=False)] == [(1, 7, 9, 3), (1, 4, 5, 3), (1, 3, 4, 2)]
    converted_exactly(model, tmp_path / "crop.keras")


@pytest.mark.sweep
def test_random_crop_of_tf_keras_is_smart_resize(tmp_path: Path) -> None:
    import tf_keras as K

    image = K.Input((7, 10, 3))
    model = K.Model(image, [K.layers.RandomCrop(4, 5)(image), K.layers.RandomCrop(6, 3)(image)])
    converted_exactly(model, tmp_path / "crop.h5")


def test_auto_contrast_and_solarization(tmp_path: Path) -> None:
    """AutoContrast over a value range and over the default 0–255; Solarization (identity at inference) with its
    random factors set."""
    import keras
    from keras import layers as L

    image = keras.Input((5, 6, 3))
    outputs = [L.AutoContrast(value_range=(-1, 1))(image), L.AutoContrast()(L.Rescaling(100.0, 120.0)(image)),
               L.AutoContrast(value_range=(0.1, 0.7))(image),
               L.Solarization(addition_factor=0.3, threshold_factor=0.5, value_range=(-1, 1))(image)]
    converted_exactly(keras.Model(image, outputs), tmp_path / "contrast.keras")


@pytest.mark.sweep
def test_auto_contrast_keeps_a_constant_channel(tmp_path: Path) -> None:
    """255 / (max − min) is inf for a constant channel, NaN follows, and Keras keeps that channel's input."""
    import keras
    import torch

    from weights_port import convert

    image = keras.Input((4, 5, 3))
    model = keras.Model(image, keras.layers.AutoContrast(value_range=(-1, 1))(image))
    model.save(tmp_path / "constant.keras")
    x = np.random.default_rng(0).uniform(-1, 1, (2, 4, 5, 3)).astype("float32")
    x[0, :, :, 1] = 0.25
    x[1, :, :, 2] = -1.0
    x[1, :, :, 0] = 0.0
    expected = np.asarray(model(x, training=False))
    with torch.no_grad():
        actual = convert(tmp_path / "constant.keras").build()(torch.from_numpy(x)).numpy()
    assert np.array_equal(actual, expected)
    assert np.array_equal(actual[0, :, :, 1], x[0, :, :, 1])


def test_pipeline_composes_its_layers_rules(tmp_path: Path) -> None:
    """A Pipeline with weights (two Dense), preprocessing layers and a Pipeline inside it."""
    import keras
    from keras import layers as L

    image = keras.Input((6, 7, 3))
    inner = L.Pipeline([L.RandomFlip(), L.Dense(2), L.AutoContrast(value_range=(-1, 1))])
    out = L.Pipeline([L.Rescaling(0.5), L.Dense(4), L.CenterCrop(4, 4), inner, L.Resizing(3, 5)])(image)
    converted_exactly(keras.Model(image, out), tmp_path / "pipeline.keras")


def test_resizing_to_aspect_ratio(tmp_path: Path) -> None:
    """The centred crop box and the both-sides padding computed as Keras's TensorFlow resize computes them, before
    each interpolation."""
    import keras
    from keras import layers as L

    wide, tall, odd = keras.Input((7, 10, 3)), keras.Input((9, 4, 2)), keras.Input((5, 5, 2))
    outputs = [
        L.Resizing(4, 6, crop_to_aspect_ratio=True)(wide),
        L.Resizing(3, 3, crop_to_aspect_ratio=True, interpolation="nearest")(wide),
        L.Resizing(5, 4, crop_to_aspect_ratio=True, interpolation="bicubic")(tall),
        L.Resizing(2, 7, crop_to_aspect_ratio=True, interpolation="area")(tall),
        L.Resizing(4, 6, pad_to_aspect_ratio=True, fill_value=0.25)(wide),
        L.Resizing(5, 3, pad_to_aspect_ratio=True, interpolation="bicubic", antialias=True)(wide),
        L.Resizing(6, 2, pad_to_aspect_ratio=True, fill_value=-2.0)(tall),
        L.Resizing(8, 3, pad_to_aspect_ratio=True, interpolation="nearest")(odd),
        L.Resizing(3, 8, pad_to_aspect_ratio=True, interpolation="area")(odd),
        L.Resizing(5, 5, pad_to_aspect_ratio=True)(odd),
    ]
    converted_exactly(keras.Model([wide, tall, odd], outputs), tmp_path / "aspect.keras")


def test_lanczos_resizing_and_upsampling(tmp_path: Path) -> None:
    """TensorFlow's Lanczos kernels (its ``scale_and_translate`` with glibc's float32 sines) shrinking and
    enlarging, with and without antialias, after an aspect-ratio crop or pad, and in UpSampling2D."""
    import keras
    from keras import layers as L

    wide, small = keras.Input((7, 10, 3)), keras.Input((3, 4, 2))
    outputs = [
        L.Resizing(4, 6, interpolation="lanczos3")(wide),
        L.Resizing(3, 13, interpolation="lanczos5", antialias=True)(wide),
        L.Resizing(5, 4, interpolation="lanczos3", antialias=True, crop_to_aspect_ratio=True)(wide),
        L.Resizing(6, 3, interpolation="lanczos5", pad_to_aspect_ratio=True, fill_value=0.5)(wide),
        L.UpSampling2D((2, 3), interpolation="lanczos3")(small),
        L.UpSampling2D(2, interpolation="lanczos5")(small),
    ]
    reloaded_exactly(keras.Model([wide, small], outputs), tmp_path / "lanczos.keras")


def test_equalization_and_max_num_bounding_boxes_are_identity_at_inference(tmp_path: Path) -> None:
    """Equalization equalises only in training (Keras builds it inside a Pipeline: alone, its output spec is its
    input tensor, a cycle); MaxNumBoundingBoxes returns an image tensor as it is."""
    import keras
    from keras import layers as L

    image = keras.Input((6, 5, 3))
    outputs = [L.Pipeline([L.Equalization(value_range=(-1, 1))])(image),
               L.Pipeline([L.Rescaling(2.0), L.Equalization(bins=16)])(image),
               L.MaxNumBoundingBoxes(max_number=3)(image)]
    reloaded_exactly(keras.Model(image, outputs), tmp_path / "identity.keras")


def test_contrast_limited_adaptive_histogram_equalization(tmp_path: Path) -> None:
    """Tiles that divide the image and tiles it is mirrored to fill; clip limits 4, 2.7 and none; a value range
    and the default 0–255: bit for bit in float32, so float64 agrees too."""
    import keras
    from keras import layers as L

    image, odd = keras.Input((8, 8, 3)), keras.Input((7, 10, 2))
    outputs = [
        L.ContrastLimitedAdaptiveHistogramEqualization(value_range=(-1, 1), tile_grid_size=(2, 2))(image),
        L.ContrastLimitedAdaptiveHistogramEqualization(value_range=(-1, 1), tile_grid_size=(3, 4), clip_limit=2.7)(odd),
        L.ContrastLimitedAdaptiveHistogramEqualization(value_range=(-1, 1), tile_grid_size=(2, 3), clip_limit=0.0)(odd),
        L.ContrastLimitedAdaptiveHistogramEqualization(tile_grid_size=(2, 2))(L.Rescaling(127.5, 127.5)(image)),
    ]
    reloaded_exactly(keras.Model([image, odd], outputs), tmp_path / "clahe.keras")


def test_sliding_window_attention(tmp_path: Path) -> None:
    """The band |t − s| < window ANDed with the causal mask, a query mask and returned scores, for
    MultiHeadAttention and GroupQueryAttention, self and cross attention."""
    import keras
    from keras import layers as L

    query, context = keras.Input((6, 8)), keras.Input((4, 5))
    outputs = [
        L.GroupQueryAttention(4, 4, 2, sliding_window=2)(query, query, use_causal_mask=True),
        L.GroupQueryAttention(3, 2, 1, sliding_window=3)(query, L.Dense(8)(context)),
        L.MultiHeadAttention(2, 3, sliding_window=2)(query, query),
        *L.MultiHeadAttention(2, 4, sliding_window=3)(query, context, use_causal_mask=True,
                                                       return_attention_scores=True),
    ]
    converted_exactly(keras.Model([query, context], outputs), tmp_path / "window.keras")


@pytest.mark.sweep
def test_sliding_window_with_a_keras_mask(tmp_path: Path) -> None:
    import keras
    import torch
    from keras import layers as L

    import weights_port
    from equivalence_tests._convert_check import _as_float64
    from weights_port.tolerance import compare_arrays

    tokens = keras.Input((6,), dtype="int32")
    x = L.Embedding(5, 8, mask_zero=True)(tokens)
    model = keras.Model(tokens, L.MultiHeadAttention(2, 4, sliding_window=2)(x, x))
    randomise_keras_weights(model, np.random.default_rng(1))
    model.save(tmp_path / "masked.keras")
    ids = np.array([[0, 0, 3, 4, 2, 1], [3, 1, 0, 0, 4, 2], [2, 4, 1, 3, 0, 0]])
    for dtype in ("float32", "float64"):
        reference = model if dtype == "float32" else _as_float64(model)
        expected = np.asarray(reference(ids, training=False))
        with torch.no_grad():
            actual = weights_port.convert(tmp_path / "masked.keras", dtype=dtype).build()(torch.from_numpy(ids))
        assert compare_arrays(actual.numpy(), expected, dtype).passed, dtype


@pytest.mark.parametrize(("case", "message"), [
    ("pipeline_unknown", "holds a layer of class 'Doubling', which has no conversion rule"),
    ("pipeline_masking", "holds a 'Masking' that makes a mask, which Pipeline would pass on"),
    ("window_over_axes", "attends over more than one axis with a mask, a causal mask, a sliding window"),
])
def test_refusals(case: str, message: str, tmp_path: Path) -> None:
    import keras
    from keras import layers as L

    from weights_port import UnsupportedLayerError, convert

    if case == "pipeline_unknown":
        image = keras.Input((4, 4, 3))
        model = keras.Model(image, L.Pipeline([L.Rescaling(2.0), _doubling_layer()()])(image))
    elif case == "pipeline_masking":
        steps = keras.Input((5, 3))
        model = keras.Model(steps, L.Pipeline([L.Masking(), L.Dense(2)])(steps))
    else:
        grid = keras.Input((3, 4, 6))
        model = keras.Model(grid, L.MultiHeadAttention(2, 3, sliding_window=2)(grid, grid))
    model.save(tmp_path / f"{case}.keras")
    with pytest.raises(UnsupportedLayerError, match=message):
        convert(tmp_path / f"{case}.keras")


def _doubling_layer() -> Any:
    """A custom layer class (registered so Keras can save it), which no conversion rule knows."""
    import keras

    @keras.saving.register_keras_serializable("zoo_tests")
    class Doubling(keras.layers.Layer):
        def call(self, x: Any) -> Any:
            return x * 2.0

    return Doubling
