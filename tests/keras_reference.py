"""Keras versions of the catalog written independently of ``zoo.architectures``.

Different layer names, Sequential instead of functional, a Lambda head, the siamese twin
as a nested model or as plain shared layers. Each takes the Keras module to use, so the
same code writes Keras 3 files (``keras``) and Keras 2 legacy files (``tf_keras``).
"""

from __future__ import annotations

from typing import Any


def mlp(K: Any, *, in_features: int, hidden: tuple[int, ...], num_classes: int, dtype: str) -> Any:
    model = K.Sequential(name="user_mlp")
    model.add(K.Input((in_features,), dtype=dtype))
    for units in hidden:
        model.add(K.layers.Dense(units, activation="relu", dtype=dtype))
    model.add(K.layers.Dense(num_classes, activation="softmax", dtype=dtype))
    return model


def cifar_cnn(K: Any, *, input_size: int, in_channels: int, num_classes: int, dtype: str) -> Any:
    L = K.layers
    model = K.Sequential(name="my_cifar")
    model.add(K.Input((input_size, input_size, in_channels), dtype=dtype))
    for filters in (16, 32, 64):
        model.add(L.Conv2D(filters, (3, 3), padding="same", dtype=dtype))
        model.add(L.Activation("relu", dtype=dtype))
        model.add(L.MaxPooling2D((2, 2), dtype=dtype))
    model.add(L.Flatten(dtype=dtype))
    model.add(L.Dense(64, activation="relu", dtype=dtype, name="hidden_fc"))
    model.add(L.Dropout(0.5, dtype=dtype))
    model.add(L.Dense(num_classes, dtype=dtype, name="out"))
    return model


def siamese(K: Any, *, input_size: int, in_channels: int, embedding_dim: int, dtype: str, nested: bool) -> Any:
    """Koch et al.'s network; ``nested`` puts the twin in a sub-model, else shares bare layers."""
    L = K.layers
    shape = (input_size, input_size, in_channels)
    twin_layers = [
        L.Conv2D(64, (10, 10), activation="relu", dtype=dtype), L.MaxPooling2D(dtype=dtype),
        L.Conv2D(128, (7, 7), activation="relu", dtype=dtype), L.MaxPooling2D(dtype=dtype),
        L.Conv2D(128, (4, 4), activation="relu", dtype=dtype), L.MaxPooling2D(dtype=dtype),
        L.Conv2D(256, (4, 4), activation="relu", dtype=dtype), L.Flatten(dtype=dtype),
        L.Dense(embedding_dim, activation="sigmoid", dtype=dtype),
    ]
    left = K.Input(shape, dtype=dtype)
    right = K.Input(shape, dtype=dtype)
    if nested:
        twin = K.Sequential([K.Input(shape, dtype=dtype), *twin_layers], name="encoder")
        encoded_l, encoded_r = twin(left), twin(right)
    else:
        encoded_l, encoded_r = left, right
        for layer in twin_layers:
            encoded_l, encoded_r = layer(encoded_l), layer(encoded_r)
    distance = L.Lambda(_l1_distance, dtype=dtype)([encoded_l, encoded_r])
    prediction = L.Dense(1, activation="sigmoid", dtype=dtype)(distance)
    return K.Model(inputs=[left, right], outputs=prediction)


def _l1_distance(pair: Any) -> Any:
    return abs(pair[0] - pair[1])


def text_classifier(K: Any, *, vocab_size: int, embed_dim: int, maxlen: int, hidden: int, n_features: int,
                    dense_units: int, dtype: str, gru_reset_after: bool = True) -> Any:
    L = K.layers
    words = K.Input((maxlen,), dtype="int32")
    extra = K.Input((n_features,), dtype=dtype)
    emb = L.Embedding(vocab_size, embed_dim, dtype=dtype)(words)
    emb = L.SpatialDropout1D(0.2, dtype=dtype)(emb)
    seq = L.Bidirectional(L.LSTM(hidden, return_sequences=True, dtype=dtype), dtype=dtype)(emb)
    seq, fwd, bwd = L.Bidirectional(L.GRU(hidden, return_sequences=True, return_state=True, reset_after=gru_reset_after,
                                          dtype=dtype), dtype=dtype)(seq)
    pooled = L.concatenate([fwd, bwd, L.GlobalAveragePooling1D(dtype=dtype)(seq), L.GlobalMaxPooling1D(dtype=dtype)(seq),
                            extra], dtype=dtype)
    hidden_out = L.Dropout(0.1, dtype=dtype)(L.Dense(dense_units, activation="relu", dtype=dtype)(pooled))
    return K.Model(inputs=[words, extra], outputs=L.Dense(1, activation="sigmoid", dtype=dtype)(hidden_out))


def echo_sequence(K: Any, *, timesteps: int, n_features: int, units: int, dtype: str,
                  recurrent_activation: str = "sigmoid") -> Any:
    return K.Sequential([K.Input((timesteps, n_features), dtype=dtype),
                         K.layers.LSTM(units, recurrent_activation=recurrent_activation, dtype=dtype),
                         K.layers.Dense(n_features, activation="softmax", dtype=dtype)])


def damped_sine(K: Any, *, timesteps: int, units: int, n_out: int, dtype: str) -> Any:
    return K.Sequential([K.Input((timesteps, 1), dtype=dtype),
                         K.layers.LSTM(units, return_sequences=True, dtype=dtype),
                         K.layers.LSTM(units, dtype=dtype), K.layers.Dense(n_out, dtype=dtype)])


def moving_square(K: Any, *, frames: int, size: int, filters: int, units: int, dtype: str) -> Any:
    L = K.layers
    return K.Sequential([
        K.Input((None, size, size, 1), dtype=dtype),
        L.TimeDistributed(L.Conv2D(filters, (2, 2), activation="relu", dtype=dtype), dtype=dtype),
        L.TimeDistributed(L.MaxPooling2D(pool_size=(2, 2), dtype=dtype), dtype=dtype),
        L.TimeDistributed(L.Flatten(dtype=dtype), dtype=dtype),
        L.LSTM(units, dtype=dtype),
        L.Dense(1, activation="sigmoid", dtype=dtype),
    ])


def addition_seq2seq(K: Any, *, n_in: int, n_out: int, n_chars: int, encoder_units: int, decoder_units: int,
                     dtype: str) -> Any:
    L = K.layers
    return K.Sequential([K.Input((n_in, n_chars), dtype=dtype), L.LSTM(encoder_units, dtype=dtype),
                         L.RepeatVector(n_out, dtype=dtype), L.LSTM(decoder_units, return_sequences=True, dtype=dtype),
                         L.TimeDistributed(L.Dense(n_chars, activation="softmax", dtype=dtype), dtype=dtype)])


def cumsum_bidirectional(K: Any, *, timesteps: int, units: int, dtype: str) -> Any:
    L = K.layers
    return K.Sequential([K.Input((timesteps, 1), dtype=dtype),
                         L.Bidirectional(L.LSTM(units, return_sequences=True, dtype=dtype), dtype=dtype),
                         L.TimeDistributed(L.Dense(1, activation="sigmoid", dtype=dtype), dtype=dtype)])


def shape_generation(K: Any, *, units: int, dtype: str) -> Any:
    return K.Sequential([K.Input((1, 2), dtype=dtype), K.layers.LSTM(units, dtype=dtype), K.layers.Dense(2, dtype=dtype)])
