"""text_classifier: BiLSTM + BiGRU text classifier with meta features (Kaggle toxic-comment style)."""

from __future__ import annotations

from typing import Any

from .._errors import ConfigError
from .._spec import Architecture, Config, Param, TensorSpec


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


def build_torch(*, vocab_size: int, embed_dim: int, maxlen: int, hidden: int, n_features: int, dense_units: int,
                embedding_matrix: Any, dtype: str) -> Any:
    import torch
    from torch import nn

    class TextClassifier(nn.Module):
        """Embedding → BiLSTM → BiGRU; final GRU states, mean and max over time, and meta → MLP."""

        def __init__(self) -> None:
            super().__init__()
            self.embedding = nn.Embedding(vocab_size, embed_dim)
            if embedding_matrix is not None:
                self.embedding = nn.Embedding.from_pretrained(torch.as_tensor(embedding_matrix), freeze=True)
            self.spatial_dropout = nn.Dropout1d(0.1)  # drops whole embedding channels, as SpatialDropout1D
            self.lstm = nn.LSTM(embed_dim, hidden, batch_first=True, bidirectional=True)
            self.gru = nn.GRU(2 * hidden, hidden, batch_first=True, bidirectional=True)
            self.head = nn.Sequential(
                nn.Linear(6 * hidden + n_features, dense_units), nn.ReLU(), nn.Dropout(0.1),
                nn.Linear(dense_units, 1), nn.Sigmoid(),
            )

        def forward(self, tokens: torch.Tensor, meta: torch.Tensor) -> torch.Tensor:
            x = self.spatial_dropout(self.embedding(tokens).transpose(1, 2)).transpose(1, 2)
            x, _ = self.lstm(x)
            x, h_n = self.gru(x)  # h_n: (direction, batch, hidden); index it, never .view(-1, 2 * hidden)
            features = torch.cat([h_n[0], h_n[1], x.mean(dim=1), x.amax(dim=1), meta], dim=1)
            return self.head(features)

    return TextClassifier().to(getattr(torch, dtype))


def _check(config: Config) -> None:
    matrix = config["embedding_matrix"]
    expected = (config["vocab_size"], config["embed_dim"])
    if matrix is not None and tuple(matrix.shape) != expected:
        raise ConfigError(f"text_classifier embedding_matrix must have shape {expected} (vocab_size, embed_dim), "
                          f"got {tuple(matrix.shape)}")


def _config_strategy() -> Any:
    from hypothesis import strategies as st

    return st.fixed_dictionaries({
        "vocab_size": st.integers(2, 60),
        "embed_dim": st.integers(1, 12),
        "maxlen": st.integers(1, 50),
        "hidden": st.integers(1, 10),
        "n_features": st.integers(0, 6),
        "dense_units": st.integers(1, 12),
    })


ARCHITECTURE = Architecture(
    name="text_classifier",
    description="Embedding → SpatialDropout1D → BiLSTM → BiGRU (sequence and final states); "
    "[h_fwd, h_bwd, mean, max, meta] → Dense(relu) → Dense(1, sigmoid).",
    source="Kaggle text-classification kernels (Jigsaw toxic comments / Quora insincere questions).",
    params={
        "vocab_size": Param(20000, "int", "vocabulary size", minimum=1),
        "embed_dim": Param(300, "int", "embedding width", minimum=1),
        "maxlen": Param(70, "int", "usual sequence length (any length works at call time)", minimum=1),
        "hidden": Param(40, "int", "units per direction of both recurrent layers", minimum=1),
        "n_features": Param(6, "int", "meta features per sample", minimum=0),
        "dense_units": Param(16, "int", "hidden Dense width", minimum=1),
        "embedding_matrix": Param(None, "array", "(vocab_size, embed_dim) array: start from it, frozen"),
    },
    build_keras=build_keras,
    build_torch=build_torch,
    inputs=lambda c: [TensorSpec("tokens", (c["maxlen"],), (c["maxlen"],), dtype="int64", high=c["vocab_size"]),
                      TensorSpec("meta", (c["n_features"],), (c["n_features"],))],
    outputs=lambda c: [TensorSpec("probability", (1,), (1,))],
    check=_check,
    config_strategy=_config_strategy,
    tags=("sequence",),
)
