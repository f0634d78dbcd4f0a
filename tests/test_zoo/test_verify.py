"""A ported file's recorded architecture must compute the zoo's (zoo._verify)."""

from __future__ import annotations

import sys
from pathlib import Path

import keras
import numpy as np
import pytest

import zoo
from equivalence_tests import randomise_keras_weights
from weights_port import LayoutMismatchError
from zoo._verify import UnverifiedConfigWarning

sys.path.insert(0, str(Path(__file__).parents[1] / "test_weights_port"))
from test_conversion_safety import _marker_payload

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


def test_a_crafted_output_name_runs_nothing_inside_zoo_get(tmp_path: Path) -> None:
    """The file's recorded model is converted to verify it; a layer name that is code stays a name."""
    marker = tmp_path / "PWNED"
    model = keras.Sequential([keras.Input((6,)), keras.layers.Dense(5, activation="relu"),
                              keras.layers.Dense(4, activation="relu"),
                              keras.layers.Dense(3, activation="softmax",
                                                 name=_marker_payload(marker))])
    randomise_keras_weights(model, np.random.default_rng(2))
    model.save(tmp_path / "crafted.keras")
    zoo.get("mlp", backend="torch", weights=tmp_path / "crafted.keras", **MLP)
    assert not marker.exists()


def test_a_tanh_layer_named_like_a_module_attribute_is_still_refused(tmp_path: Path) -> None:
    """A layer called 'to' once broke the verification, which then let a tanh file load as the relu mlp."""
    model = keras.Sequential([keras.Input((6,)), keras.layers.Dense(5, activation="tanh", name="to"),
                              keras.layers.Dense(4, activation="relu", name="forward"),
                              keras.layers.Dense(3, activation="softmax", name="training")])
    randomise_keras_weights(model, np.random.default_rng(3))
    model.save(tmp_path / "to.keras")
    with pytest.raises(LayoutMismatchError, match="between Keras layer 'to' \\(Dense, activation='tanh'"):
        zoo.get("mlp", backend="torch", weights=tmp_path / "to.keras", **MLP)


def test_a_file_whose_recorded_config_keras_would_refuse_is_refused(tmp_path: Path) -> None:
    """A verification that cannot run because of what the file holds refuses the file (no warning, no load)."""
    import json
    import zipfile

    path = _mlp_file(tmp_path, "relu")
    with zipfile.ZipFile(path) as archive:
        members = {info.filename: archive.read(info) for info in archive.infolist()}
    config = json.loads(members["config.json"])
    config["config"]["layers"][1]["config"]["activation"] = 7
    members["config.json"] = json.dumps(config).encode()
    with zipfile.ZipFile(path, "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    with pytest.raises(LayoutMismatchError, match="config 'activation' is 7; Keras allows one of Keras's activations"):
        zoo.get("mlp", backend="torch", weights=path, **MLP)
