"""cumsum_bidirectional in PyTorch."""

from __future__ import annotations

import torch
from torch import nn

__all__ = ["CumsumBidirectional"]


class CumsumBidirectional(nn.Module):
    """Bidirectional LSTM (features concatenated) → per-step sigmoid."""

    def __init__(self, *, timesteps: int = 10, units: int = 50) -> None:
        super().__init__()
        self.lstm = nn.LSTM(1, units, batch_first=True, bidirectional=True)
        self.out = nn.Sequential(nn.Linear(2 * units, 1), nn.Sigmoid())

    def forward(self, sequence: torch.Tensor) -> torch.Tensor:
        x, _ = self.lstm(sequence)
        return self.out(x)
