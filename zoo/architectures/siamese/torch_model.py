"""siamese in PyTorch: one ``twin`` module, called on both images."""

from __future__ import annotations

from collections import OrderedDict

import torch
from torch import nn

from . import CONVS, feature_size

__all__ = ["SiameseNetwork"]


class SiameseNetwork(nn.Module):
    """Both images go through one shared ``twin``; ``head`` scores |twin(l) − twin(r)|."""

    def __init__(self, *, input_size: int = 105, in_channels: int = 1, embedding_dim: int = 4096) -> None:
        super().__init__()
        blocks: OrderedDict[str, nn.Module] = OrderedDict()
        channels = in_channels
        for index, (filters, kernel) in enumerate(CONVS, start=1):
            blocks[f"conv{index}"] = nn.Conv2d(channels, filters, kernel)
            blocks[f"relu{index}"] = nn.ReLU()
            if index < len(CONVS):
                blocks[f"pool{index}"] = nn.MaxPool2d(2)
            channels = filters
        side = feature_size(input_size)
        blocks["flatten"] = nn.Flatten()
        blocks["embedding"] = nn.Linear(channels * side * side, embedding_dim)
        blocks["sigmoid"] = nn.Sigmoid()
        self.twin = nn.Sequential(blocks)
        self.head = nn.Sequential(OrderedDict(similarity=nn.Linear(embedding_dim, 1), sigmoid=nn.Sigmoid()))
        # Keras flattened the (H, W, C) map; the porter reorders that Dense's rows.
        self.keras_port_hints = {"twin.embedding": {"flatten_from": (channels, side, side)}}

    def forward(self, left: torch.Tensor, right: torch.Tensor) -> torch.Tensor:
        return self.head(torch.abs(self.twin(left) - self.twin(right)))
