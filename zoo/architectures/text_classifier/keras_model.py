"""text_classifier in Keras."""

from __future__ import annotations

from typing import Any

__all__ = ["build_keras"]


def build_keras(*, vocab_size: int, embed_dim: int, maxlen: int, hidden: int, n_features: int, dense_units: int,
                embedding_matrix: Any, dtype: str) -> Any:
    import keras
    from keras import layers

    tokens = keras.Input((None,), dtype="int64", name="tokens")  # any length; maxlen is the usual one
    meta = keras.Input((n_features,), dtype=dtype, name="meta")
    initial = "uniform" if embedding_matrix is None else keras.initializers.Constant(embedding_matrix)
    x = layers.Embedding(vocab_size, embed_dim, embeddings_initializer=initial,
                         trainable=embedding_matrix is None, dtype=dtype, name="embedding")(tokens)
    x = layers.SpatialDropout1D(0.1, dtype=dtype, name="spatial_dropout")(x)
    x = layers.Bidirectional(layers.LSTM(hidden, return_sequences=True, dtype=dtype), dtype=dtype, name="bilstm")(x)
    x, h_forward, h_backward = layers.Bidirectional(
        layers.GRU(hidden, return_sequences=True, return_state=True, dtype=dtype), dtype=dtype, name="bigru")(x)
    average = layers.GlobalAveragePooling1D(dtype=dtype, name="average")(x)
    maximum = layers.GlobalMaxPooling1D(dtype=dtype, name="maximum")(x)
    features = layers.Concatenate(dtype=dtype, name="features")([h_forward, h_backward, average, maximum, meta])
    x = layers.Dense(dense_units, activation="relu", dtype=dtype, name="dense")(features)
    x = layers.Dropout(0.1, dtype=dtype, name="dropout")(x)
    probability = layers.Dense(1, activation="sigmoid", dtype=dtype, name="probability")(x)
    return keras.Model([tokens, meta], probability, name="text_classifier")
