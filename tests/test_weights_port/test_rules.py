"""Each porting rule against real Keras layers, and its inverse (weights_port.porting)."""

from __future__ import annotations

import keras
import numpy as np
import pytest
import torch
from torch import nn

from equivalence_tests import randomise_keras_weights
from weights_port import DEFAULT_RULES, load_into_torch, open_keras
from weights_port.porting import flatten_rows_to_channels_first, flatten_rows_to_channels_last, pair_layers, torch_targets


def _port_and_run(keras_model, torch_model, x: np.ndarray, to_torch_layout) -> tuple[np.ndarray, np.ndarray]:
    randomise_keras_weights(keras_model, np.random.default_rng(0))
    load_into_torch(open_keras(keras_model), torch_model)
    with torch.no_grad():
        actual = torch_model(torch.from_numpy(to_torch_layout(x))).numpy()
    return actual, np.asarray(keras_model(x))


@pytest.mark.parametrize("spatial", [1, 2, 3])
@pytest.mark.parametrize("use_bias", [True, False])
def test_conv_kernels_hwio_to_oihw(spatial: int, use_bias: bool) -> None:
    size = (9, 8, 7)[:spatial]
    kernel = (3, 2, 4)[:spatial]
    conv_keras = {1: keras.layers.Conv1D, 2: keras.layers.Conv2D, 3: keras.layers.Conv3D}[spatial]
    conv_torch = {1: nn.Conv1d, 2: nn.Conv2d, 3: nn.Conv3d}[spatial]
    keras_model = keras.Sequential([keras.Input((*size, 3), dtype="float64"),
                                    conv_keras(5, kernel, use_bias=use_bias, dtype="float64")])
    torch_model = nn.Sequential(conv_torch(3, 5, kernel, bias=use_bias)).double()
    x = np.random.default_rng(1).uniform(-1, 1, (2, *size, 3))
    actual, expected = _port_and_run(keras_model, torch_model, x, lambda a: np.moveaxis(a, -1, 1).copy())
    np.testing.assert_allclose(actual, np.moveaxis(expected, -1, 1), atol=1e-12)


@pytest.mark.parametrize("shape_chw", [(4, 3, 5), (2, 7), (3, 2, 2, 2)])
def test_dense_after_channels_last_flatten(shape_chw: tuple[int, ...]) -> None:
    channels, *spatial = shape_chw
    keras_model = keras.Sequential([keras.Input((*spatial, channels), dtype="float64"), keras.layers.Flatten(dtype="float64"),
                                    keras.layers.Dense(6, dtype="float64")])
    torch_model = nn.Sequential(nn.Flatten(), nn.Linear(int(np.prod(shape_chw)), 6)).double()
    torch_model.keras_port_hints = {"1": {"flatten_from": shape_chw}}
    x = np.random.default_rng(2).uniform(-1, 1, (3, *spatial, channels))
    actual, expected = _port_and_run(keras_model, torch_model, x, lambda a: np.moveaxis(a, -1, 1).copy())
    np.testing.assert_allclose(actual, expected, atol=1e-12)


def test_without_the_flatten_hint_the_output_is_wrong() -> None:
    """The permutation is not cosmetic: skipping it changes the function."""
    keras_model = keras.Sequential([keras.Input((3, 3, 4)), keras.layers.Flatten(), keras.layers.Dense(5)])
    torch_model = nn.Sequential(nn.Flatten(), nn.Linear(36, 5))
    x = np.random.default_rng(3).uniform(-1, 1, (2, 3, 3, 4)).astype("float32")
    actual, expected = _port_and_run(keras_model, torch_model, x, lambda a: np.moveaxis(a, -1, 1).copy())
    assert np.abs(actual - expected).max() > 1e-2


def test_flatten_row_permutations_are_inverse() -> None:
    rows = np.arange(4 * 3 * 5 * 2).reshape(60, 2)
    there = flatten_rows_to_channels_first(rows, (4, 3, 5))
    assert not np.array_equal(there, rows)
    np.testing.assert_array_equal(flatten_rows_to_channels_last(there, (4, 3, 5)), rows)
    # the row for channel c at (h, w) moves to c·H·W + h·W + w
    assert there[1 * 15 + 2 * 5 + 3, 0] == rows[(2 * 5 + 3) * 4 + 1, 0]


@pytest.mark.parametrize("rule_class", ["Dense", "Conv1D", "Conv2D", "Conv3D"])
def test_every_rule_round_trips_bit_exactly(rule_class: str) -> None:
    rule = next(r for r in DEFAULT_RULES if r.keras_class == rule_class)
    spatial = {"Dense": 0, "Conv1D": 1, "Conv2D": 2, "Conv3D": 3}[rule_class]
    kernel_shape = (2, 3, 4)[:spatial] + ((24, 5) if spatial == 0 else (3, 5))
    rng = np.random.default_rng(4)
    arrays = [rng.standard_normal(kernel_shape), rng.standard_normal(5)]
    from weights_port import KerasLayer, RuleContext, TorchTarget

    hints = {"flatten_from": (4, 2, 3)} if spatial == 0 else {}
    ctx = RuleContext(KerasLayer("l", rule_class, None, ()), TorchTarget("m", rule.torch_types[0], {}, hints))
    back = rule.to_keras(rule.to_torch(arrays, ctx), ctx)
    for a, b in zip(back, arrays, strict=False):
        np.testing.assert_array_equal(a, b)


def test_rule_set_rejects_a_second_rule_for_the_same_pair() -> None:
    from weights_port import UnsupportedLayerError

    dense = next(r for r in DEFAULT_RULES if r.keras_class == "Dense")
    with pytest.raises(UnsupportedLayerError, match="Dense → PyTorch Linear already exists"):
        DEFAULT_RULES.extended([dense])


def test_module_without_rule_is_named() -> None:
    from weights_port import UnsupportedLayerError

    model = nn.Sequential(nn.Linear(3, 3), nn.PReLU())
    with pytest.raises(UnsupportedLayerError, match="'1' is a PReLU"):
        torch_targets(model)


def test_pairing_is_structural_not_by_name() -> None:
    keras_model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3, name="zzz_first"),
                                    keras.layers.Dense(2, name="aaa_second")])
    torch_model = nn.Sequential(nn.Linear(4, 3), nn.Linear(3, 2))
    pairs = pair_layers(open_keras(keras_model), torch_targets(torch_model))
    assert [(p.layer.name, p.target.path) for p in pairs] == [("zzz_first", "0"), ("aaa_second", "1")]
