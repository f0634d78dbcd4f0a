"""siamese: Koch et al.'s one-shot siamese network (a shared convolutional twin, L1 head)."""

from __future__ import annotations

from collections import OrderedDict
from typing import Any

from .._errors import ConfigError
from .._spec import IMAGE_SIZE_CEILING, Architecture, Config, Param, TensorSpec

# (filters, kernel) of the twin's four convolutions; a 2×2 max-pool follows the first three.
_CONVS = ((64, 10), (128, 7), (128, 4), (256, 4))
MIN_INPUT_SIZE = 65


def feature_size(input_size: int) -> int:
    """Side of the twin's last feature map: valid convolutions, floor-dividing pools."""
    size = input_size
    for index, (_, kernel) in enumerate(_CONVS):
        size -= kernel - 1
        if index < len(_CONVS) - 1:
            size //= 2
    return size


def build_keras(*, input_size: int, in_channels: int, embedding_dim: int, dtype: str) -> Any:
    import keras
    from keras import layers

    image = keras.Input((input_size, input_size, in_channels), dtype=dtype, name="image")
    x = image
    for index, (filters, kernel) in enumerate(_CONVS):
        x = layers.Conv2D(filters, kernel, activation="relu", dtype=dtype, name=f"conv{index + 1}")(x)
        if index < len(_CONVS) - 1:
            x = layers.MaxPooling2D(2, dtype=dtype, name=f"pool{index + 1}")(x)
    x = layers.Flatten(dtype=dtype, name="flatten")(x)
    embedding = layers.Dense(embedding_dim, activation="sigmoid", dtype=dtype, name="embedding")(x)
    twin = keras.Model(image, embedding, name="twin")

    left = keras.Input((input_size, input_size, in_channels), dtype=dtype, name="left")
    right = keras.Input((input_size, input_size, in_channels), dtype=dtype, name="right")
    distance = keras.ops.abs(layers.Subtract(dtype=dtype, name="difference")([twin(left), twin(right)]))
    similarity = layers.Dense(1, activation="sigmoid", dtype=dtype, name="similarity")(distance)
    return keras.Model([left, right], similarity, name="siamese")


def build_torch(*, input_size: int, in_channels: int, embedding_dim: int, dtype: str) -> Any:
    import torch
    from torch import nn

    class SiameseNetwork(nn.Module):
        """Both images go through one shared ``twin``; ``head`` scores |twin(l) − twin(r)|."""

        def __init__(self) -> None:
            super().__init__()
            blocks: OrderedDict[str, nn.Module] = OrderedDict()
            channels = in_channels
            for index, (filters, kernel) in enumerate(_CONVS, start=1):
                blocks[f"conv{index}"] = nn.Conv2d(channels, filters, kernel)
                blocks[f"relu{index}"] = nn.ReLU()
                if index < len(_CONVS):
                    blocks[f"pool{index}"] = nn.MaxPool2d(2)
                channels = filters
            side = feature_size(input_size)
            blocks["flatten"] = nn.Flatten()
            blocks["embedding"] = nn.Linear(channels * side * side, embedding_dim)
            blocks["sigmoid"] = nn.Sigmoid()
            self.twin = nn.Sequential(blocks)
            self.head = nn.Sequential(OrderedDict(similarity=nn.Linear(embedding_dim, 1), sigmoid=nn.Sigmoid()))
            # Keras flattened the (H, W, C) map; the porter reorders that Dense's rows.
            self.keras_port_hints = {"twin.embedding": {"flatten_from": (channels, side, side)}}

        def forward(self, left: torch.Tensor, right: torch.Tensor) -> torch.Tensor:
            return self.head(torch.abs(self.twin(left) - self.twin(right)))

    return SiameseNetwork().to(getattr(torch, dtype))


def _check(config: Config) -> None:
    if config["input_size"] < MIN_INPUT_SIZE:
        raise ConfigError(
            f"siamese input_size must be at least {MIN_INPUT_SIZE} (the twin's feature map "
            f"vanishes below that), got {config['input_size']}"
        )


def _image(name: str, config: Config) -> TensorSpec:
    size, channels = config["input_size"], config["in_channels"]
    return TensorSpec(name, (size, size, channels), (channels, size, size), spatial=2)


def _config_strategy() -> Any:
    from hypothesis import strategies as st

    return st.fixed_dictionaries({
        "input_size": st.integers(MIN_INPUT_SIZE, 80),
        "in_channels": st.integers(1, 3),
        "embedding_dim": st.integers(1, 48),
    })


ARCHITECTURE = Architecture(
    name="siamese",
    description="One-shot siamese network: shared conv twin → Dense(sigmoid) embedding; "
    "L1 distance of the two embeddings → Dense(1, sigmoid).",
    source="Koch, Zemel & Salakhutdinov (2015), Siamese Neural Networks for One-shot Image Recognition.",
    params={
        "input_size": Param(105, "int", "image height and width", minimum=MIN_INPUT_SIZE, maximum=IMAGE_SIZE_CEILING),
        "in_channels": Param(1, "int", "image channels", minimum=1),
        "embedding_dim": Param(4096, "int", "twin embedding width", minimum=1),
    },
    build_keras=build_keras,
    build_torch=build_torch,
    inputs=lambda config: [_image("left", config), _image("right", config)],
    outputs=lambda config: [TensorSpec("similarity", (1,), (1,))],
    check=_check,
    config_strategy=_config_strategy,
)
