"""The seven recurrent architectures: independent Keras files in every format, lengths, known traps."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import keras_reference as ref
import numpy as np
import pytest
import torch
from porting import FORMATS, keras_module, port_and_compare, save

import zoo
from weights_port import UnsupportedLayerError

MAX_ABS = {"float32": 1e-5, "float64": 1e-10}

CASES: dict[str, dict[str, Any]] = {
    "text_classifier": {"vocab_size": 97, "embed_dim": 12, "maxlen": 60, "hidden": 7, "n_features": 4,
                        "dense_units": 9},
    "echo_sequence": {"timesteps": 12, "n_features": 6, "units": 9},
    "damped_sine": {"timesteps": 50, "units": 8, "n_out": 5},
    "moving_square": {"frames": 7, "size": 11, "filters": 3, "units": 6},
    "addition_seq2seq": {"n_in": 8, "n_out": 3, "n_chars": 12, "encoder_units": 10, "decoder_units": 7},
    "cumsum_bidirectional": {"timesteps": 50, "units": 6},
    "shape_generation": {"units": 10},
}


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("fmt", list(FORMATS))
@pytest.mark.parametrize("name", list(CASES))
def test_independent_keras_file_ports_exactly(name: str, fmt: str, dtype: str, tmp_path: Path) -> None:
    flavour, how = FORMATS[fmt]
    config = CASES[name]
    keras_model = getattr(ref, name)(keras_module(flavour), dtype=dtype, **config)
    max_abs, passed = port_and_compare(name, keras_model, tmp_path, how, dtype, config, batch=4)
    assert passed and max_abs <= MAX_ABS[dtype], f"{name} via {fmt} [{dtype}]: max abs {max_abs:.3e}"


def _run_both(name: str, config: dict[str, Any], inputs: list[np.ndarray], tmp_path: Path) -> tuple[Any, Any]:
    from equivalence_tests import randomise_keras_weights, run_keras, run_torch
    from zoo._api import architecture
    from zoo._spec import resolve_config

    keras_model = zoo.get(name, backend="keras", **config)
    randomise_keras_weights(keras_model, np.random.default_rng(5))
    keras_model.save(tmp_path / "m.keras")
    torch_model = zoo.get(name, backend="torch", weights=tmp_path / "m.keras", **config)
    specs = architecture(name).inputs(resolve_config(architecture(name), config))
    return run_keras(keras_model, inputs)[0], run_torch(torch_model, inputs, specs)[0]


@pytest.mark.parametrize("steps", [1, 9, 64])
def test_sequence_length_may_differ_from_the_config(steps: int, tmp_path: Path) -> None:
    rng = np.random.default_rng(steps)
    for name, config, features in (("echo_sequence", {"n_features": 4}, 4), ("damped_sine", {}, 1),
                                   ("cumsum_bidirectional", {"units": 5}, 1)):
        x = rng.uniform(-1, 1, (3, steps, features)).astype("float32")
        expected, actual = _run_both(name, config, [x], tmp_path)
        np.testing.assert_allclose(actual, expected, atol=1e-5, err_msg=f"{name} at {steps} steps")
    tokens = rng.integers(0, 30, (3, steps))
    meta = rng.uniform(-1, 1, (3, 2)).astype("float32")
    expected, actual = _run_both("text_classifier", {"vocab_size": 30, "embed_dim": 4, "hidden": 3, "n_features": 2},
                                 [tokens, meta], tmp_path)
    np.testing.assert_allclose(actual, expected, atol=1e-5)


def test_video_frame_count_may_differ_from_the_config(tmp_path: Path) -> None:
    config = {"frames": 5, "size": 9, "filters": 2, "units": 4}
    video = np.random.default_rng(0).uniform(-1, 1, (2, 13, 9, 9, 1)).astype("float32")
    expected, actual = _run_both("moving_square", config, [video], tmp_path)
    np.testing.assert_allclose(actual, expected, atol=1e-5)


def test_text_classifier_keeps_samples_apart_in_the_final_states(tmp_path: Path) -> None:
    """``h_n.view(-1, 2 * hidden)`` interleaves samples once batch > 1; ours must match Keras and
    the buggy variant must not, so this test can tell them apart."""
    config = {"vocab_size": 40, "embed_dim": 6, "hidden": 5, "n_features": 3, "maxlen": 11}
    rng = np.random.default_rng(3)
    inputs = [rng.integers(0, 40, (4, 11)), rng.uniform(-1, 1, (4, 3)).astype("float32")]
    expected, actual = _run_both("text_classifier", config, inputs, tmp_path)
    np.testing.assert_allclose(actual, expected, atol=1e-5)

    model = zoo.get("text_classifier", backend="torch", weights=tmp_path / "m.keras", **config)
    with torch.no_grad():
        x = model.embedding(torch.from_numpy(inputs[0]))
        x, _ = model.lstm(x)
        x, h_n = model.gru(x)
        mixed = torch.cat([h_n.view(-1, 2 * 5), x.mean(1), x.amax(1), torch.from_numpy(inputs[1])], dim=1)
        buggy = model.head(mixed).numpy()
    assert np.abs(buggy - expected).max() > 1e-3


def test_reset_before_gru_is_refused_clearly(tmp_path: Path, capsys) -> None:
    import tf_keras

    config = CASES["text_classifier"]
    old_style = ref.text_classifier(tf_keras, dtype="float32", gru_reset_after=False, **config)
    for how in ("model.h5", "weights.h5"):
        path = save(old_style, tmp_path, how)
        with pytest.raises(UnsupportedLayerError, match="reset_after=False.*torch.nn.GRU cannot compute"):
            zoo.get("text_classifier", backend="torch", weights=path, **config)
    from zoo._cli import main

    args = [f"{k}={v}" for k, v in config.items()]
    code = main(["port", "text_classifier", str(path), "-o", str(tmp_path / "x.safetensors"),
                 *[word for a in args for word in ("--config", a)]])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1 and "reset_after=False" in err
    assert not (tmp_path / "x.safetensors").exists()


def test_legacy_hard_sigmoid_lstm_ports_exactly(tmp_path: Path) -> None:
    """A Keras 2 LSTM gated by hard_sigmoid (clip(0.2x + 0.5, 0, 1)) keeps that gate in PyTorch."""
    import tf_keras

    from equivalence_tests import randomise_keras_weights

    config = {"timesteps": 20, "n_features": 5, "units": 6}
    legacy = ref.echo_sequence(tf_keras, dtype="float64", recurrent_activation="hard_sigmoid", **config)
    randomise_keras_weights(legacy, np.random.default_rng(0))
    legacy.save(tmp_path / "legacy.h5")
    x = np.random.default_rng(1).uniform(-2, 2, (4, 20, 5))
    expected = legacy(x).numpy()

    model = zoo.get("echo_sequence", backend="torch", weights=tmp_path / "legacy.h5", dtype="float64", **config)
    assert type(model.lstm).__name__ == "GateActivationLSTM"
    with torch.no_grad():
        actual = model(torch.from_numpy(x)).numpy()
    assert np.abs(actual - expected).max() < 1e-10

    zoo.port("echo_sequence", tmp_path / "legacy.h5", tmp_path / "legacy.safetensors", dtype="float64", **config)
    reloaded = zoo.get("echo_sequence", backend="torch", weights=tmp_path / "legacy.safetensors", dtype="float64",
                       **config)
    with torch.no_grad():
        assert np.abs(reloaded(torch.from_numpy(x)).numpy() - expected).max() < 1e-10

    plain = zoo.get("echo_sequence", backend="torch", dtype="float64", **config)  # fused nn.LSTM, sigmoid gates
    plain.load_state_dict(model.state_dict())
    with torch.no_grad():
        assert np.abs(plain(torch.from_numpy(x)).numpy() - expected).max() > 1e-4


def test_recurrent_models_use_fused_batch_first_modules() -> None:
    for name in ("text_classifier", "echo_sequence", "damped_sine", "moving_square", "addition_seq2seq",
                 "cumsum_bidirectional", "shape_generation"):
        model = zoo.get(name, backend="torch", **({"vocab_size": 50, "embed_dim": 4} if name == "text_classifier" else {}))
        recurrent = [m for m in model.modules() if isinstance(m, torch.nn.LSTM | torch.nn.GRU)]
        assert recurrent and all(m.batch_first for m in recurrent), name
