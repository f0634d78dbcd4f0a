"""moving_square in PyTorch."""

from __future__ import annotations

import torch
from torch import nn

from . import feature_size

__all__ = ["MovingSquare"]


class MovingSquare(nn.Module):
    """Per-frame conv features (frames folded into the batch) → LSTM → sigmoid."""

    def __init__(self, *, frames: int = 50, size: int = 50, filters: int = 2, units: int = 50) -> None:
        super().__init__()
        side = feature_size(size)
        self.frame_encoder = nn.Sequential(nn.Conv2d(1, filters, 2), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten())
        self.lstm = nn.LSTM(filters * side * side, units, batch_first=True)
        self.out = nn.Sequential(nn.Linear(units, 1), nn.Sigmoid())
        # Keras flattened each (H, W, C) frame; the porter reorders the LSTM's input rows.
        self.keras_port_hints = {"lstm": {"flatten_from": (filters, side, side)}}

    def forward(self, video: torch.Tensor) -> torch.Tensor:
        batch, steps = video.shape[:2]
        features = self.frame_encoder(video.flatten(0, 1)).unflatten(0, (batch, steps))
        _, (h_n, _) = self.lstm(features)
        return self.out(h_n[-1])
