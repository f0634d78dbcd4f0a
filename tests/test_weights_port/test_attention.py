"""Attention layers converted and proven against Keras (conversion._rules_attention): MultiHeadAttention (self and
cross, value_dim, output_shape, masks, causal, scores, gate, attention_axes), GroupQueryAttention, Attention and
AdditiveAttention (scale, score modes, masks),
EinsumDense and einsum nodes, in Keras 3 and tf.keras files, float32 and float64."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from porting import converted_exactly

from equivalence_tests import randomise_keras_weights

TOKENS = np.array([[0, 0, 3, 4, 2, 1], [3, 1, 0, 0, 4, 2], [2, 4, 1, 3, 0, 0], [1, 2, 3, 4, 2, 1]])




def test_multi_head_attention_in_every_form(tmp_path: Path) -> None:
    import keras
    from keras import layers as L

    query, context = keras.Input((5, 8)), keras.Input((6, 7))
    self_attention = L.MultiHeadAttention(2, 4)(query, query)                                # F.sdpa path
    causal = L.MultiHeadAttention(3, 2, value_dim=5, output_shape=6)(query, query, use_causal_mask=True)
    cross, scores = L.MultiHeadAttention(2, 3, dropout=0.1)(query, context, return_attention_scores=True)
    keyed = L.MultiHeadAttention(1, 4, use_bias=False)(query, context, key=context * 0.5)
    dense = L.EinsumDense("abc,cd->abd", output_shape=(None, 3), bias_axes="d", activation="relu")(query)
    mixed = keras.ops.einsum("btd,bsd->bts", query, query * 0.5)
    gated = L.MultiHeadAttention(2, 3, use_gate=True)(query, context)
    memory = L.Dense(8)(context)
    grouped = L.GroupQueryAttention(3, 6, 2)(query, memory)                                   # 6 query, 2 kv heads
    grouped_causal = L.GroupQueryAttention(2, 4, 4, use_gate=True)(query, query, use_causal_mask=True)
    grouped_scored, grouped_scores = L.GroupQueryAttention(2, 4, 1, use_bias=False)(query, memory, key=memory * 2.0,
                                                                                   return_attention_scores=True)
    model = keras.Model([query, context], [self_attention, causal, cross, scores, keyed, dense, mixed, gated, grouped,
                                           grouped_causal, grouped_scored, grouped_scores])
    converted_exactly(model, tmp_path / "mha.keras")


def test_masked_attention_layers(tmp_path: Path) -> None:
    """Masks from Embedding(mask_zero) reach MultiHeadAttention (query mask), Attention and AdditiveAttention."""
    import keras
    from keras import layers as L

    tokens = keras.Input((6,), dtype="int32")
    x = L.Embedding(5, 8, mask_zero=True)(tokens)
    y = L.Embedding(5, 8, mask_zero=True)(tokens)
    attended = L.MultiHeadAttention(2, 4)(x, x)           # query, value and key masks; passes the query's on
    luong = L.Attention(use_scale=True, score_mode="concat")([y, y])
    bahdanau = L.AdditiveAttention()([y, attended])
    pooled = L.GlobalAveragePooling1D()(L.Add()([luong, bahdanau]))
    model = keras.Model(tokens, [attended, pooled])
    randomise_keras_weights(model, np.random.default_rng(1))
    model.save(tmp_path / "masked.keras")
    import torch

    import weights_port
    from weights_port.tolerance import compare_arrays

    for dtype in ("float32", "float64"):
        from equivalence_tests._convert_check import _as_float64

        reference = model if dtype == "float32" else _as_float64(model)
        expected = [np.asarray(e) for e in reference(TOKENS)]
        with torch.no_grad():
            actual = weights_port.convert(tmp_path / "masked.keras", dtype=dtype).build()(torch.from_numpy(TOKENS))
        for got, want in zip(actual, expected, strict=True):
            assert compare_arrays(got.numpy(), want, dtype).passed, dtype


def test_attention_over_several_axes(tmp_path: Path) -> None:
    """``attention_axes`` on (batch, H, W, C) images: jointly over H and W, along W alone with H batched, along H."""
    import keras
    from keras import layers as L

    image, context = keras.Input((3, 4, 6)), keras.Input((3, 5, 6))
    joint = L.MultiHeadAttention(2, 3)(image, image)                                    # default: axes (1, 2)
    rows = L.MultiHeadAttention(2, 3, attention_axes=(2,))(image, context)
    columns = L.MultiHeadAttention(1, 4, value_dim=2, attention_axes=1)(image, image, key=image * 0.5)
    converted_exactly(keras.Model([image, context], [joint, rows, columns]), tmp_path / "axes.keras")


@pytest.mark.parametrize("flavour", ["keras", "tf_keras"])
def test_attention_from_either_keras(flavour: str, tmp_path: Path) -> None:
    if flavour == "keras":
        import keras as K
    else:
        import tf_keras as K
    query, value = K.Input((4, 6)), K.Input((5, 6))
    outputs = [K.layers.MultiHeadAttention(2, 3)(query, value), K.layers.Attention()([query, value]),
               K.layers.AdditiveAttention(use_scale=False)([query, value])]
    converted_exactly(K.Model([query, value], outputs), tmp_path / ("att.keras" if flavour == "keras" else "att.h5"))


def test_an_attention_mask_that_depends_on_keras_execution_order_is_refused(tmp_path: Path) -> None:
    """Keras 3's MultiHeadAttention clears its inputs' masks: another reader of the same tensor is order-bound."""
    import keras
    from keras import layers as L

    import weights_port

    tokens = keras.Input((6,), dtype="int32")
    x = L.Embedding(5, 8, mask_zero=True)(tokens)
    out = L.Add()([L.Attention()([x, x]), L.MultiHeadAttention(2, 4)(x, x)])
    keras.Model(tokens, out).save(tmp_path / "order.keras")
    with pytest.raises(weights_port.UnsupportedLayerError, match="removes the mask of its input"):
        weights_port.convert(tmp_path / "order.keras")
