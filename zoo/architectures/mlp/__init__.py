"""mlp: the feed-forward classifier of the classic Keras-to-PyTorch migration articles.

The Keras builder is in ``keras_model``, the PyTorch class ``MLP`` in ``torch_model``;
this module declares the architecture and imports neither framework.
"""

from __future__ import annotations

from typing import Any

from ..._spec import Architecture, Config, Imported, Param, TensorSpec, TorchClass

build_keras = Imported(f"{__name__}.keras_model:build_keras")
build_torch = TorchClass(f"{__name__}.torch_model:MLP")


def _inputs(config: Config) -> list[TensorSpec]:
    return [TensorSpec("features", (config["in_features"],), (config["in_features"],))]


def _outputs(config: Config) -> list[TensorSpec]:
    return [TensorSpec("probabilities", (config["num_classes"],), (config["num_classes"],))]


def _config_strategy() -> Any:
    from hypothesis import strategies as st

    return st.fixed_dictionaries({
        "in_features": st.integers(1, 48),
        "hidden": st.lists(st.integers(1, 40), min_size=0, max_size=3).map(tuple),
        "num_classes": st.integers(2, 12),
    })


ARCHITECTURE = Architecture(
    name="mlp",
    description="Feed-forward classifier: Dense(h, relu) per hidden width, then Dense(num_classes, softmax).",
    source="The classic Keras-to-PyTorch migration articles (Keras Sequential MLP).",
    params={
        "in_features": Param(64, "int", "input width", minimum=1),
        "hidden": Param((32, 32), "ints", "hidden layer widths, in order", minimum=1),
        "num_classes": Param(10, "int", "number of classes", minimum=1),
    },
    build_keras=build_keras,
    build_torch=build_torch,
    inputs=_inputs,
    outputs=_outputs,
    config_strategy=_config_strategy,
)
