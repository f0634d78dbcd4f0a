"""mobilenet_v2: exactly ``keras.applications.MobileNetV2(weights=None)``, and a native PyTorch twin.

Inverted residual blocks with depthwise convolutions and ReLU6, BatchNorm epsilon 1e-3.
TensorFlow puts the odd padding pixel bottom/right: the stem's strided 'same' convolution
pads with ``TFSamePad2d``, and strided blocks pad exactly as Keras's ZeroPadding2D does.
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Any

from .._errors import ConfigError
from .._spec import IMAGE_SIZE_CEILING, Architecture, Config, Param, TensorSpec
from ._keras_dtype import keras_dtype_policy

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


def build_keras(*, num_classes: int, input_size: int, alpha: float, dtype: str) -> Any:
    import keras

    with keras_dtype_policy(dtype):
        return keras.applications.MobileNetV2(weights=None, classes=num_classes, alpha=alpha,
                                              input_shape=(input_size, input_size, 3))


def build_torch(*, num_classes: int, input_size: int, alpha: float, dtype: str) -> Any:
    import torch
    from torch import nn

    from weights_port.torch_modules import TFSamePad2d

    def conv_bn(in_channels: int, out_channels: int, kernel: int, *, stride: int = 1, groups: int = 1,
                relu6: bool = True, pad: nn.Module | None = None) -> nn.Sequential:
        padding = kernel // 2 if stride == 1 else 0
        layers: OrderedDict[str, nn.Module] = OrderedDict()
        if pad is not None:
            layers["pad"] = pad
        layers["conv"] = nn.Conv2d(in_channels, out_channels, kernel, stride=stride, padding=padding, groups=groups,
                                   bias=False)
        layers["bn"] = nn.BatchNorm2d(out_channels, eps=BN_EPSILON, momentum=1 - KERAS_BN_MOMENTUM)
        if relu6:
            layers["relu6"] = nn.ReLU6()
        return nn.Sequential(layers)

    class InvertedResidual(nn.Module):
        """1×1 expansion (not in block 0) → 3×3 depthwise → linear 1×1 projection (+ input)."""

        def __init__(self, in_channels: int, filters: int, stride: int, expansion: int, size: int) -> None:
            super().__init__()
            hidden = in_channels * expansion
            self.expand = conv_bn(in_channels, hidden, 1) if expansion != 1 else nn.Identity()
            pad = nn.ZeroPad2d(block_padding(size)) if stride == 2 else None
            self.depthwise = conv_bn(hidden, hidden, 3, stride=stride, groups=hidden, pad=pad)
            self.project = conv_bn(hidden, filters, 1, relu6=False)
            self.residual = stride == 1 and in_channels == filters

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            y = self.project(self.depthwise(self.expand(x)))
            return x + y if self.residual else y

    class MobileNetV2(nn.Module):
        """Strided stem, 17 inverted residual blocks, 1×1 head conv, global average pool → softmax."""

        def __init__(self) -> None:
            super().__init__()
            channels = make_divisible(32 * alpha)
            self.stem = conv_bn(3, channels, 3, stride=2, pad=TFSamePad2d(3, 2))
            size = -(-input_size // 2)
            blocks = []
            for filters, stride, expansion in BLOCKS:
                out_channels = make_divisible(int(filters * alpha))
                blocks.append(InvertedResidual(channels, out_channels, stride, expansion, size))
                channels, size = out_channels, -(-size // stride)
            self.blocks = nn.Sequential(*blocks)
            last = make_divisible(1280 * alpha) if alpha > 1.0 else 1280
            self.head = conv_bn(channels, last, 1)
            self.classifier = nn.Linear(last, num_classes)
            self.softmax = nn.Softmax(dim=-1)

        def forward(self, image: torch.Tensor) -> torch.Tensor:
            features = self.head(self.blocks(self.stem(image)))
            return self.softmax(self.classifier(features.mean(dim=(2, 3))))

    return MobileNetV2().to(getattr(torch, dtype))


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
