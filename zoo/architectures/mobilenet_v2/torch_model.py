"""mobilenet_v2 in PyTorch: the same layers in Keras's order, so weights pair by structure."""

from __future__ import annotations

from collections import OrderedDict

import torch
from torch import nn

from weights_port.torch_modules import TFSamePad2d

from . import BLOCKS, BN_EPSILON, KERAS_BN_MOMENTUM, block_padding, make_divisible

__all__ = ["InvertedResidual", "MobileNetV2", "conv_bn"]


def conv_bn(in_channels: int, out_channels: int, kernel: int, *, stride: int = 1, groups: int = 1,
            relu6: bool = True, pad: nn.Module | None = None) -> nn.Sequential:
    """[pad →] convolution without bias → BatchNorm [→ ReLU6], as Keras's Conv2D/BatchNormalization pairs."""
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
    """1×1 expansion (not in block 0) → 3×3 depthwise → linear 1×1 projection (+ input).

    ``size`` is the input's side: a strided block pads as Keras's ``correct_pad`` does for it.
    """

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

    def __init__(self, *, num_classes: int = 1000, input_size: int = 224, alpha: float = 1.0) -> None:
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
