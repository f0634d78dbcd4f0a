"""shape_generation in PyTorch."""

from __future__ import annotations

import torch
from torch import nn

__all__ = ["ShapeGeneration"]


class ShapeGeneration(nn.Module):
    """LSTM over the (1-step) input → next (x, y) point."""

    def __init__(self, *, units: int = 10) -> None:
        super().__init__()
        self.lstm = nn.LSTM(2, units, batch_first=True)
        self.out = nn.Linear(units, 2)

    def forward(self, point: torch.Tensor) -> torch.Tensor:
        _, (h_n, _) = self.lstm(point)
        return self.out(h_n[-1])
