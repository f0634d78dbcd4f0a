"""The public API: lazy framework imports, get/info/port behaviour (zoo._api)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from subprocess_helpers import run_python

import zoo
from zoo import BackendError, ConfigError, UnknownModelError


def test_import_list_and_info_import_no_framework() -> None:
    result = run_python("""
        import sys, zoo
        assert {"cifar_cnn", "mlp", "siamese", "text_classifier"} <= set(zoo.list_models()), zoo.list_models()
        for name in zoo.list_models():
            zoo.info(name)
        loaded = [m for m in ("torch", "tensorflow", "keras", "tf_keras") if m in sys.modules]
        assert not loaded, loaded
        print("clean")
    """)
    assert result.returncode == 0 and "clean" in result.stdout, result.stderr


def test_torch_backend_never_imports_tensorflow_or_keras(tmp_path: Path) -> None:
    keras_file = tmp_path / "cnn.keras"
    import keras  # write the file here, read it in a process that has no Keras at all

    zoo.get("cifar_cnn", backend="keras", input_size=16).save(keras_file)
    del keras
    result = run_python(f"""
        import sys, zoo
        for name in zoo.list_models():
            zoo.get(name, backend="torch", **({{"input_size": 65, "embedding_dim": 8}} if name == "siamese" else {{}}))
        zoo.get("cifar_cnn", backend="torch", weights={str(keras_file)!r}, input_size=16)
        zoo.port("cifar_cnn", {str(keras_file)!r}, {str(tmp_path / "out.safetensors")!r}, input_size=16)
        assert not any(m in sys.modules for m in ("tensorflow", "keras")), sorted(sys.modules)
        print("clean")
    """, not_installed=("tensorflow", "keras", "tf_keras"))
    assert result.returncode == 0 and "clean" in result.stdout, result.stderr
    assert (tmp_path / "out.safetensors").stat().st_size > 0


def test_keras_backend_never_imports_torch() -> None:
    result = run_python("""
        import sys, zoo
        zoo.get("mlp", backend="keras")
        assert "torch" not in sys.modules
        print("clean")
    """, not_installed=("torch",))
    assert result.returncode == 0 and "clean" in result.stdout, result.stderr


def test_bad_config_fails_before_any_framework_import() -> None:
    result = run_python("""
        import sys, zoo
        for kwargs in ({"hiden": 3}, {"hidden": "wide"}, {"in_features": -1}):
            try:
                zoo.get("mlp", backend="torch", **kwargs)
            except zoo.ConfigError as exc:
                print("ConfigError:", exc)
        assert not any(m in sys.modules for m in ("torch", "tensorflow", "keras")), "framework imported"
    """)
    assert result.returncode == 0, result.stderr
    assert result.stdout.count("ConfigError:") == 3


def test_missing_framework_is_a_clear_error() -> None:
    result = run_python("""
        import zoo
        try:
            zoo.get("mlp", backend="torch")
        except zoo.BackendError as exc:
            print(exc)
    """, not_installed=("torch",))
    assert "needs torch, which is not installed" in result.stdout, result.stderr
    assert "keras-torch-zoo[torch]" in result.stdout


def test_get_validates_backend_name_and_dtype() -> None:
    with pytest.raises(BackendError, match="'jax'"):
        zoo.get("mlp", backend="jax")
    with pytest.raises(ConfigError, match="'float16'"):
        zoo.get("mlp", dtype="float16")
    with pytest.raises(UnknownModelError, match="'resnet5'"):
        zoo.get("resnet5")


def test_torch_models_are_idiomatic_and_take_the_dtype() -> None:
    model = zoo.get("cifar_cnn", backend="torch", dtype="float64")
    assert isinstance(model, torch.nn.Module) and model.training
    assert {p.dtype for p in model.parameters()} == {torch.float64}
    assert model(torch.zeros(2, 3, 32, 32, dtype=torch.float64)).shape == (2, 10)
    siamese = zoo.get("siamese", backend="torch", input_size=65, embedding_dim=8)
    assert siamese(torch.rand(3, 1, 65, 65), torch.rand(3, 1, 65, 65)).shape == (3, 1)
    assert sum(p.numel() for p in zoo.get("siamese", backend="torch").parameters()) == pytest.approx(38.95e6, rel=1e-3)


def test_info_gives_shapes_in_both_layouts() -> None:
    details = zoo.info("cifar_cnn")
    assert details.inputs[0].keras_shape == (32, 32, 3) and details.inputs[0].torch_shape == (3, 32, 32)
    assert details.outputs[0].keras_shape == (10,)
    assert details.defaults == {"input_size": 32, "in_channels": 3, "num_classes": 10}
    assert "Koch" in zoo.info("siamese").source


def test_ported_model_is_in_inference_mode_and_matches_port_file(tmp_path: Path) -> None:
    keras_model = zoo.get("mlp", backend="keras")
    keras_model.save(tmp_path / "mlp.keras")
    model = zoo.get("mlp", backend="torch", weights=tmp_path / "mlp.keras")
    assert not model.training
    zoo.port("mlp", tmp_path / "mlp.keras", tmp_path / "mlp.safetensors")
    reloaded = zoo.get("mlp", backend="torch", weights=tmp_path / "mlp.safetensors")
    for (key, a), (_, b) in zip(model.state_dict().items(), reloaded.state_dict().items(), strict=False):
        assert torch.equal(a, b), key
    x = np.random.default_rng(0).uniform(-1, 1, (4, 64)).astype("float32")
    np.testing.assert_allclose(model(torch.from_numpy(x)).detach().numpy(), keras_model(x).numpy(), atol=1e-6)


def test_safetensors_for_another_config_is_rejected(tmp_path: Path) -> None:
    zoo.get("mlp", backend="keras").save(tmp_path / "mlp.keras")
    zoo.port("mlp", tmp_path / "mlp.keras", tmp_path / "mlp.safetensors")
    from weights_port import LayoutMismatchError

    with pytest.raises(LayoutMismatchError, match="shape mismatches"):
        zoo.get("mlp", backend="torch", weights=tmp_path / "mlp.safetensors", num_classes=3)


def test_keras_backend_loads_a_keras_file_by_structure(tmp_path: Path) -> None:
    import keras
    import keras_reference as ref

    theirs = ref.cifar_cnn(keras, input_size=16, in_channels=3, num_classes=4, dtype="float32")
    theirs.save_weights(tmp_path / "theirs.weights.h5")
    mine = zoo.get("cifar_cnn", backend="keras", weights=tmp_path / "theirs.weights.h5", input_size=16, num_classes=4)
    x = np.random.default_rng(1).uniform(-1, 1, (2, 16, 16, 3)).astype("float32")
    np.testing.assert_allclose(mine(x).numpy(), theirs(x).numpy(), atol=1e-6)
