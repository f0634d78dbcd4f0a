"""PyTorch → Keras: state dicts back into Keras models, and the bit-exact round trip."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from porting import SMALL_CONFIGS

import zoo
from equivalence_tests import randomise_keras_weights
from weights_port import KerasFileError, LayoutMismatchError, PortError


def _randomised_keras(name: str, seed: int = 0):
    model = zoo.get(name, backend="keras", **SMALL_CONFIGS[name])
    randomise_keras_weights(model, np.random.default_rng(seed))
    return model


def _equal_weights(a, b) -> bool:
    return all(np.array_equal(x, y) for x, y in zip(a.get_weights(), b.get_weights(), strict=True))


@pytest.mark.parametrize("name", sorted(SMALL_CONFIGS))
def test_keras_to_torch_to_keras_is_bit_exact(name: str, tmp_path: Path) -> None:
    config = SMALL_CONFIGS[name]
    original = _randomised_keras(name)
    original.save(tmp_path / "original.keras")
    zoo.port(name, tmp_path / "original.keras", tmp_path / "ported.safetensors", **config)
    back = zoo.get(name, backend="keras", weights=tmp_path / "ported.safetensors", **config)
    assert _equal_weights(original, back)


def test_pt_state_dict_is_read_weights_only(tmp_path: Path) -> None:
    original = _randomised_keras("cifar_cnn")
    original.save(tmp_path / "cnn.keras")
    torch_model = zoo.get("cifar_cnn", backend="torch", weights=tmp_path / "cnn.keras", input_size=16)
    torch.save(torch_model.state_dict(), tmp_path / "finetuned.pt")
    back = zoo.get("cifar_cnn", backend="keras", weights=tmp_path / "finetuned.pt", input_size=16)
    assert _equal_weights(original, back)


def test_pickled_objects_are_never_unpickled(tmp_path: Path) -> None:
    class Payload:
        def __reduce__(self):
            return (print, ("this must never run",))

    torch.save({"weight": Payload()}, tmp_path / "evil.pt")
    with pytest.raises(KerasFileError, match="holds pickled Python objects besides tensors, which are refused"):
        zoo.get("mlp", backend="keras", weights=tmp_path / "evil.pt")


def test_cli_writes_a_weights_file_keras_loads(tmp_path: Path, capsys) -> None:
    from zoo._cli import main

    original = _randomised_keras("text_classifier", seed=3)
    original.save(tmp_path / "tc.keras")
    config = [w for k, v in SMALL_CONFIGS["text_classifier"].items() for w in ("--config", f"{k}={v}")]
    assert main(["port", "text_classifier", str(tmp_path / "tc.keras"), "-o", str(tmp_path / "tc.safetensors"),
                 *config]) == 0
    assert main(["port", "text_classifier", str(tmp_path / "tc.safetensors"), "-o", str(tmp_path / "tc.weights.h5"),
                 *config]) == 0
    fresh = zoo.get("text_classifier", backend="keras", **SMALL_CONFIGS["text_classifier"])
    fresh.load_weights(tmp_path / "tc.weights.h5")
    rng = np.random.default_rng(0)
    inputs = [rng.integers(0, 40, (3, 9)), rng.uniform(-1, 1, (3, 6)).astype("float32")]
    np.testing.assert_array_equal(fresh(inputs).numpy(), original(inputs).numpy())
    assert sorted(p.name for p in tmp_path.iterdir()) == ["tc.keras", "tc.safetensors", "tc.weights.h5"]


def test_output_names_must_fit_the_direction(tmp_path: Path) -> None:
    original = _randomised_keras("mlp")
    original.save(tmp_path / "mlp.keras")
    with pytest.raises(PortError, match=r"ports to a PyTorch \.safetensors"):
        zoo.port("mlp", tmp_path / "mlp.keras", tmp_path / "mlp.weights.h5", **SMALL_CONFIGS["mlp"])
    zoo.port("mlp", tmp_path / "mlp.keras", tmp_path / "mlp.safetensors", **SMALL_CONFIGS["mlp"])
    with pytest.raises(PortError, match=r"ports to a Keras 3 weights file"):
        zoo.port("mlp", tmp_path / "mlp.safetensors", tmp_path / "out.safetensors", **SMALL_CONFIGS["mlp"])


def test_state_dict_of_another_config_is_refused_before_assigning(tmp_path: Path) -> None:
    original = _randomised_keras("mlp")
    original.save(tmp_path / "mlp.keras")
    zoo.port("mlp", tmp_path / "mlp.keras", tmp_path / "mlp.safetensors", **SMALL_CONFIGS["mlp"])
    with pytest.raises(LayoutMismatchError):
        zoo.get("mlp", backend="keras", weights=tmp_path / "mlp.safetensors", in_features=12, hidden=(9, 8))
