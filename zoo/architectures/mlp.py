"""mlp: the feed-forward classifier of the classic Keras-to-PyTorch migration articles."""

from __future__ import annotations

from typing import Any

from .._spec import Architecture, Config, Param, TensorSpec


def build_keras(*, in_features: int, hidden: tuple[int, ...], num_classes: int, dtype: str) -> Any:
    import keras
    from keras import layers

    features = keras.Input((in_features,), dtype=dtype, name="features")
    x = features
    for index, units in enumerate(hidden):
        x = layers.Dense(units, activation="relu", dtype=dtype, name=f"hidden_{index}")(x)
    probabilities = layers.Dense(num_classes, activation="softmax", dtype=dtype, name="classifier")(x)
    return keras.Model(features, probabilities, name="mlp")


def build_torch(*, in_features: int, hidden: tuple[int, ...], num_classes: int, dtype: str) -> Any:
    import torch
    from torch import nn

    blocks: list[nn.Module] = []
    width = in_features
    for units in hidden:
        blocks += [nn.Linear(width, units), nn.ReLU()]
        width = units
    blocks += [nn.Linear(width, num_classes), nn.Softmax(dim=-1)]
    return nn.Sequential(*blocks).to(getattr(torch, dtype))


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
