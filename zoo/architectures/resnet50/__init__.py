"""resnet50: exactly ``keras.applications.ResNet50(weights=None)``, and a native PyTorch twin.

ResNet v1 as Keras builds it: the stride sits on a block's first 1×1 convolution, every
convolution has a bias, BatchNorm epsilon is 1.001e-5, and the stem pads explicitly
(3 pixels before the 7×7 convolution, 1 before the max-pool).

The Keras builder is in ``keras_model``, the PyTorch classes ``ResNet50`` and ``Bottleneck`` in
``torch_model``.
"""

from __future__ import annotations

from typing import Any

from ..._errors import ConfigError
from ..._spec import IMAGE_SIZE_CEILING, Architecture, Config, Imported, Param, TensorSpec, TorchClass

# (filters, blocks, stride of the first block) of the four stages conv2 … conv5
STAGES = ((64, 3, 1), (128, 4, 2), (256, 6, 2), (512, 3, 2))
BN_EPSILON = 1.001e-5
KERAS_BN_MOMENTUM = 0.99
MIN_INPUT_SIZE = 32


build_keras = Imported(f"{__name__}.keras_model:build_keras")
build_torch = TorchClass(f"{__name__}.torch_model:ResNet50")


def feature_size(input_size: int) -> int:
    size = (input_size + 6 - 7) // 2 + 1  # padded 7×7 stride-2 convolution
    size = (size + 2 - 3) // 2 + 1  # padded 3×3 stride-2 max-pool
    for _, _, stride in STAGES:
        size = (size - 1) // stride + 1
    return size


def _check(config: Config) -> None:
    if config["input_size"] < MIN_INPUT_SIZE:
        raise ConfigError(f"resnet50 input_size must be at least {MIN_INPUT_SIZE} (as in Keras), "
                          f"got {config['input_size']}")


def _outputs(config: Config) -> list[TensorSpec]:
    if config["include_top"]:
        return [TensorSpec("probabilities", (config["num_classes"],), (config["num_classes"],))]
    side = feature_size(config["input_size"])
    return [TensorSpec("features", (side, side, 2048), (2048, side, side), spatial=2)]


def _config_strategy() -> Any:
    from hypothesis import strategies as st

    return st.fixed_dictionaries({
        "num_classes": st.integers(1, 20),
        "input_size": st.integers(MIN_INPUT_SIZE, 48),
        "include_top": st.booleans(),
    })


ARCHITECTURE = Architecture(
    name="resnet50",
    description="ResNet50 v1 exactly as keras.applications.ResNet50(weights=None): bottleneck stages "
    "3-4-6-3, BatchNorm eps 1.001e-5, explicit stem padding; softmax head when include_top.",
    source="He et al. (2015), Deep Residual Learning for Image Recognition; keras.applications.ResNet50.",
    params={
        "num_classes": Param(1000, "int", "classes of the softmax head", minimum=1),
        "input_size": Param(224, "int", "image height and width", minimum=MIN_INPUT_SIZE, maximum=IMAGE_SIZE_CEILING),
        "include_top": Param(True, "bool", "global pool + softmax head; False returns the feature map"),
    },
    build_keras=build_keras,
    build_torch=build_torch,
    inputs=lambda c: [TensorSpec("image", (c["input_size"], c["input_size"], 3), (3, c["input_size"], c["input_size"]),
                                 spatial=2)],
    outputs=_outputs,
    check=_check,
    config_strategy=_config_strategy,
    tags=("image", "large"),
)
