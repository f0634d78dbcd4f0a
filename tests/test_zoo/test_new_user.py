"""What a new user hits first (README set-up, zoo.get/port with a live model, CLI conveniences)."""

from __future__ import annotations

from pathlib import Path

import keras
import numpy as np
import pytest

import zoo
from equivalence_tests import randomise_keras_weights
from weights_port import LayoutMismatchError
from zoo._cli import main

MLP = {"in_features": 6, "hidden": (5,), "num_classes": 3}


@pytest.fixture
def live_mlp() -> keras.Model:
    model = zoo.get("mlp", backend="keras", **MLP)
    randomise_keras_weights(model, np.random.default_rng(0))
    return model


def test_a_live_keras_model_is_a_source(live_mlp: keras.Model, tmp_path: Path) -> None:
    torch_model = zoo.get("mlp", backend="torch", weights=live_mlp, **MLP)
    np.testing.assert_array_equal(torch_model[0].weight.detach().numpy(), live_mlp.layers[1].kernel.numpy().T)
    written = zoo.port("mlp", live_mlp, tmp_path / "m.safetensors", **MLP)
    assert written.exists()
    copy = zoo.get("mlp", backend="keras", weights=live_mlp, **MLP)
    np.testing.assert_array_equal(copy.layers[1].kernel.numpy(), live_mlp.layers[1].kernel.numpy())


def test_a_mismatch_names_the_config_keyword_that_fits(live_mlp: keras.Model, tmp_path: Path) -> None:
    live_mlp.save(tmp_path / "m.keras")
    with pytest.raises(LayoutMismatchError, match="the file fits mlp with num_classes=3"):
        zoo.get("mlp", backend="torch", weights=tmp_path / "m.keras", in_features=6, hidden=(5,), num_classes=7)


def test_config_accepts_what_zoo_info_prints_and_several_pairs(live_mlp: keras.Model, tmp_path: Path, capsys) -> None:
    live_mlp.save(tmp_path / "m.keras")
    code = main(["port", "mlp", str(tmp_path / "m.keras"), "-o", str(tmp_path / "o.safetensors"),
                 "--config", "in_features=6", "hidden=(5,)", "num_classes=3"])
    assert code == 0, capsys.readouterr().err


def test_check_all_with_config_is_refused(capsys) -> None:
    assert main(["check", "--all", "--config", "num_classes=3"]) == 2
    assert "--config cannot be combined with --all" in capsys.readouterr().err


def test_version_and_list_patterns(capsys) -> None:
    with pytest.raises(SystemExit) as done:
        main(["--version"])
    assert done.value.code == 0 and capsys.readouterr().out.startswith("zoo 0.")
    assert main(["list", "*cnn", "mlp"]) == 0 and capsys.readouterr().out.split() == ["cifar_cnn", "mlp"]
    assert main(["list", "nothing*"]) == 2 and "no architecture matches 'nothing*'" in capsys.readouterr().err


def test_public_functions_document_parameters_and_errors() -> None:
    for function in (zoo.get, zoo.port):
        doc = function.__doc__ or ""
        assert "Raises:" in doc and all(word in doc for word in ("name", "dtype", "config"))
    assert "UnknownModelError" in (zoo.info.__doc__ or "")
