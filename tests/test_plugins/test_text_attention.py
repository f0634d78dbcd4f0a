"""The installed zoo-text-attention plugin: listed, built, ported (custom layer), checked."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from porting import save
from subprocess_helpers import run_python

import zoo
from equivalence_tests import check_architecture, randomise_keras_weights, run_keras, run_torch

CONFIG = {"vocab_size": 50, "embed_dim": 6, "maxlen": 12, "hidden": 5, "attention_units": 7, "dense_units": 4}


def test_plugin_is_installed_as_a_distribution_and_listed() -> None:
    report = next(r for r in zoo.plugins() if r.distribution == "zoo-text-attention")
    assert report.version == "0.1.0" and report.architectures == ["text_attention"] and report.error is None
    assert report.rules == ["Attention → AttentionPooling", "Attention (zoo convert)"]
    assert zoo.info("text_attention").registered_by == "zoo-text-attention 0.1.0"


def test_plugin_import_is_framework_free() -> None:
    result = run_python("""
        import sys, zoo
        assert "text_attention" in zoo.list_models()
        zoo.info("text_attention")
        assert not any(m in sys.modules for m in ("torch", "tensorflow", "keras")), "framework imported"
        print("clean")
    """)
    assert "clean" in result.stdout, result.stderr


def _independent_keras_model(dtype: str = "float32"):
    """Written apart from the plugin's builder: Sequential, other names, the same custom layer."""
    import keras
    from zoo_text_attention.keras_layer import Attention

    return keras.Sequential([
        keras.Input((CONFIG["maxlen"],), dtype="int32"),
        keras.layers.Embedding(CONFIG["vocab_size"], CONFIG["embed_dim"], dtype=dtype),
        keras.layers.Bidirectional(keras.layers.LSTM(CONFIG["hidden"], return_sequences=True, dtype=dtype),
                                   dtype=dtype),
        Attention(CONFIG["attention_units"], dtype=dtype, name="attn_pool"),
        keras.layers.Dense(CONFIG["dense_units"], activation="relu", dtype=dtype),
        keras.layers.Dense(1, activation="sigmoid", dtype=dtype),
    ], name="kaggle_kernel")


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("how", ["model.keras", "model.weights.h5", "model.h5"])
def test_files_with_the_custom_layer_port_exactly(how: str, dtype: str, tmp_path: Path) -> None:
    keras_model = _independent_keras_model(dtype)
    rng = np.random.default_rng(0)
    randomise_keras_weights(keras_model, rng)
    path = save(keras_model, tmp_path, how)
    model = zoo.get("text_attention", backend="torch", weights=path, dtype=dtype, **CONFIG)
    tokens = rng.integers(0, CONFIG["vocab_size"], (4, CONFIG["maxlen"]))
    specs = zoo.info("text_attention").inputs
    error = np.abs(run_torch(model, [tokens], specs)[0] - run_keras(keras_model, [tokens])[0]).max()
    assert error <= (1e-5 if dtype == "float32" else 1e-10)
    assert type(model.attention).__name__ == "AttentionPooling"


def test_saved_keras_file_reloads_with_its_registered_layer(tmp_path: Path) -> None:
    import keras

    keras_model = zoo.get("text_attention", backend="keras", **CONFIG)
    keras_model.save(tmp_path / "ta.keras")
    reloaded = keras.models.load_model(tmp_path / "ta.keras")
    assert type(reloaded.get_layer("attention")).__name__ == "Attention"
    tokens = np.random.default_rng(1).integers(0, CONFIG["vocab_size"], (2, 12))
    np.testing.assert_array_equal(reloaded(tokens).numpy(), keras_model(tokens).numpy())


def test_round_trip_back_to_keras_through_the_plugin_rule(tmp_path: Path) -> None:
    keras_model = zoo.get("text_attention", backend="keras", **CONFIG)
    randomise_keras_weights(keras_model, np.random.default_rng(2))
    keras_model.save(tmp_path / "ta.keras")
    zoo.port("text_attention", tmp_path / "ta.keras", tmp_path / "ta.safetensors", **CONFIG)
    back = zoo.get("text_attention", backend="keras", weights=tmp_path / "ta.safetensors", **CONFIG)
    assert all(np.array_equal(a, b) for a, b in zip(keras_model.get_weights(), back.get_weights(), strict=True))


def test_equivalence_check_picks_the_plugin_up() -> None:
    for dtype in ("float32", "float64"):
        result = check_architecture("text_attention", CONFIG, dtype, examples=2)
        assert result.passed, result.report


def test_any_sequence_length_works(tmp_path: Path) -> None:
    keras_model = zoo.get("text_attention", backend="keras", **CONFIG)
    randomise_keras_weights(keras_model, np.random.default_rng(3))
    keras_model.save(tmp_path / "ta.keras")
    model = zoo.get("text_attention", backend="torch", weights=tmp_path / "ta.keras", **CONFIG)
    tokens = np.random.default_rng(4).integers(0, 50, (3, 31))
    with torch.no_grad():
        actual = model(torch.from_numpy(tokens)).numpy()
    np.testing.assert_allclose(actual, keras_model(tokens).numpy(), atol=1e-5)
