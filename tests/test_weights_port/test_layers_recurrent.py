"""Recurrent rules against real Keras layers (weights_port.porting._layers_recurrent)."""

from __future__ import annotations

from pathlib import Path

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


# --------------------------------------------------------------------------- conversion: RNN(cell) and ConvLSTM

TOKENS = np.array([[0, 0, 3, 4, 2, 1], [3, 1, 0, 0, 4, 2], [2, 4, 1, 3, 0, 0], [1, 2, 3, 4, 2, 1]])
"""Padding at the start, in the middle, at the end, and none."""


def _keras(flavour: str):
    if flavour == "tf_keras":
        import tf_keras

        return tf_keras
    return keras


def _file(flavour: str, tmp_path, stem: str = "model"):
    return tmp_path / (f"{stem}.keras" if flavour == "keras" else f"{stem}.h5")


def _proven(model, path) -> list:
    """Saved with random weights (biases too), converted and compared with Keras reloading the file, both dtypes."""
    from equivalence_tests import check_conversion

    randomise_keras_weights(model, np.random.default_rng(0))
    model.save(path)
    check = check_conversion(path)
    assert check.passed, (check.results, check.reports)
    assert {r.dtype for r in check.results} == {"float32", "float64"}
    return check.results


def _flat(outputs) -> list:
    """A call's outputs as one list (Keras 3 nests an LSTM cell's (h, c) in a stack's states)."""
    if isinstance(outputs, list | tuple):
        return [t for item in outputs for t in _flat(item)]
    return [outputs]


@pytest.mark.parametrize("flavour", ["keras", pytest.param("tf_keras", marks=pytest.mark.sweep)])
def test_rnn_of_cells_converts_as_the_layers_they_make(flavour: str, tmp_path) -> None:
    """RNN(LSTMCell/GRUCell/SimpleRNNCell) as the fused nn.* module or RecurrentLoop, StackedRNNCells one module per cell
    (states cell by cell, an LSTM cell's h and c), Bidirectional(RNN(cell)); Keras 3 keeps a stack's arrays in cell-name
    order, HDF5 in cell order."""
    K = _keras(flavour)
    Lk = K.layers
    x = K.Input((6, 3))
    stacked = Lk.RNN(Lk.StackedRNNCells([Lk.LSTMCell(4), Lk.GRUCell(2, use_bias=False),
                                         Lk.SimpleRNNCell(3, activation="relu")]),
                     return_sequences=True, return_state=True, name="stacked")(x)
    single = Lk.RNN(Lk.LSTMCell(4), return_state=True, go_backwards=True, name="single")(x)
    both = Lk.Bidirectional(Lk.RNN(Lk.GRUCell(4, recurrent_activation="hard_sigmoid")), name="both")(x)
    simple = Lk.RNN(Lk.SimpleRNNCell(3), name="simple")(x)
    halves = Lk.Bidirectional(Lk.RNN(Lk.LSTMCell(2), return_sequences=True, return_state=True), merge_mode=None,
                              name="halves")(x)  # forward, backward, then h, c of each direction
    model = K.Model(x, [*_flat(stacked), *single, both, simple, *halves])
    path = _file(flavour, tmp_path)
    _proven(model, path)
    import weights_port

    source = weights_port.convert(path).source
    assert "self.stacked_cell0 = nn.LSTM(3, 4" in source and "self.stacked_cell1 = nn.GRU(4, 2" in source
    assert "RecurrentLoop(" in source  # the hard-sigmoid GRU


@pytest.mark.parametrize("flavour", ["keras", pytest.param("tf_keras", marks=pytest.mark.sweep)])
def test_masked_rnn_of_cells(flavour: str, tmp_path) -> None:
    """A mask skips a step for every cell of a stack (each cell's module gets it); zero_output_for_mask, go_backwards,
    a reset-before GRU cell and a masked Bidirectional(RNN(cell)); padded at the start, middle and end."""
    import torch

    import weights_port
    from equivalence_tests._convert_check import _as_float64
    from weights_port.tolerance import compare_arrays

    K = _keras(flavour)
    Lk = K.layers
    tokens = K.Input((6,), dtype="int32")
    x = Lk.Embedding(5, 3, mask_zero=True)(tokens)
    states = Lk.RNN(Lk.StackedRNNCells([Lk.LSTMCell(4), Lk.GRUCell(2, reset_after=False), Lk.SimpleRNNCell(3)]),
                    return_state=True, go_backwards=True, name="stacked")(x)
    zeroed = Lk.RNN(Lk.StackedRNNCells([Lk.GRUCell(3), Lk.LSTMCell(2)]), zero_output_for_mask=True,
                    return_sequences=True, name="zeroed")(x)
    last = Lk.RNN(Lk.StackedRNNCells([Lk.GRUCell(3), Lk.LSTMCell(2)]), zero_output_for_mask=True, name="last")(x)
    both = Lk.Bidirectional(Lk.RNN(Lk.LSTMCell(3), return_sequences=True), merge_mode="sum", name="both")(x)
    model = K.Model(tokens, [*_flat(states), Lk.GlobalAveragePooling1D()(zeroed), last,
                             Lk.GlobalMaxPooling1D()(both)])
    randomise_keras_weights(model, np.random.default_rng(0))
    path = _file(flavour, tmp_path)
    model.save(path)
    for dtype in ("float32", "float64"):
        reference = model if dtype == "float32" else _as_float64(model)
        expected = [np.asarray(e) for e in reference(TOKENS)]
        with torch.no_grad():
            actual = weights_port.convert(path, dtype=dtype).build()(torch.from_numpy(TOKENS))
        assert len(actual) == len(expected) == 8
        for got, want in zip(actual, expected, strict=True):
            agreement = compare_arrays(got.numpy(), want, dtype)
            assert agreement.passed, (dtype, agreement)


def test_a_bidirectional_stack_of_cells_is_refused(tmp_path) -> None:
    import weights_port

    x = keras.Input((5, 3))
    y = L.Bidirectional(L.RNN(L.StackedRNNCells([L.LSTMCell(2), L.LSTMCell(2)])))(x)
    keras.Model(x, y).save(tmp_path / "model.keras")
    with pytest.raises(weights_port.UnsupportedLayerError, match="wraps an RNN of StackedRNNCells"):
        weights_port.convert(tmp_path / "model.keras")


@pytest.mark.parametrize("flavour", ["keras", pytest.param("tf_keras", marks=pytest.mark.sweep)])
def test_conv_lstm_1d_2d_3d(flavour: str, tmp_path) -> None:
    """ConvLSTM1D/2D/3D as the runtime ConvLSTM: 'same' padding with strides (TensorFlow's odd pixel after), dilation,
    no bias, go_backwards, return_sequences and return_state, hard-sigmoid gates (tf.keras's default, Keras 2's form)."""
    K = _keras(flavour)
    Lk = K.layers
    video = K.Input((4, 9, 12, 2))
    seq = Lk.ConvLSTM2D(3, 3, padding="same", strides=2, return_sequences=True, name="c2")(video)
    last, h, c = Lk.ConvLSTM2D(2, (2, 3), dilation_rate=(1, 2), go_backwards=True, return_state=True,
                               recurrent_activation="hard_sigmoid", name="c2_back")(seq)
    signal = K.Input((5, 9, 3))
    s = Lk.ConvLSTM1D(4, 3, padding="same", use_bias=False, return_sequences=True, name="c1")(signal)
    s = Lk.ConvLSTM1D(2, 2, strides=2, name="c1_last")(s)
    volume = K.Input((3, 5, 4, 6, 2))
    v = Lk.ConvLSTM3D(2, 2, padding="same", name="c3")(volume)
    model = K.Model([video, signal, volume], [seq, last, h, c, s, Lk.Dense(3)(v)])
    path = _file(flavour, tmp_path)
    _proven(model, path)
    import weights_port

    source = weights_port.convert(path).source
    assert "class ConvLSTM(nn.Module)" in source and "self.c2 = ConvLSTM(" in source


@pytest.mark.sweep
def test_conv_lstm_channels_first_from_tf_keras(tmp_path) -> None:
    """data_format='channels_first' (tf.keras runs it on a CPU): time and channels swapped around the module."""
    import tf_keras as K

    cf = "channels_first"
    video = K.Input((4, 2, 9, 8))
    seq = K.layers.ConvLSTM2D(3, 3, padding="same", strides=2, return_sequences=True, data_format=cf)(video)
    last, h, c = K.layers.ConvLSTM2D(2, (2, 3), go_backwards=True, return_state=True, data_format=cf)(seq)
    signal = K.Input((5, 3, 9))
    s = K.layers.ConvLSTM1D(4, 3, padding="same", return_sequences=True, data_format=cf)(signal)
    pooled = K.layers.GlobalAveragePooling2D(data_format=cf)(h)
    _proven(K.Model([video, signal], [seq, last, h, c, s, pooled]), tmp_path / "cf.h5")


_MAKE_CHANNELS_FIRST = """
import sys, numpy as np, keras
L = keras.layers
cf = "channels_first"
video = keras.Input((4, 2, 9, 8))
seq = L.ConvLSTM2D(3, 3, padding="same", strides=2, return_sequences=True, data_format=cf)(video)
last, h, c = L.ConvLSTM2D(2, (2, 3), go_backwards=True, return_state=True, data_format=cf)(seq)
signal = keras.Input((5, 3, 9))
s = L.ConvLSTM1D(4, 3, padding="same", return_sequences=True, data_format=cf)(signal)
model = keras.Model([video, signal], [seq, last, h, c, s])
rng = np.random.default_rng(0)
model.set_weights([rng.uniform(-0.8, 0.8, w.shape).astype("float32") for w in model.get_weights()])
model.save(sys.argv[1] + "/cf.keras")
reloaded = keras.models.load_model(sys.argv[1] + "/cf.keras")
x = [rng.uniform(-1, 1, (2, 4, 2, 9, 8)).astype("float32"), rng.uniform(-1, 1, (2, 5, 3, 9)).astype("float32")]
outputs = {"x0": x[0], "x1": x[1]}
for i, y in enumerate(reloaded(x)):
    outputs[f"y{i}"] = np.asarray(y.detach().cpu())
np.savez(sys.argv[1] + "/reference.npz", **outputs)
"""


@pytest.mark.sweep
def test_conv_lstm_channels_first_from_keras3(tmp_path) -> None:
    """Keras 3 on TensorFlow cannot run a channels-first ConvLSTM on a CPU; its torch backend is the reference
    (float32 only, as in test_channels_first)."""
    from equivalence_tests import compare_arrays
    from tests.subprocess_helpers import run_python
    from weights_port import convert

    done = run_python(f"import sys; sys.argv = ['make', {str(tmp_path)!r}]\n" + _MAKE_CHANNELS_FIRST,
                      env={"KERAS_BACKEND": "torch"})
    assert done.returncode == 0, done.stderr[-3000:]
    reference = np.load(tmp_path / "reference.npz")
    with torch.no_grad():
        outputs = convert(tmp_path / "cf.keras").build()(torch.from_numpy(reference["x0"]),
                                                         torch.from_numpy(reference["x1"]))
    for i, actual in enumerate(outputs):
        agreement = compare_arrays(actual.numpy(), reference[f"y{i}"], "float32")
        assert agreement.passed, (i, agreement)


CONV_LSTM_CASES = [(n, padding, strides, dilation, backwards, sequences, state)
                   for n in (1, 2, 3) for padding in ("valid", "same") for strides, dilation in ((1, 1), (2, 1), (1, 2))
                   for backwards, sequences, state in ((False, True, False), (True, False, True))]


@pytest.mark.sweep
@pytest.mark.parametrize("flavour", ["keras", "tf_keras"])
@pytest.mark.parametrize(("n", "padding", "strides", "dilation", "backwards", "sequences", "state"), CONV_LSTM_CASES)
def test_conv_lstm_every_option(flavour: str, n: int, padding: str, strides: int, dilation: int, backwards: bool,
                                sequences: bool, state: bool, tmp_path) -> None:
    K = _keras(flavour)
    x = K.Input((3, *(6, 7, 5)[:n], 2))
    layer = getattr(K.layers, f"ConvLSTM{n}D")(2, 3 if n < 3 else 2, padding=padding, strides=strides,
                                               dilation_rate=dilation, go_backwards=backwards,
                                               return_sequences=sequences, return_state=state,
                                               recurrent_activation="sigmoid" if backwards else "hard_sigmoid")
    _proven(K.Model(x, layer(x)), _file(flavour, tmp_path))


@pytest.mark.sweep
@pytest.mark.parametrize("flavour", ["keras", "tf_keras"])
@pytest.mark.parametrize("cell", ["LSTMCell", "GRUCell", "SimpleRNNCell"])
@pytest.mark.parametrize(("sequences", "state", "backwards"), [(False, False, False), (True, True, False),
                                                               (False, True, True), (True, False, True)])
def test_rnn_of_each_cell_every_option(flavour: str, cell: str, sequences: bool, state: bool, backwards: bool,
                                       tmp_path) -> None:
    K = _keras(flavour)
    x = K.Input((5, 3))
    one = K.layers.RNN(getattr(K.layers, cell)(3), return_sequences=sequences, return_state=state,
                       go_backwards=backwards)(x)
    stack = K.layers.RNN(K.layers.StackedRNNCells([getattr(K.layers, cell)(4), K.layers.LSTMCell(2)]),
                         return_sequences=sequences, return_state=state, go_backwards=backwards)(x)
    both = K.layers.Bidirectional(K.layers.RNN(getattr(K.layers, cell)(2), return_sequences=sequences))(x)
    _proven(K.Model(x, [*_flat(one), *_flat(stack), both]), _file(flavour, tmp_path))


def test_conv_lstm_weights_rule_round_trips_and_keeps_keras_gate_order() -> None:

    rule = next(r for r in DEFAULT_RULES.for_torch_type("ConvLSTM") if r.keras_class == "ConvLSTM2D")  # the porter's
    rng = np.random.default_rng(7)
    arrays = [rng.standard_normal((3, 2, 5, 8)), rng.standard_normal((3, 2, 2, 8)), rng.standard_normal(8)]
    ctx = RuleContext(KerasLayer("c", "ConvLSTM2D", None, ()), TorchTarget("m", "ConvLSTM", {}))
    state = rule.to_torch(arrays, ctx)
    assert state["input_conv.weight"].shape == (8, 5, 3, 2) and state["recurrent_conv.weight"].shape == (8, 2, 3, 2)
    np.testing.assert_array_equal(state["input_conv.weight"][2:4, 1, 0, 1], arrays[0][0, 1, 1, 2:4])  # gate f
    for a, b in zip(rule.to_keras(state, ctx), arrays, strict=True):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("suffix", [".keras", pytest.param(".h5", marks=pytest.mark.sweep)])
def test_stacked_cells_find_their_arrays_whatever_their_names(suffix: str, tmp_path) -> None:
    """Keras 3 saves a stack's cells under class-based paths (lstm_cell, lstm_cell_1, ...), not their names, and reads
    them back in path order; here the names say the opposite of the paths, and the shapes would fit either way."""
    x = keras.Input((5, 3))
    cells = [L.LSTMCell(2, name="lstm_cell_1"), L.GRUCell(3), L.LSTMCell(2, name="lstm_cell"),
             *(L.SimpleRNNCell(2) for _ in range(10))]  # simple_rnn_cell_9 before _10
    _proven(keras.Model(x, L.RNN(L.StackedRNNCells(cells))(x)), tmp_path / f"model{suffix}")


@pytest.mark.parametrize("flavour", ["keras", pytest.param("tf_keras", marks=pytest.mark.sweep)])
def test_initial_state_starts_the_recurrence(flavour: str, tmp_path: Path) -> None:
    """``initial_state`` from an encoder's states or from model inputs: LSTM (h, c), GRU, SimpleRNN going
    backwards, Bidirectional (forward states then backward ones), and a masked decoder started from states."""
    import importlib

    from equivalence_tests import check_conversion, randomise_keras_weights

    K = importlib.import_module(flavour)
    L = K.layers
    enc, dec, h0, h1 = K.Input((5, 4)), K.Input((3, 4)), K.Input((6,)), K.Input((6,))
    tokens = K.Input((4,), dtype="int32")
    _, h, c = L.LSTM(6, return_state=True)(enc)
    _, g = L.GRU(6, return_state=True)(enc)
    _, *states = L.Bidirectional(L.LSTM(6, return_sequences=True, return_state=True))(enc)
    outputs = [L.LSTM(6)(dec, initial_state=[h, c]), L.GRU(6, return_sequences=True)(dec, initial_state=[g]),
               L.Bidirectional(L.LSTM(6))(dec, initial_state=states),
               L.SimpleRNN(6, go_backwards=True)(dec, initial_state=[h0]),
               L.Bidirectional(L.GRU(6))(dec, initial_state=[h0, h1]),
               L.LSTM(6, return_sequences=True)(L.Embedding(7, 4, mask_zero=True)(tokens), initial_state=[h, c])]
    model = K.Model([enc, dec, h0, h1, tokens], outputs)
    randomise_keras_weights(model, np.random.default_rng(0))
    path = tmp_path / ("seq2seq.keras" if flavour == "keras" else "seq2seq.h5")
    model.save(path)
    check = check_conversion(path, keras_model=model)
    assert check.passed, (check.results, check.reports)


def test_check_reports_a_divergence_at_a_layer_that_returns_states(tmp_path: Path,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    """With initial_state dropped again (the old bug), --check names the decoder, whose sequence and states are
    outputs of different shapes, instead of crashing on them."""
    from equivalence_tests import check_conversion
    from weights_port.conversion import _rules_recurrent

    enc, dec = keras.Input((5, 4)), keras.Input((3, 4))
    _, h, c = keras.layers.LSTM(6, return_state=True)(enc)
    sequence, _, _ = keras.layers.LSTM(6, return_sequences=True, return_state=True, name="decoder")(
        dec, initial_state=[h, c])
    model = keras.Model([enc, dec], keras.layers.Dense(2)(sequence))
    randomise_keras_weights(model, np.random.default_rng(0))
    model.save(tmp_path / "seq2seq.keras")
    monkeypatch.setattr(_rules_recurrent, "_initial_state", lambda *args: None)
    check = check_conversion(tmp_path / "seq2seq.keras", dtypes=("float64",))
    assert not check.passed and "diverges at Keras layer 'decoder' (LSTM)" in check.reports[0], check.reports
