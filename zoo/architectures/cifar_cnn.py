"""cifar_cnn: the small CIFAR-10 convolutional network of the migration articles."""

from __future__ import annotations

from collections import OrderedDict
from typing import Any

from .._errors import ConfigError
from .._spec import IMAGE_SIZE_CEILING, Architecture, Config, Param, TensorSpec

_FILTERS = (16, 32, 64)
_DENSE_UNITS = 64


def build_keras(*, input_size: int, in_channels: int, num_classes: int, dtype: str) -> Any:
    import keras
    from keras import layers

    image = keras.Input((input_size, input_size, in_channels), dtype=dtype, name="image")
    x = image
    for index, filters in enumerate(_FILTERS, start=1):
        x = layers.Conv2D(filters, 3, padding="same", activation="relu", dtype=dtype, name=f"conv{index}")(x)
        x = layers.MaxPooling2D(2, dtype=dtype, name=f"pool{index}")(x)
    x = layers.Flatten(dtype=dtype, name="flatten")(x)
    x = layers.Dense(_DENSE_UNITS, activation="relu", dtype=dtype, name="dense")(x)
    logits = layers.Dense(num_classes, dtype=dtype, name="logits")(x)
    return keras.Model(image, logits, name="cifar_cnn")


def build_torch(*, input_size: int, in_channels: int, num_classes: int, dtype: str) -> Any:
    import torch
    from torch import nn

    class CifarCNN(nn.Module):
        """Three conv → ReLU → 2×2 max-pool stages, then a two-layer classifier (logits)."""

        def __init__(self) -> None:
            super().__init__()
            stages: OrderedDict[str, nn.Module] = OrderedDict()
            channels = in_channels
            for index, filters in enumerate(_FILTERS, start=1):
                stages[f"conv{index}"] = nn.Conv2d(channels, filters, 3, padding=1)
                stages[f"relu{index}"] = nn.ReLU()
                stages[f"pool{index}"] = nn.MaxPool2d(2)
                channels = filters
            side = input_size // 2 ** len(_FILTERS)
            self.features = nn.Sequential(stages)
            self.classifier = nn.Sequential(
                nn.Flatten(),
                nn.Linear(channels * side * side, _DENSE_UNITS),
                nn.ReLU(),
                nn.Linear(_DENSE_UNITS, num_classes),
            )
            # Keras flattened the (H, W, C) map; the porter reorders that Dense's rows.
            self.keras_port_hints = {"classifier.1": {"flatten_from": (channels, side, side)}}

        def forward(self, image: torch.Tensor) -> torch.Tensor:
            return self.classifier(self.features(image))

    return CifarCNN().to(getattr(torch, dtype))


def _check(config: Config) -> None:
    if config["input_size"] < 2 ** len(_FILTERS):
        raise ConfigError(f"cifar_cnn input_size must be at least {2 ** len(_FILTERS)}, got {config['input_size']}")


def _config_strategy() -> Any:
    from hypothesis import strategies as st

    return st.fixed_dictionaries({
        "input_size": st.integers(8, 40),
        "in_channels": st.integers(1, 4),
        "num_classes": st.integers(1, 12),
    })


ARCHITECTURE = Architecture(
    name="cifar_cnn",
    description="Small CIFAR-10 CNN: 3 × [Conv2D(3×3, same, relu) → MaxPool 2×2] with 16, 32, 64 filters "
    "→ Flatten → Dense(64, relu) → Dense(num_classes) logits.",
    source="The Keras CIFAR-10 CNN of the classic Keras-to-PyTorch migration articles.",
    params={
        "input_size": Param(32, "int", "image height and width", minimum=2 ** len(_FILTERS), maximum=IMAGE_SIZE_CEILING),
        "in_channels": Param(3, "int", "image channels", minimum=1),
        "num_classes": Param(10, "int", "number of classes (logits)", minimum=1),
    },
    build_keras=build_keras,
    build_torch=build_torch,
    inputs=lambda config: [TensorSpec("image", (config["input_size"], config["input_size"], config["in_channels"]),
                                      (config["in_channels"], config["input_size"], config["input_size"]), spatial=2)],
    outputs=lambda config: [TensorSpec("logits", (config["num_classes"],), (config["num_classes"],))],
    check=_check,
    config_strategy=_config_strategy,
)
