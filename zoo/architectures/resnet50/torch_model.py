"""resnet50 in PyTorch: the same layers in Keras's order, so weights pair by structure."""

from __future__ import annotations

from collections import OrderedDict

import torch
from torch import nn

from . import BN_EPSILON, KERAS_BN_MOMENTUM, STAGES

__all__ = ["Bottleneck", "ResNet50"]


def _batch_norm(channels: int) -> nn.BatchNorm2d:
    return nn.BatchNorm2d(channels, eps=BN_EPSILON, momentum=1 - KERAS_BN_MOMENTUM)


class Bottleneck(nn.Module):
    """1×1 (strided) → 3×3 → 1×1 ×4, added to the (projected) input, then ReLU."""

    def __init__(self, in_channels: int, filters: int, stride: int, project: bool) -> None:
        super().__init__()
        self.conv1, self.bn1 = nn.Conv2d(in_channels, filters, 1, stride=stride), _batch_norm(filters)
        self.conv2, self.bn2 = nn.Conv2d(filters, filters, 3, padding=1), _batch_norm(filters)
        # Registered before conv3/bn3 because Keras lists the projection there too.
        self.shortcut = nn.Sequential(nn.Conv2d(in_channels, 4 * filters, 1, stride=stride),
                                      _batch_norm(4 * filters)) if project else nn.Identity()
        self.conv3, self.bn3 = nn.Conv2d(filters, 4 * filters, 1), _batch_norm(4 * filters)
        self.relu = nn.ReLU()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.relu(self.bn1(self.conv1(x)))
        y = self.relu(self.bn2(self.conv2(y)))
        return self.relu(self.shortcut(x) + self.bn3(self.conv3(y)))


class ResNet50(nn.Module):
    """Stem, four bottleneck stages; with ``include_top`` global average pool → softmax.

    ``input_size`` is accepted for symmetry with the Keras builder; the network takes any size.
    """

    def __init__(self, *, num_classes: int = 1000, input_size: int = 224, include_top: bool = True) -> None:
        super().__init__()
        self.stem = nn.Sequential(OrderedDict(
            pad=nn.ZeroPad2d(3), conv=nn.Conv2d(3, 64, 7, stride=2), bn=_batch_norm(64), relu=nn.ReLU(),
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
