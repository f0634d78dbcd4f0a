"""resnet50: exactly ``keras.applications.ResNet50(weights=None)``, and a native PyTorch twin.

ResNet v1 as Keras builds it: the stride sits on a block's first 1×1 convolution, every
convolution has a bias, BatchNorm epsilon is 1.001e-5, and the stem pads explicitly
(3 pixels before the 7×7 convolution, 1 before the max-pool).
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Any

from .._errors import ConfigError
from .._spec import IMAGE_SIZE_CEILING, Architecture, Config, Param, TensorSpec
from ._keras_dtype import keras_dtype_policy

# (filters, blocks, stride of the first block) of the four stages conv2 … conv5
STAGES = ((64, 3, 1), (128, 4, 2), (256, 6, 2), (512, 3, 2))
BN_EPSILON = 1.001e-5
KERAS_BN_MOMENTUM = 0.99
MIN_INPUT_SIZE = 32


def build_keras(*, num_classes: int, input_size: int, include_top: bool, dtype: str) -> Any:
    import keras

    with keras_dtype_policy(dtype):
        return keras.applications.ResNet50(weights=None, include_top=include_top, classes=num_classes,
                                           input_shape=(input_size, input_size, 3))


def build_torch(*, num_classes: int, input_size: int, include_top: bool, dtype: str) -> Any:
    import torch
    from torch import nn

    def batch_norm(channels: int) -> nn.BatchNorm2d:
        return nn.BatchNorm2d(channels, eps=BN_EPSILON, momentum=1 - KERAS_BN_MOMENTUM)

    class Bottleneck(nn.Module):
        """1×1 (strided) → 3×3 → 1×1 ×4, added to the (projected) input, then ReLU."""

        def __init__(self, in_channels: int, filters: int, stride: int, project: bool) -> None:
            super().__init__()
            self.conv1, self.bn1 = nn.Conv2d(in_channels, filters, 1, stride=stride), batch_norm(filters)
            self.conv2, self.bn2 = nn.Conv2d(filters, filters, 3, padding=1), batch_norm(filters)
            # Registered before conv3/bn3 because Keras lists the projection there too.
            self.shortcut = nn.Sequential(nn.Conv2d(in_channels, 4 * filters, 1, stride=stride),
                                          batch_norm(4 * filters)) if project else nn.Identity()
            self.conv3, self.bn3 = nn.Conv2d(filters, 4 * filters, 1), batch_norm(4 * filters)
            self.relu = nn.ReLU()

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            y = self.relu(self.bn1(self.conv1(x)))
            y = self.relu(self.bn2(self.conv2(y)))
            return self.relu(self.shortcut(x) + self.bn3(self.conv3(y)))

    class ResNet50(nn.Module):
        """Stem, four bottleneck stages; with ``include_top`` global average pool → softmax."""

        def __init__(self) -> None:
            super().__init__()
            self.stem = nn.Sequential(OrderedDict(
                pad=nn.ZeroPad2d(3), conv=nn.Conv2d(3, 64, 7, stride=2), bn=batch_norm(64), relu=nn.ReLU(),
                pool_pad=nn.ZeroPad2d(1), pool=nn.MaxPool2d(3, stride=2),
            ))
            stages: OrderedDict[str, nn.Module] = OrderedDict()
            channels = 64
            for index, (filters, blocks, stride) in enumerate(STAGES, start=2):
                layers = [Bottleneck(channels, filters, stride, project=True)]
                layers += [Bottleneck(4 * filters, filters, 1, project=False) for _ in range(blocks - 1)]
                stages[f"conv{index}"] = nn.Sequential(*layers)
                channels = 4 * filters
            self.stages = nn.Sequential(stages)
            self.include_top = include_top
            if include_top:
                self.classifier = nn.Linear(channels, num_classes)
                self.softmax = nn.Softmax(dim=-1)

        def forward(self, image: torch.Tensor) -> torch.Tensor:
            features = self.stages(self.stem(image))
            if not self.include_top:
                return features
            return self.softmax(self.classifier(features.mean(dim=(2, 3))))

    return ResNet50().to(getattr(torch, dtype))


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
