"""text_classifier: BiLSTM + BiGRU text classifier with meta features (Kaggle toxic-comment style).

The Keras builder is in ``keras_model``, the PyTorch class ``TextClassifier`` in ``torch_model``.
"""

from __future__ import annotations

from typing import Any

from ..._errors import ConfigError
from ..._spec import Architecture, Config, Imported, Param, TensorSpec, TorchClass

build_keras = Imported(f"{__name__}.keras_model:build_keras")
build_torch = TorchClass(f"{__name__}.torch_model:TextClassifier")


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
