"""Bad files: every failure is a clear PortError naming what is wrong, never a bare traceback."""

from __future__ import annotations

import zipfile
from pathlib import Path

import h5py
import keras
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from porting import save
from subprocess_helpers import run_python

import zoo
from equivalence_tests import randomise_keras_weights
from weights_port import (
    KerasFileError,
    PortError,
    UnsupportedLayerError,
    WeightValueError,
    keras_to_state_dict,
    open_keras,
)

MLP = {"in_features": 6, "hidden": (5,), "num_classes": 3}


@pytest.mark.parametrize("dtype", ["float16", "bfloat16"])
def test_half_precision_files_port_to_the_requested_dtype(dtype: str, tmp_path: Path) -> None:
    model = keras.Sequential([keras.Input((6,)), keras.layers.Dense(5, activation="relu", dtype=dtype),
                              keras.layers.Dense(3, activation="softmax", dtype=dtype)])
    randomise_keras_weights(model, np.random.default_rng(0))
    for how in ("m.keras", "m.weights.h5"):
        path = save(model, tmp_path, how)
        torch_model = zoo.get("mlp", backend="torch", weights=path, dtype="float64", **MLP)
        expected = np.asarray(model.layers[0].kernel.numpy(), dtype=np.float64).T
        np.testing.assert_array_equal(torch_model[0].weight.detach().numpy(), expected)


def test_non_finite_weights_in_a_file_name_the_layer(tmp_path: Path, capsys) -> None:
    from zoo._cli import main

    model = zoo.get("mlp", backend="keras", **MLP)
    kernel = model.layers[-1].kernel
    poisoned = kernel.numpy()
    poisoned[0, 0] = np.inf
    kernel.assign(poisoned)
    model.save(tmp_path / "sick.keras")
    code = main(["port", "mlp", str(tmp_path / "sick.keras"), "-o", str(tmp_path / "out.safetensors"),
                 "--config", "in_features=6", "--config", "hidden=[5]", "--config", "num_classes=3"])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1 and "Keras layer 'classifier'" in err and "non-finite" in err
    assert not (tmp_path / "out.safetensors").exists()


def test_a_layer_type_without_rule_is_named(tmp_path: Path) -> None:
    model = keras.Sequential([keras.Input((6,)), keras.layers.Dense(5, activation="relu"), keras.layers.PReLU(),
                              keras.layers.Dense(3, activation="softmax")])
    model.save(tmp_path / "prelu.keras")
    with pytest.raises(UnsupportedLayerError, match=r"Keras layer 'p_re_lu(_\d+)?' is a PReLU, which no porting rule handles"):
        zoo.get("mlp", backend="torch", weights=tmp_path / "prelu.keras", **MLP)


def test_lambda_config_is_never_executed(tmp_path: Path) -> None:
    """A .keras whose Lambda would write a file if run: porting reads it as data, without Keras at all."""
    marker = tmp_path / "executed"
    inputs = keras.Input((6,))
    x = keras.layers.Dense(5, activation="relu")(inputs)
    writes_marker = eval(f"lambda t: (open({str(marker)!r}, 'w').close(), t)[1]")  # no closure: Keras must serialise it
    x = keras.layers.Lambda(writes_marker)(x)
    model = keras.Model(inputs, keras.layers.Dense(3, activation="softmax")(x))
    model.save(tmp_path / "lambda.keras")
    marker.unlink(missing_ok=True)  # building ran the lambda once; only porting is under test
    result = run_python(f"""
        import zoo
        zoo.port("mlp", {str(tmp_path / 'lambda.keras')!r}, {str(tmp_path / 'out.safetensors')!r},
                 in_features=6, hidden=(5,), num_classes=3)
        print("ported")
    """, not_installed=("tensorflow", "keras", "tf_keras"))
    assert "ported" in result.stdout, result.stderr
    assert not marker.exists()


def test_keras_zip_with_broken_config_json(tmp_path: Path) -> None:
    zoo.get("mlp", backend="keras", **MLP).save(tmp_path / "good.keras")
    with zipfile.ZipFile(tmp_path / "good.keras") as src, zipfile.ZipFile(tmp_path / "bad.keras", "w") as dst:
        for item in src.infolist():
            dst.writestr(item, b"{not json" if item.filename == "config.json" else src.read(item.filename))
    with pytest.raises(KerasFileError, match="config.json inside the archive is not valid JSON"):
        open_keras(tmp_path / "bad.keras")


def test_integer_dataset_in_a_weights_file(tmp_path: Path) -> None:
    zoo.get("mlp", backend="keras", **MLP).save_weights(tmp_path / "w.weights.h5")
    with h5py.File(tmp_path / "w.weights.h5", "r+") as f:
        kernel = f["layers/dense/vars/0"]
        shape = kernel.shape
        del f["layers/dense/vars/0"]
        f["layers/dense/vars/0"] = np.ones(shape, np.int32)
    with pytest.raises(WeightValueError, match="dtype int32, expected floating point"):
        zoo.get("mlp", backend="torch", weights=tmp_path / "w.weights.h5", **MLP)


# --------------------------------------------------------------------------- fuzzing


@pytest.fixture(scope="module")
def valid_files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, bytes]:
    import tf_keras

    directory = tmp_path_factory.mktemp("fuzz")
    model = zoo.get("mlp", backend="keras", **MLP)
    legacy = tf_keras.Sequential([tf_keras.Input((6,)), tf_keras.layers.Dense(5, activation="relu"),
                                  tf_keras.layers.Dense(3, activation="softmax")])
    files = {how: save(model, directory, how) for how in ("m.keras", "m.weights.h5", "m.h5")}
    files["legacy.h5"] = save(legacy, directory, "weights.h5")
    return {name: path.read_bytes() for name, path in files.items()}


@settings(max_examples=60, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.data_too_large])
@given(data=st.data())
def test_mutated_files_raise_only_port_errors(valid_files: dict[str, bytes], tmp_path_factory, data) -> None:
    import torch

    name = data.draw(st.sampled_from(sorted(valid_files)), label="format")
    content = bytearray(valid_files[name])
    if data.draw(st.booleans(), label="truncate"):
        content = content[: data.draw(st.integers(0, len(content) - 1), label="length")]
    else:
        for _ in range(data.draw(st.integers(1, 16), label="flips")):
            position = data.draw(st.integers(0, len(content) - 1))
            content[position] ^= data.draw(st.integers(1, 255))
    path = tmp_path_factory.mktemp("mutant") / name
    path.write_bytes(bytes(content))
    with torch.device("meta"):
        model = zoo._api.architecture("mlp").build_torch(**MLP, dtype="float32")
    try:
        with open_keras(path) as source:
            keras_to_state_dict(source, model)
    except PortError:
        pass  # the documented outcome for a damaged file
