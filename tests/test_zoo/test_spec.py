"""Config declaration and validation (zoo._spec)."""

from __future__ import annotations

import numpy as np
import pytest

from zoo import ConfigError
from zoo._api import architecture
from zoo._spec import Param, TensorSpec, check_dtype, resolve_config


def test_defaults_are_the_catalog_values() -> None:
    assert resolve_config(architecture("mlp"), {}) == {"in_features": 64, "hidden": (32, 32), "num_classes": 10}
    assert resolve_config(architecture("siamese"), {}) == {"input_size": 105, "in_channels": 1, "embedding_dim": 4096}
    assert resolve_config(architecture("cifar_cnn"), {}) == {"input_size": 32, "in_channels": 3, "num_classes": 10}


def test_lists_become_tuples_and_empty_hidden_is_allowed() -> None:
    assert resolve_config(architecture("mlp"), {"hidden": [64, 32]})["hidden"] == (64, 32)
    assert resolve_config(architecture("mlp"), {"hidden": []})["hidden"] == ()


def test_unknown_keyword_names_it_suggests_and_lists_valid_ones() -> None:
    with pytest.raises(ConfigError) as info:
        resolve_config(architecture("mlp"), {"hiden": (3,)})
    message = str(info.value)
    assert "'hiden'" in message and "did you mean 'hidden'" in message
    assert "in_features, hidden, num_classes" in message


@pytest.mark.parametrize(
    ("name", "key", "value", "expected"),
    [
        ("mlp", "in_features", "64", "must be an integer, got '64'"),
        ("mlp", "in_features", 2.5, "must be an integer, got 2.5"),
        ("mlp", "in_features", True, "must be an integer, got True"),
        ("mlp", "hidden", (32, "a"), "must be a tuple of integers"),
        ("mlp", "hidden", (32, 0), "must be at least 1"),
        ("mlp", "num_classes", 0, "must be at least 1"),
        ("siamese", "input_size", 64, "at least 65"),
        ("cifar_cnn", "input_size", 7, "at least 8"),
    ],
)
def test_ill_typed_or_out_of_range_values_are_named(name: str, key: str, value: object, expected: str) -> None:
    with pytest.raises(ConfigError, match=key) as info:
        resolve_config(architecture(name), {key: value})
    assert expected in str(info.value)


def test_param_kinds() -> None:
    assert Param(1.0, "float").coerce("x", 2) == 2.0
    with pytest.raises(ConfigError):
        Param(1.0, "float").coerce("x", float("nan"))
    assert Param(None, "array").coerce("m", np.zeros((2, 2))).shape == (2, 2)
    with pytest.raises(ConfigError, match="an array or None"):
        Param(None, "array").coerce("m", [[1, 2]])
    with pytest.raises(ConfigError, match="one of"):
        Param("a", "str", choices=("a", "b")).coerce("mode", "c")


def test_dtype_is_checked() -> None:
    assert check_dtype("float64") == "float64"
    with pytest.raises(ConfigError, match="float16"):
        check_dtype("float16")


def test_tensor_spec_moves_the_channel_axis() -> None:
    image = TensorSpec("image", (4, 5, 3), (3, 4, 5), spatial=2)
    batch = np.arange(2 * 4 * 5 * 3).reshape(2, 4, 5, 3)
    moved = image.keras_to_torch(batch)
    assert moved.shape == (2, 3, 4, 5)
    assert moved[1, 2, 3, 4] == batch[1, 3, 4, 2]
    video = TensorSpec("video", (7, 4, 5, 1), (7, 1, 4, 5), spatial=2)
    assert video.keras_to_torch(np.zeros((2, 7, 4, 5, 1))).shape == (2, 7, 1, 4, 5)
