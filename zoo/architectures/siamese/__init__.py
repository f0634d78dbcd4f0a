"""siamese: Koch et al.'s one-shot siamese network (a shared convolutional twin, L1 head).

The Keras builder is in ``keras_model``, the PyTorch class ``SiameseNetwork`` in ``torch_model``.
"""

from __future__ import annotations

from typing import Any

from ..._errors import ConfigError
from ..._spec import IMAGE_SIZE_CEILING, Architecture, Config, Imported, Param, TensorSpec, TorchClass

# (filters, kernel) of the twin's four convolutions; a 2×2 max-pool follows the first three.
CONVS = ((64, 10), (128, 7), (128, 4), (256, 4))
MIN_INPUT_SIZE = 65


def feature_size(input_size: int) -> int:
    """Side of the twin's last feature map: valid convolutions, floor-dividing pools."""
    size = input_size
    for index, (_, kernel) in enumerate(CONVS):
        size -= kernel - 1
        if index < len(CONVS) - 1:
            size //= 2
    return size


build_keras = Imported(f"{__name__}.keras_model:build_keras")
build_torch = TorchClass(f"{__name__}.torch_model:SiameseNetwork")


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
