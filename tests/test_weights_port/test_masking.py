"""Masks with Keras's semantics (conversion): padded steps anywhere in a sequence, not only at the end.

Keras 3 records a mask as a graph edge (a ``NotEqual``/``Any`` node passed as ``mask=``);
tf.keras computes it implicitly (``Embedding(mask_zero=True)``, ``Masking``) and passes it
to every layer whose call takes one. Each model is written by Keras itself with random
weights and compared on sequences padded at the start, in the middle and at the end.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

import weights_port
from equivalence_tests import randomise_keras_weights
from equivalence_tests._convert_check import _as_float64
from weights_port.tolerance import compare_arrays

TOKENS = np.array([[0, 0, 3, 4, 2, 1], [3, 1, 0, 0, 4, 2], [2, 4, 1, 3, 0, 0], [1, 2, 3, 4, 2, 1]])
"""Padding at the start, in the middle, at the end, and none."""


def _keras(flavour: str) -> Any:
    if flavour == "tf_keras":
        import tf_keras

        return tf_keras
    import keras

    return keras


def _assert_converts_exactly(model: Any, path: Path, inputs: list[np.ndarray]) -> None:
    rng = np.random.default_rng(0)
    randomise_keras_weights(model, rng)
    model.save(path)
    for dtype in ("float32", "float64"):
        reference = model if dtype == "float32" else _as_float64(model)
        arrays = [a.astype(dtype) if a.dtype.kind == "f" else a for a in inputs]
        expected = reference(arrays if len(arrays) > 1 else arrays[0])
        expected = [np.asarray(e) for e in (expected if isinstance(expected, list | tuple) else [expected])]
        module = weights_port.convert(path, dtype=dtype).build()
        with torch.no_grad():
            actual = module(*[torch.from_numpy(a) for a in arrays])
        actual = [a.numpy() for a in (actual if isinstance(actual, tuple) else (actual,))]
        for got, want in zip(actual, expected, strict=True):
            agreement = compare_arrays(got, want, dtype)
            assert agreement.passed, (dtype, agreement)


@pytest.mark.parametrize("flavour", ["keras", pytest.param("tf_keras", marks=pytest.mark.sweep)])
def test_embedding_mask_through_recurrent_layers_and_average_pooling(flavour: str, tmp_path: Path) -> None:
    K = _keras(flavour)
    tokens = K.Input((6,), dtype="int32")
    x = K.layers.Embedding(5, 4, mask_zero=True)(tokens)
    x = K.layers.Dense(4, activation="tanh")(x)                      # passes the mask on
    x = K.layers.LSTM(3, return_sequences=True)(x)                    # masked steps keep the state
    forward = K.layers.GRU(3, return_sequences=True, go_backwards=True)(x)
    both = K.layers.Bidirectional(K.layers.LSTM(2, return_sequences=True), merge_mode="sum")(x)
    pooled = K.layers.GlobalAveragePooling1D()(both)                  # the mean of the steps that count
    last = K.layers.Bidirectional(K.layers.GRU(2))(forward)
    model = K.Model(tokens, [pooled, last, K.layers.SimpleRNN(2, return_sequences=True)(x)])
    _assert_converts_exactly(model, tmp_path / ("model.keras" if flavour == "keras" else "model.h5"), [TOKENS])


@pytest.mark.parametrize("flavour", ["keras", pytest.param("tf_keras", marks=pytest.mark.sweep)])
def test_masking_layer_and_recurrent_states(flavour: str, tmp_path: Path) -> None:
    K = _keras(flavour)
    steps = K.Input((6, 3))
    x = K.layers.Masking(0.0)(steps)
    sequence, h, c = K.layers.LSTM(4, return_sequences=True, return_state=True)(x)
    out = K.layers.LSTM(2, zero_output_for_mask=True, return_sequences=True)(sequence)
    model = K.Model(steps, [sequence, h, c, out])
    values = np.random.default_rng(1).uniform(-1, 1, (4, 6, 3)).astype("float32")
    values[TOKENS == 0] = 0.0  # the same padding pattern
    _assert_converts_exactly(model, tmp_path / ("model.keras" if flavour == "keras" else "model.h5"), [values])


def test_softmax_called_with_a_mask(tmp_path: Path) -> None:
    import keras

    tokens = keras.Input((6,), dtype="int32")
    scores = keras.ops.squeeze(keras.layers.Dense(1)(keras.layers.Embedding(5, 4)(tokens)), -1)
    weights = keras.layers.Softmax()(scores, mask=keras.ops.not_equal(tokens, 0))
    _assert_converts_exactly(keras.Model(tokens, weights), tmp_path / "model.keras", [TOKENS])


def test_a_mask_a_layer_cannot_apply_is_refused_not_ignored(tmp_path: Path) -> None:
    """Conv1D takes no mask in Keras (it drops it); an Attention layer takes one: without its conversion, refused."""
    import keras

    tokens = keras.Input((6,), dtype="int32")
    x = keras.layers.Embedding(5, 4, mask_zero=True)(tokens)
    x = keras.layers.Conv1D(3, 2)(x)                                   # the mask stops here, as in Keras
    keras.Model(tokens, keras.layers.LSTM(2)(x)).save(tmp_path / "dropped.keras")
    weights_port.convert(tmp_path / "dropped.keras")
    x = keras.layers.Embedding(5, 4, mask_zero=True)(tokens)
    out = keras.layers.Dense(2)(keras.layers.TimeDistributed(keras.layers.Softmax())(x))
    keras.Model(tokens, out).save(tmp_path / "refused.keras")
    with pytest.raises(weights_port.UnsupportedLayerError, match="mask"):
        weights_port.convert(tmp_path / "refused.keras")


def test_attention_residual_on_a_masked_sequence(tmp_path: Path) -> None:
    """keras.io's encoder block: ``Add([x, MultiHeadAttention(x, x)])`` on a masked ``x``. Keras 3's attention clears
    the masks of its inputs, and the Add runs after it (it reads its output), so the Add passes the attention's query
    mask on and the pooling averages the steps that count. A pooling of ``x`` beside the attention has its mask
    recorded in the file (``mask=``), so it does not depend on which of the two Keras runs first."""
    import keras

    L = keras.layers
    tokens = keras.Input((6,), dtype="int32")
    x = L.Embedding(5, 4, mask_zero=True)(tokens)
    y = L.LayerNormalization()(L.Add()([x, L.MultiHeadAttention(2, 2)(x, x)]))
    model = keras.Model(tokens, [L.GlobalAveragePooling1D()(y), y, L.GlobalAveragePooling1D()(x)])
    _assert_converts_exactly(model, tmp_path / "residual.keras", [TOKENS])


def test_a_tf_op_layer_drops_the_mask(tmp_path: Path) -> None:
    """tf.keras's TF-op layers (``x * 2.0``) take no mask and give none: the pooling after one averages every step."""
    import tf_keras

    tokens = tf_keras.Input((6,), dtype="int32")
    x = tf_keras.layers.Embedding(5, 4, mask_zero=True)(tokens) * 2.0
    model = tf_keras.Model(tokens, tf_keras.layers.GlobalAveragePooling1D()(x))
    _assert_converts_exactly(model, tmp_path / "model.h5", [TOKENS])


@pytest.mark.parametrize("flavour", ["keras", pytest.param("tf_keras", marks=pytest.mark.sweep)])
def test_a_masked_decoder_started_from_the_encoder_states(flavour: str, tmp_path: Path) -> None:
    """A seq2seq decoder ``LSTM(d, initial_state=[h, c])`` over a masked embedding. Keras 3 fills a layer's mask only
    for a call with one tensor argument, so this decoder runs unmasked; tf.keras masks it, and a masked step before
    any counted one outputs zeros, not the initial state (padding at the start is in ``TOKENS``)."""
    K = _keras(flavour)
    source, target = K.Input((6,), dtype="int32"), K.Input((6,), dtype="int32")
    _, h, c = K.layers.LSTM(3, return_state=True)(K.layers.Embedding(5, 4, mask_zero=True)(source))
    decoded = K.layers.LSTM(3, return_sequences=True)(K.layers.Embedding(5, 4, mask_zero=True)(target),
                                                      initial_state=[h, c])
    model = K.Model([source, target], [decoded, K.layers.GlobalAveragePooling1D()(decoded)])
    _assert_converts_exactly(model, tmp_path / ("model.keras" if flavour == "keras" else "model.h5"),
                             [TOKENS, TOKENS[::-1].copy()])
