"""The entry point (group "zoo"): registers ``text_attention`` and the rule for its custom layer.

Importing this module imports no framework: the builders import Keras or PyTorch only
when called, so ``zoo list`` stays fast with the plugin installed. ``TorchClass`` names the
PyTorch model class by import path; it is imported when a model is built.
"""

from __future__ import annotations

from typing import Any

from zoo import Architecture, Param, TensorSpec, TorchClass, hookimpl


def build_keras(*, vocab_size: int, embed_dim: int, maxlen: int, hidden: int, attention_units: int,
                dense_units: int, dtype: str) -> Any:
    import keras
    from keras import layers

    from .keras_layer import Attention

    tokens = keras.Input((None,), dtype="int64", name="tokens")
    x = layers.Embedding(vocab_size, embed_dim, dtype=dtype, name="embedding")(tokens)
    x = layers.Bidirectional(layers.LSTM(hidden, return_sequences=True, dtype=dtype), dtype=dtype, name="bilstm")(x)
    x = Attention(attention_units, dtype=dtype, name="attention")(x)
    x = layers.Dense(dense_units, activation="relu", dtype=dtype, name="dense")(x)
    return keras.Model(tokens, layers.Dense(1, activation="sigmoid", dtype=dtype, name="probability")(x),
                       name="text_attention")


build_torch = TorchClass("zoo_text_attention.torch_module:TextAttention")


def _config_strategy() -> Any:
    from hypothesis import strategies as st

    return st.fixed_dictionaries({
        "vocab_size": st.integers(2, 60), "embed_dim": st.integers(1, 10), "maxlen": st.integers(1, 40),
        "hidden": st.integers(1, 8), "attention_units": st.integers(1, 12), "dense_units": st.integers(1, 10),
    })


ARCHITECTURE = Architecture(
    name="text_attention",
    description="Embedding → Bidirectional(LSTM, return_sequences) → attention pooling (custom Keras layer) → "
    "Dense(relu) → Dense(1, sigmoid).",
    source="Kaggle text-classification kernels (Quora insincere questions: BiLSTM + attention).",
    params={
        "vocab_size": Param(20000, "int", "vocabulary size", minimum=1),
        "embed_dim": Param(300, "int", "embedding width", minimum=1),
        "maxlen": Param(70, "int", "usual sequence length (any length works)", minimum=1),
        "hidden": Param(64, "int", "LSTM units per direction", minimum=1),
        "attention_units": Param(64, "int", "attention projection width", minimum=1),
        "dense_units": Param(16, "int", "hidden Dense width", minimum=1),
    },
    build_keras=build_keras,
    build_torch=build_torch,
    inputs=lambda c: [TensorSpec("tokens", (c["maxlen"],), (c["maxlen"],), dtype="int64", high=c["vocab_size"])],
    outputs=lambda c: [TensorSpec("probability", (1,), (1,))],
    config_strategy=_config_strategy,
    tags=("sequence", "plugin"),
)


@hookimpl
def zoo_architectures() -> list[Architecture]:
    return [ARCHITECTURE]


@hookimpl
def zoo_port_rules() -> list[Any]:
    from .rules import ATTENTION_RULE

    return [ATTENTION_RULE]


@hookimpl
def zoo_convert_rules() -> list[Any]:
    from .rules import ATTENTION_CONVERT_RULE

    return [ATTENTION_CONVERT_RULE]
