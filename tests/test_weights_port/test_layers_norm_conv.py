"""Normalisation, depthwise/separable/transposed convolutions and padding against real Keras layers."""

from __future__ import annotations

from pathlib import Path

import keras
import numpy as np
import pytest
import torch
from torch import nn

from equivalence_tests import randomise_keras_weights
from weights_port import load_into_torch, open_keras
from weights_port.torch_modules import SeparableConv2d, TFSamePad2d, same_padding

L = keras.layers
F64 = "float64"


def _compare(keras_layers: list, torch_model: nn.Module, shape: tuple[int, ...], channels_last: bool = True,
             seed: int = 0) -> nn.Module:
    keras_model = keras.Sequential([keras.Input(shape, dtype=F64), *keras_layers])
    randomise_keras_weights(keras_model, np.random.default_rng(seed))
    torch_model = torch_model.double()
    load_into_torch(open_keras(keras_model), torch_model)
    torch_model.eval()
    x = np.random.default_rng(seed + 1).uniform(-1, 1, (3, *shape))
    to_torch = (lambda a: np.moveaxis(a, -1, 1)) if channels_last and len(shape) > 1 else (lambda a: a)
    expected = keras_model(x).numpy()
    with torch.no_grad():
        actual = torch_model(torch.from_numpy(np.ascontiguousarray(to_torch(x)))).numpy()
    if channels_last and actual.ndim > 2:
        actual = np.moveaxis(actual, 1, -1)
    np.testing.assert_allclose(actual, expected, atol=1e-12, rtol=1e-10)
    return torch_model


@pytest.mark.parametrize(("center", "scale"), [(True, True), (False, True), (True, False), (False, False)])
def test_batch_norm_statistics_epsilon_and_momentum(center: bool, scale: bool) -> None:
    model = _compare([L.BatchNormalization(epsilon=0.01, momentum=0.9, center=center, scale=scale, dtype=F64)],
                     nn.Sequential(nn.BatchNorm2d(4)), (5, 5, 4))
    assert model[0].eps == pytest.approx(0.01) and model[0].momentum == pytest.approx(0.1)


def test_batch_norm_over_features() -> None:
    _compare([L.Dense(6, dtype=F64), L.BatchNormalization(epsilon=1e-3, dtype=F64)],
             nn.Sequential(nn.Linear(3, 6), nn.BatchNorm1d(6)), (3,))


def test_epsilon_left_at_the_pytorch_default_is_wrong() -> None:
    """The carried-over epsilon matters: the same statistics with eps 1e-5 give other outputs."""
    keras_model = keras.Sequential([keras.Input((4,), dtype=F64), L.BatchNormalization(epsilon=0.5, dtype=F64)])
    randomise_keras_weights(keras_model, np.random.default_rng(0))
    torch_model = nn.Sequential(nn.BatchNorm1d(4)).double()
    load_into_torch(open_keras(keras_model), torch_model)
    torch_model.eval()
    x = np.random.default_rng(1).uniform(-1, 1, (3, 4))
    torch_model[0].eps = 1e-5
    with torch.no_grad():
        assert np.abs(torch_model(torch.from_numpy(x)).numpy() - keras_model(x).numpy()).max() > 1e-2


@pytest.mark.parametrize("center", [True, False])
def test_layer_norm(center: bool) -> None:
    model = _compare([L.LayerNormalization(epsilon=0.02, center=center, dtype=F64)],
                     nn.Sequential(nn.LayerNorm(7, bias=center)), (3, 7), channels_last=False)
    assert model[0].eps == pytest.approx(0.02)


@pytest.mark.parametrize(("multiplier", "stride", "padding"), [(1, 1, "same"), (2, 1, "valid"), (3, 2, "valid")])
def test_depthwise_conv(multiplier: int, stride: int, padding: str) -> None:
    torch_padding = 1 if padding == "same" else 0
    _compare([L.DepthwiseConv2D(3, strides=stride, padding=padding, depth_multiplier=multiplier, dtype=F64)],
             nn.Sequential(nn.Conv2d(4, 4 * multiplier, 3, stride=stride, padding=torch_padding, groups=4)), (9, 9, 4))


def test_separable_conv() -> None:
    _compare([L.SeparableConv2D(5, 3, depth_multiplier=2, padding="same", dtype=F64)],
             nn.Sequential(SeparableConv2d(3, 5, 3, padding=1, depth_multiplier=2)), (8, 8, 3))


class CropBottomRight(nn.Module):
    """TensorFlow's 'same' transposed conv crops the surplus pixel at the bottom/right, where
    PyTorch's ``padding=1, output_padding=1`` would crop it at the top/left."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x[..., :-1, :-1]


@pytest.mark.parametrize(("stride", "padding"), [(1, "valid"), (2, "valid"), (2, "same")])
def test_conv_transpose(stride: int, padding: str) -> None:
    crop = [CropBottomRight()] if padding == "same" else []
    _compare([L.Conv2DTranspose(5, 3, strides=stride, padding=padding, dtype=F64)],
             nn.Sequential(nn.ConvTranspose2d(3, 5, 3, stride=stride), *crop), (6, 6, 3))


@pytest.mark.parametrize("size", [8, 9])
def test_same_padding_with_stride_two_pads_bottom_right(size: int) -> None:
    _compare([L.Conv2D(4, 3, strides=2, padding="same", dtype=F64)],
             nn.Sequential(TFSamePad2d(3, 2), nn.Conv2d(2, 4, 3, stride=2)), (size, size, 2))
    assert same_padding(size, 3, 2) == ((0, 1) if size % 2 == 0 else (1, 1))


def test_symmetric_padding_is_wrong_where_tensorflow_pads_bottom_right() -> None:
    keras_model = keras.Sequential([keras.Input((8, 8, 2), dtype=F64), L.Conv2D(4, 3, strides=2, padding="same",
                                                                                   dtype=F64)])
    randomise_keras_weights(keras_model, np.random.default_rng(0))
    symmetric = nn.Sequential(nn.Conv2d(2, 4, 3, stride=2, padding=1)).double()
    load_into_torch(open_keras(keras_model), symmetric)
    x = np.random.default_rng(1).uniform(-1, 1, (2, 8, 8, 2))
    with torch.no_grad():
        actual = np.moveaxis(symmetric(torch.from_numpy(np.moveaxis(x, -1, 1).copy())).numpy(), 1, -1)
    assert actual.shape == keras_model(x).shape and np.abs(actual - keras_model(x).numpy()).max() > 1e-2


def test_zero_padding_relu6_add_and_global_average_pooling() -> None:
    inputs = keras.Input((7, 7, 3), dtype=F64)
    x = L.ZeroPadding2D(((0, 1), (1, 0)), dtype=F64)(inputs)
    x = L.Conv2D(3, 3, dtype=F64)(x)
    x = L.ReLU(6.0, dtype=F64)(x)
    x = L.Add(dtype=F64)([x, L.Conv2D(3, 1, dtype=F64)(L.Cropping2D(((1, 0), (0, 1)), dtype=F64)(inputs))])
    x = L.GlobalAveragePooling2D(dtype=F64)(x)
    keras_model = keras.Model(inputs, L.Dense(2, dtype=F64)(x))

    class Twin(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.pad = nn.ZeroPad2d((1, 0, 0, 1))  # (left, right, top, bottom)
            self.conv = nn.Conv2d(3, 3, 3)
            self.relu6 = nn.ReLU6()
            self.shortcut = nn.Conv2d(3, 3, 1)
            self.dense = nn.Linear(3, 2)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            y = self.relu6(self.conv(self.pad(x))) + self.shortcut(x[..., 1:, :-1])
            return self.dense(y.mean(dim=(2, 3)))

    randomise_keras_weights(keras_model, np.random.default_rng(3))
    torch_model = Twin().double()
    load_into_torch(open_keras(keras_model), torch_model)
    x = np.random.default_rng(4).uniform(-3, 3, (2, 7, 7, 3))
    with torch.no_grad():
        actual = torch_model(torch.from_numpy(np.moveaxis(x, -1, 1).copy())).numpy()
    np.testing.assert_allclose(actual, keras_model(x).numpy(), atol=1e-12)


def test_conv_transpose_output_padding_converts(tmp_path: Path) -> None:
    """``output_padding`` with odd and even kernels, 'same' and 'valid', asymmetric per axis, 1-D and 2-D:
    TensorFlow's conv_transpose crops the full output from max(full − wanted, 0) // 2 and gives bias alone
    past it. The one case Keras cannot run itself ('same', even kernel, no output padding) is refused."""
    from equivalence_tests import check_conversion
    from weights_port import ConfigValueError, convert

    image, signal = keras.Input((7, 6, 3)), keras.Input((9, 2))
    cases = [(3, 2, 1, "same"), (3, 2, 0, "same"), (4, 2, 1, "same"), (3, 3, 2, "valid"), (2, 2, 1, "valid"),
             (1, 2, 1, "same"), (5, 3, (2, 1), "same")]
    outputs = [L.Conv2DTranspose(2, k, strides=st, output_padding=p, padding=pad)(image) for k, st, p, pad in cases]
    outputs += [L.Conv1DTranspose(3, 3, strides=2, output_padding=1, padding="same")(signal),
                L.Conv1DTranspose(3, 2, strides=3, output_padding=2, padding="valid")(signal)]
    model = keras.Model([image, signal], outputs)
    randomise_keras_weights(model, np.random.default_rng(0))
    model.save(tmp_path / "transpose.keras")
    check = check_conversion(tmp_path / "transpose.keras")
    assert check.passed, check.results
    bad = keras.Sequential([keras.Input((5, 5, 2)), L.Conv2DTranspose(2, 4, strides=2, output_padding=0,
                                                                      padding="same")])
    bad.save(tmp_path / "even.keras")
    with pytest.raises(ConfigValueError, match="Keras itself fails"):
        convert(tmp_path / "even.keras")


def test_adaptive_pooling_converts(tmp_path: Path) -> None:
    """Adaptive average and max pooling in 1-D, 2-D (channels first too) and 3-D, with windows of two sizes
    and outputs longer than the input, against Keras's own two-pool gather."""
    from equivalence_tests import check_conversion

    signal, image, volume = keras.Input((10, 3)), keras.Input((7, 5, 2)), keras.Input((5, 4, 3, 2))
    outputs = [L.AdaptiveMaxPooling1D(4)(signal), L.AdaptiveAveragePooling1D(13)(signal),
               L.AdaptiveAveragePooling2D((3, 2))(image), L.AdaptiveMaxPooling2D(4)(image),
               L.AdaptiveAveragePooling2D((2, 3), data_format="channels_first")(image),
               L.AdaptiveAveragePooling3D(2)(volume)]
    model = keras.Model([signal, image, volume], outputs)
    model.save(tmp_path / "adaptive.keras")
    check = check_conversion(tmp_path / "adaptive.keras")
    assert check.passed, check.results
