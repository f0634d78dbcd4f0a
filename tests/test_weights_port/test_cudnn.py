"""Keras 2's real ``CuDNNLSTM`` / ``CuDNNGRU`` files, written by tf_keras's own CuDNN layer classes.

The CuDNN layers keep their kernels in cuDNN's layout (each gate's input block is the
row-major flattening of a (units, in) matrix, each recurrent block transposed) and two
biases. The reference is tf_keras itself: the same file loaded into plain ``LSTM`` /
``GRU(reset_after=True)`` layers, which tf_keras's loader converts from the CuDNN layout.
The layers build and save on a CPU machine; only calling them needs a GPU.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

import weights_port
import zoo

TOKENS, FEATURES, UNITS = 7, 5, 3


def _layers(cudnn: bool) -> tuple[Any, Any]:
    import tf_keras

    if cudnn:
        from tf_keras.src.layers.rnn.cudnn_gru import CuDNNGRU
        from tf_keras.src.layers.rnn.cudnn_lstm import CuDNNLSTM

        return CuDNNLSTM, CuDNNGRU
    return (lambda units, **kw: tf_keras.layers.LSTM(units, recurrent_activation="sigmoid", **kw),
            lambda units, **kw: tf_keras.layers.GRU(units, recurrent_activation="sigmoid", reset_after=True, **kw))


def _model(kind: str, bidirectional: bool, sequences: bool, state: bool, cudnn: bool) -> Any:
    import tf_keras

    lstm, gru = _layers(cudnn)
    layer = (lstm if kind == "LSTM" else gru)(UNITS, return_sequences=sequences, return_state=state, name="rnn")
    if bidirectional:
        layer = tf_keras.layers.Bidirectional(layer, name="rnn")
    inputs = tf_keras.Input((TOKENS, FEATURES), name="x")
    outputs = layer(inputs)
    return tf_keras.Model(inputs, outputs, name="cudnn_model")


def _saved_pair(tmp_path: Path, kind: str, bidirectional: bool, sequences: bool, state: bool) -> tuple[Path, Any]:
    """A file written by the CuDNN layer, and tf_keras's plain twin that loaded it."""
    model = _model(kind, bidirectional, sequences, state, cudnn=True)
    rng = np.random.default_rng(len(kind) + 2 * bidirectional + 4 * sequences + 8 * state)
    model.set_weights([rng.uniform(-0.8, 0.8, w.shape).astype("float32") for w in model.get_weights()])
    path = tmp_path / "cudnn.h5"
    model.save(path)
    twin = _model(kind, bidirectional, sequences, state, cudnn=False)
    twin.load_weights(str(path))
    return path, twin


CASES = [(kind, bidirectional, sequences, state) for kind in ("LSTM", "GRU") for bidirectional in (False, True)
         for sequences, state in ((False, False), (True, True))]


@pytest.mark.parametrize(("kind", "bidirectional", "sequences", "state"), CASES,
                         ids=[f"{k}-{'bi' if b else 'uni'}-{'seq' if s else 'last'}{'-state' if t else ''}"
                              for k, b, s, t in CASES])
def test_a_real_cudnn_file_converts_to_what_tf_keras_computes(tmp_path: Path, kind: str, bidirectional: bool,
                                                              sequences: bool, state: bool) -> None:
    path, twin = _saved_pair(tmp_path, kind, bidirectional, sequences, state)
    x = np.random.default_rng(0).uniform(-1, 1, (4, TOKENS, FEATURES)).astype("float32")
    expected = twin(x)
    expected = [np.asarray(e) for e in (expected if isinstance(expected, list | tuple) else [expected])]
    module = weights_port.convert(path).build()
    with torch.no_grad():
        actual = module(torch.from_numpy(x))
    actual = [a.numpy() for a in (actual if isinstance(actual, tuple) else (actual,))]
    assert len(actual) == len(expected)
    for a, e in zip(actual, expected, strict=True):
        np.testing.assert_allclose(a, e, atol=2e-6, rtol=1e-5)


def _kaggle_text_model(config: dict[str, Any], cudnn: bool) -> Any:
    """The text_classifier architecture as Kaggle kernels wrote it, with the CuDNN layers (or tf_keras's plain twin)."""
    import tf_keras
    from tf_keras import layers

    lstm, gru = _layers(cudnn)
    hidden = config["hidden"]
    tokens = tf_keras.Input((config["maxlen"],), name="tokens")
    meta = tf_keras.Input((config["n_features"],), name="meta")
    x = layers.Embedding(config["vocab_size"], config["embed_dim"], name="embedding")(tokens)
    x = layers.SpatialDropout1D(0.1, name="spatial_dropout")(x)
    x = layers.Bidirectional(lstm(hidden, return_sequences=True), name="bilstm")(x)
    x, forward, backward = layers.Bidirectional(gru(hidden, return_sequences=True, return_state=True), name="bigru")(x)
    features = layers.Concatenate(name="features")([forward, backward, layers.GlobalAveragePooling1D()(x),
                                                    layers.GlobalMaxPooling1D()(x), meta])
    x = layers.Dense(config["dense_units"], activation="relu", name="dense")(features)
    x = layers.Dropout(0.1, name="dropout")(x)
    return tf_keras.Model([tokens, meta], layers.Dense(1, activation="sigmoid", name="probability")(x))


def test_a_kaggle_era_cudnn_text_model_ports_and_converts_exactly(tmp_path: Path) -> None:
    config = {"vocab_size": 30, "embed_dim": 5, "maxlen": 6, "hidden": 4, "n_features": 3, "dense_units": 5}
    model = _kaggle_text_model(config, cudnn=True)
    rng = np.random.default_rng(2)
    model.set_weights([rng.uniform(-0.7, 0.7, w.shape).astype("float32") for w in model.get_weights()])
    model.save(tmp_path / "cudnn.h5")
    twin = _kaggle_text_model(config, cudnn=False)
    twin.load_weights(str(tmp_path / "cudnn.h5"))
    tokens, meta = rng.integers(0, 30, (4, 6)), rng.uniform(-1, 1, (4, 3)).astype("float32")
    expected = np.asarray(twin([tokens, meta]))
    ported = zoo.get("text_classifier", backend="torch", weights=tmp_path / "cudnn.h5", **config)
    with torch.no_grad():
        actual = ported(torch.from_numpy(tokens), torch.from_numpy(meta)).numpy()
        converted = weights_port.convert(tmp_path / "cudnn.h5").build()(torch.from_numpy(tokens),
                                                                        torch.from_numpy(meta)).numpy()
    np.testing.assert_allclose(actual, expected, atol=1e-5)
    np.testing.assert_allclose(converted, expected, atol=1e-5)


def test_pytorch_to_cudnn_keras_is_the_inverse(tmp_path: Path) -> None:
    """The reverse port writes cuDNN's layout into a CuDNN model: the round trip is bit-exact."""
    config = {"vocab_size": 30, "embed_dim": 5, "maxlen": 6, "hidden": 4, "n_features": 3, "dense_units": 5}
    model = _kaggle_text_model(config, cudnn=True)
    rng = np.random.default_rng(3)
    model.set_weights([rng.uniform(-0.7, 0.7, w.shape).astype("float32") for w in model.get_weights()])
    model.save(tmp_path / "cudnn.h5")
    ported = zoo.get("text_classifier", backend="torch", weights=tmp_path / "cudnn.h5", **config)
    state = {k: v.detach().numpy() for k, v in ported.state_dict().items()}
    fresh = _kaggle_text_model(config, cudnn=True)
    assignments = weights_port.torch_to_keras(state, ported, fresh)
    weights_port.assign_to_keras(assignments)
    for a, b in zip(fresh.get_weights(), model.get_weights(), strict=True):
        np.testing.assert_array_equal(a, b)
