"""A ported file's recorded architecture must compute the zoo's (zoo._verify)."""

from __future__ import annotations

from pathlib import Path

import keras
import numpy as np
import pytest

import zoo
from equivalence_tests import randomise_keras_weights
from weights_port import LayoutMismatchError
from zoo._verify import UnverifiedConfigWarning

MLP = {"in_features": 6, "hidden": (5, 4), "num_classes": 3}


def _mlp_file(tmp_path: Path, first_activation: str) -> Path:
    model = keras.Sequential([keras.Input((6,)), keras.layers.Dense(5, activation=first_activation, name="hidden_a"),
                              keras.layers.Dense(4, activation="relu", name="hidden_b"),
                              keras.layers.Dense(3, activation="softmax", name="out")])
    randomise_keras_weights(model, np.random.default_rng(0))
    path = tmp_path / f"{first_activation}.keras"
    model.save(path)
    return path


def test_the_same_architecture_ports(tmp_path: Path) -> None:
    model = zoo.get("mlp", backend="torch", weights=_mlp_file(tmp_path, "relu"), **MLP)
    assert not model.training


def test_another_activation_is_refused_naming_the_layer(tmp_path: Path) -> None:
    with pytest.raises(LayoutMismatchError) as refused:
        zoo.get("mlp", backend="torch", weights=_mlp_file(tmp_path, "tanh"), **MLP)
    message = str(refused.value)
    assert "computes something else than 'mlp'" in message
    assert "between Keras layer 'hidden_a' (Dense, activation='tanh'" in message and "'hidden_b'" in message


def test_another_final_activation_is_refused(tmp_path: Path) -> None:
    model = keras.Sequential([keras.Input((6,)), keras.layers.Dense(5, activation="relu"),
                              keras.layers.Dense(4, activation="relu"), keras.layers.Dense(3, activation="sigmoid")])
    randomise_keras_weights(model, np.random.default_rng(1))
    model.save(tmp_path / "sigmoid_head.keras")
    with pytest.raises(LayoutMismatchError, match="after its last weighted layer"):
        zoo.get("mlp", backend="torch", weights=tmp_path / "sigmoid_head.keras", **MLP)


def test_a_file_whose_config_cannot_be_converted_ports_with_a_warning(tmp_path: Path) -> None:
    inputs = keras.Input((6,))
    x = keras.layers.Dense(5, activation="relu")(inputs)
    x = keras.layers.Lambda(lambda t: t * 1.0, name="noop")(x)
    x = keras.layers.Dense(4, activation="relu")(x)
    keras.Model(inputs, keras.layers.Dense(3, activation="softmax")(x)).save(tmp_path / "lambda.keras")
    with pytest.warns(UnverifiedConfigWarning, match="only shapes were"):
        zoo.get("mlp", backend="torch", weights=tmp_path / "lambda.keras", **MLP)
