"""mobilenet_v2: exactly ``keras.applications.MobileNetV2(weights=None)``, and a native PyTorch twin.

Inverted residual blocks with depthwise convolutions and ReLU6, BatchNorm epsilon 1e-3.
TensorFlow puts the odd padding pixel bottom/right: the stem's strided 'same' convolution
pads with ``TFSamePad2d``, and strided blocks pad exactly as Keras's ZeroPadding2D does.

The Keras builder is in ``keras_model``, the PyTorch classes ``MobileNetV2`` and
``InvertedResidual`` in ``torch_model``.
"""

from __future__ import annotations

from typing import Any

from ..._errors import ConfigError
from ..._spec import IMAGE_SIZE_CEILING, Architecture, Config, Imported, Param, TensorSpec, TorchClass

# (filters, stride, expansion) of blocks 0 … 16
BLOCKS = (
    (16, 1, 1),
    (24, 2, 6), (24, 1, 6),
    (32, 2, 6), (32, 1, 6), (32, 1, 6),
    (64, 2, 6), (64, 1, 6), (64, 1, 6), (64, 1, 6),
    (96, 1, 6), (96, 1, 6), (96, 1, 6),
    (160, 2, 6), (160, 1, 6), (160, 1, 6),
    (320, 1, 6),
)
BN_EPSILON = 1e-3
KERAS_BN_MOMENTUM = 0.999
MIN_INPUT_SIZE = 32


def make_divisible(value: float, divisor: int = 8) -> int:
    """Keras's rounding of channel counts to a multiple of 8, never down by more than 10%."""
    rounded = max(divisor, int(value + divisor / 2) // divisor * divisor)
    return rounded + divisor if rounded < 0.9 * value else rounded


def block_padding(size: int) -> tuple[int, int, int, int]:
    """Keras's ``correct_pad`` for a 3×3 stride-2 window, as (left, right, top, bottom)."""
    before = 1 - (1 - size % 2)
    return (before, 1, before, 1)


build_keras = Imported(f"{__name__}.keras_model:build_keras")
build_torch = TorchClass(f"{__name__}.torch_model:MobileNetV2")


def _check(config: Config) -> None:
    if config["input_size"] < MIN_INPUT_SIZE:
        raise ConfigError(f"mobilenet_v2 input_size must be at least {MIN_INPUT_SIZE} (as in Keras), "
                          f"got {config['input_size']}")
    if config["alpha"] <= 0:
        raise ConfigError(f"mobilenet_v2 alpha must be positive, got {config['alpha']}")


def _config_strategy() -> Any:
    from hypothesis import strategies as st

    return st.fixed_dictionaries({
        "num_classes": st.integers(1, 20),
        "input_size": st.integers(MIN_INPUT_SIZE, 48),
        "alpha": st.sampled_from([0.35, 0.5, 0.75, 1.0]),
    })


ARCHITECTURE = Architecture(
    name="mobilenet_v2",
    description="MobileNetV2 exactly as keras.applications.MobileNetV2(weights=None): inverted residuals, "
    "depthwise 3×3, ReLU6, BatchNorm eps 1e-3, bottom/right padding before strided convolutions.",
    source="Sandler et al. (2018), MobileNetV2: Inverted Residuals and Linear Bottlenecks; "
    "keras.applications.MobileNetV2.",
    params={
        "num_classes": Param(1000, "int", "classes of the softmax head", minimum=1),
        "input_size": Param(224, "int", "image height and width", minimum=MIN_INPUT_SIZE, maximum=IMAGE_SIZE_CEILING),
        "alpha": Param(1.0, "float", "width multiplier"),
    },
    build_keras=build_keras,
    build_torch=build_torch,
    inputs=lambda c: [TensorSpec("image", (c["input_size"], c["input_size"], 3), (3, c["input_size"], c["input_size"]),
                                 spatial=2)],
    outputs=lambda c: [TensorSpec("probabilities", (c["num_classes"],), (c["num_classes"],))],
    check=_check,
    config_strategy=_config_strategy,
    tags=("image", "large"),
)
