"""Recurrent rules against real Keras layers (weights_port._layers_recurrent)."""

from __future__ import annotations

import keras
import numpy as np
import pytest
import torch
from torch import nn

from equivalence_tests import randomise_keras_weights
from weights_port import DEFAULT_RULES, KerasLayer, RuleContext, TorchTarget, load_into_torch, open_keras

L = keras.layers
F64 = "float64"


def _port(keras_model: keras.Model, torch_model: nn.Module, seed: int = 0) -> nn.Module:
    randomise_keras_weights(keras_model, np.random.default_rng(seed))
    load_into_torch(open_keras(keras_model), torch_model.double())
    return torch_model.eval()


def _x(*shape: int, seed: int = 1) -> np.ndarray:
    return np.random.default_rng(seed).uniform(-1, 1, shape)


class LastStep(nn.Module):
    def __init__(self, rnn: nn.Module) -> None:
        super().__init__()
        self.rnn = rnn

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.rnn(x)[0][:, -1]


@pytest.mark.parametrize(("keras_layer", "torch_layer"), [
    (lambda: L.LSTM(5, dtype=F64), lambda: nn.LSTM(3, 5, batch_first=True)),
    (lambda: L.LSTM(5, use_bias=False, dtype=F64), lambda: nn.LSTM(3, 5, bias=False, batch_first=True)),
    (lambda: L.GRU(5, dtype=F64), lambda: nn.GRU(3, 5, batch_first=True)),
    (lambda: L.SimpleRNN(5, dtype=F64), lambda: nn.RNN(3, 5, batch_first=True)),
    (lambda: L.SimpleRNN(5, activation="relu", dtype=F64), lambda: nn.RNN(3, 5, nonlinearity="relu", batch_first=True)),
])
def test_unidirectional_layers(keras_layer, torch_layer) -> None:
    keras_model = keras.Sequential([keras.Input((11, 3), dtype=F64), keras_layer()])
    torch_model = _port(keras_model, LastStep(torch_layer()))
    x = _x(4, 11, 3)
    with torch.no_grad():
        np.testing.assert_allclose(torch_model(torch.from_numpy(x)).numpy(), keras_model(x).numpy(), atol=1e-12)


def test_simple_rnn_activation_mismatch_is_named() -> None:
    from weights_port import LayoutMismatchError

    keras_model = keras.Sequential([keras.Input((4, 3)), L.SimpleRNN(2, activation="relu")])
    with pytest.raises(LayoutMismatchError, match="uses activation 'relu'.*nonlinearity 'tanh'"):
        load_into_torch(open_keras(keras_model), LastStep(nn.RNN(3, 2, batch_first=True)))


class Merged(nn.Module):
    """A bidirectional LSTM whose two directions are merged the way Keras's merge_mode does."""

    def __init__(self, mode: str) -> None:
        super().__init__()
        self.rnn = nn.LSTM(3, 4, batch_first=True, bidirectional=True)
        self.mode = mode

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out, _ = self.rnn(x)
        forward, backward = out.unflatten(-1, (2, 4)).unbind(-2)
        return {"concat": out, "sum": forward + backward, "mul": forward * backward,
                "ave": (forward + backward) / 2}[self.mode]


@pytest.mark.parametrize("mode", ["concat", "sum", "mul", "ave"])
def test_bidirectional_every_merge_mode(mode: str) -> None:
    keras_model = keras.Sequential([keras.Input((9, 3), dtype=F64),
                                    L.Bidirectional(L.LSTM(4, return_sequences=True, dtype=F64), merge_mode=mode,
                                                    dtype=F64)])
    torch_model = _port(keras_model, Merged(mode))
    x = _x(3, 9, 3)
    with torch.no_grad():
        np.testing.assert_allclose(torch_model(torch.from_numpy(x)).numpy(), keras_model(x).numpy(), atol=1e-12)


@pytest.mark.parametrize("kind", ["LSTM", "GRU"])
def test_bidirectional_return_state_order(kind: str) -> None:
    inputs = keras.Input((7, 3), dtype=F64)
    layer = getattr(L, kind)(4, return_sequences=True, return_state=True, dtype=F64)
    outputs = L.Bidirectional(layer, dtype=F64)(inputs)
    keras_model = keras.Model(inputs, outputs)
    rnn = getattr(nn, kind)(3, 4, batch_first=True, bidirectional=True)
    holder = nn.Sequential(rnn)
    _port(keras_model, holder)
    x = _x(5, 7, 3)
    expected = [t.numpy() for t in keras_model(x)]
    with torch.no_grad():
        out, state = rnn(torch.from_numpy(x))
    if kind == "LSTM":  # Keras: [output, h_fwd, c_fwd, h_bwd, c_bwd]
        h_n, c_n = state
        got = [out, h_n[0], c_n[0], h_n[1], c_n[1]]
    else:  # Keras: [output, h_fwd, h_bwd]
        got = [out, state[0], state[1]]
    for g, e in zip(got, expected, strict=True):
        np.testing.assert_allclose(g.numpy(), e, atol=1e-12)


def test_time_distributed_conv_pool_flatten_and_dense() -> None:
    keras_model = keras.Sequential([
        keras.Input((4, 6, 6, 2), dtype=F64),
        L.TimeDistributed(L.Conv2D(3, 3, dtype=F64), dtype=F64),
        L.TimeDistributed(L.MaxPooling2D(2, dtype=F64), dtype=F64),
        L.TimeDistributed(L.Flatten(dtype=F64), dtype=F64),
        L.TimeDistributed(L.Dense(5, dtype=F64), dtype=F64),
    ])

    class PerFrame(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.frames = nn.Sequential(nn.Conv2d(2, 3, 3), nn.MaxPool2d(2), nn.Flatten())
            self.dense = nn.Linear(12, 5)
            self.keras_port_hints = {"dense": {"flatten_from": (3, 2, 2)}}

        def forward(self, video: torch.Tensor) -> torch.Tensor:
            n, t = video.shape[:2]
            return self.dense(self.frames(video.flatten(0, 1)).unflatten(0, (n, t)))

    torch_model = _port(keras_model, PerFrame())
    x = _x(2, 4, 6, 6, 2)
    with torch.no_grad():
        actual = torch_model(torch.from_numpy(np.moveaxis(x, -1, 2).copy())).numpy()
    np.testing.assert_allclose(actual, keras_model(x).numpy(), atol=1e-12)


def test_embedding_and_repeat_vector() -> None:
    tokens = keras.Input((5,), dtype="int64")
    x = L.Embedding(13, 4, dtype=F64)(tokens)
    x = L.LSTM(3, dtype=F64)(x)
    keras_model = keras.Model(tokens, L.RepeatVector(2, dtype=F64)(x))

    class EmbedRepeat(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.embedding = nn.Embedding(13, 4)
            self.lstm = nn.LSTM(4, 3, batch_first=True)

        def forward(self, ids: torch.Tensor) -> torch.Tensor:
            _, (h_n, _) = self.lstm(self.embedding(ids))
            return h_n[-1].unsqueeze(1).expand(-1, 2, -1)

    torch_model = _port(keras_model, EmbedRepeat())
    ids = np.random.default_rng(2).integers(0, 13, (3, 5))
    with torch.no_grad():
        np.testing.assert_allclose(torch_model(torch.from_numpy(ids)).numpy(), keras_model(ids).numpy(), atol=1e-12)


@pytest.mark.parametrize(("keras_class", "torch_type", "shapes", "bidirectional"), [
    ("LSTM", "LSTM", [(6, 20), (5, 20), (20,)], False),
    ("GRU", "GRU", [(6, 15), (5, 15), (2, 15)], False),
    ("SimpleRNN", "RNN", [(6, 5), (5, 5), (5,)], False),
    ("Bidirectional", "GRU", [(6, 15), (5, 15), (2, 15)] * 2, True),
    ("Bidirectional", "LSTM", [(6, 20), (5, 20), (20,)] * 2, True),
])
def test_rules_round_trip_bit_exactly(keras_class: str, torch_type: str, shapes, bidirectional: bool) -> None:
    rule = next(r for r in DEFAULT_RULES.for_torch_type(torch_type) if r.keras_class == keras_class)
    rng = np.random.default_rng(7)
    arrays = [rng.standard_normal(s) for s in shapes]
    ctx = RuleContext(KerasLayer("l", keras_class, None, ()),
                      TorchTarget("m", torch_type, {}, {}, {"bidirectional": bidirectional}))
    state = rule.to_torch(arrays, ctx)
    back = rule.to_keras(state, ctx)
    if keras_class == "LSTM" or (keras_class == "Bidirectional" and torch_type == "LSTM"):
        assert all(np.all(v == 0) for k, v in state.items() if k.startswith("bias_hh"))
    for a, b in zip(back, arrays, strict=True):
        np.testing.assert_array_equal(a, b)


def test_gru_gates_are_reordered_z_r_h_to_r_z_n() -> None:
    rule = next(r for r in DEFAULT_RULES.for_torch_type("GRU") if r.keras_class == "GRU")
    units = 2
    kernel = np.repeat(np.array([[0.0, 1.0, 2.0]]), units, axis=1).reshape(1, 3 * units)  # columns z z r r h h
    ctx = RuleContext(KerasLayer("g", "GRU", None, ()), TorchTarget("m", "GRU", {}))
    state = rule.to_torch([kernel, np.zeros((units, 3 * units)), np.zeros((2, 3 * units))], ctx)
    assert state["weight_ih_l0"][:, 0].tolist() == [1.0, 1.0, 0.0, 0.0, 2.0, 2.0]  # r r z z n n
