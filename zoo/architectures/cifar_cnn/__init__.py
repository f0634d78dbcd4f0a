"""cifar_cnn: the small CIFAR-10 convolutional network of the migration articles.

The Keras builder is in ``keras_model``, the PyTorch class ``CifarCNN`` in ``torch_model``.
"""

from __future__ import annotations

from typing import Any

from ..._errors import ConfigError
from ..._spec import IMAGE_SIZE_CEILING, Architecture, Config, Imported, Param, TensorSpec, TorchClass

FILTERS = (16, 32, 64)
"""Filters of the three conv stages."""
DENSE_UNITS = 64


build_keras = Imported(f"{__name__}.keras_model:build_keras")
build_torch = TorchClass(f"{__name__}.torch_model:CifarCNN")


def _check(config: Config) -> None:
    if config["input_size"] < 2 ** len(FILTERS):
        raise ConfigError(f"cifar_cnn input_size must be at least {2 ** len(FILTERS)}, got {config['input_size']}")


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
        "input_size": Param(32, "int", "image height and width", minimum=2 ** len(FILTERS), maximum=IMAGE_SIZE_CEILING),
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
