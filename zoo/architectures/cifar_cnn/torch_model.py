"""cifar_cnn in PyTorch."""

from __future__ import annotations

from collections import OrderedDict

import torch
from torch import nn

from . import DENSE_UNITS, FILTERS

__all__ = ["CifarCNN"]


class CifarCNN(nn.Module):
    """Three conv → ReLU → 2×2 max-pool stages, then a two-layer classifier (logits)."""

    def __init__(self, *, input_size: int = 32, in_channels: int = 3, num_classes: int = 10) -> None:
        super().__init__()
        stages: OrderedDict[str, nn.Module] = OrderedDict()
        channels = in_channels
        for index, filters in enumerate(FILTERS, start=1):
            stages[f"conv{index}"] = nn.Conv2d(channels, filters, 3, padding=1)
            stages[f"relu{index}"] = nn.ReLU()
            stages[f"pool{index}"] = nn.MaxPool2d(2)
            channels = filters
        side = input_size // 2 ** len(FILTERS)
        self.features = nn.Sequential(stages)
        self.classifier = nn.Sequential(
            nn.Flatten(),
            nn.Linear(channels * side * side, DENSE_UNITS),
            nn.ReLU(),
            nn.Linear(DENSE_UNITS, num_classes),
        )
        # Keras flattened the (H, W, C) map; the porter reorders that Dense's rows.
        self.keras_port_hints = {"classifier.1": {"flatten_from": (channels, side, side)}}

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.features(image))
