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
