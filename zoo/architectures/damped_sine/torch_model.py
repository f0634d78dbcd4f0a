"""damped_sine in PyTorch."""

from __future__ import annotations

import torch
from torch import nn

__all__ = ["DampedSine"]


class DampedSine(nn.Module):
    """Two stacked LSTMs (separate modules, as in Keras) → linear forecast of n_out steps."""

    def __init__(self, *, timesteps: int = 50, units: int = 20, n_out: int = 5) -> None:
        super().__init__()
        self.lstm1 = nn.LSTM(1, units, batch_first=True)
        self.lstm2 = nn.LSTM(units, units, batch_first=True)
        self.out = nn.Linear(units, n_out)

    def forward(self, sequence: torch.Tensor) -> torch.Tensor:
        x, _ = self.lstm1(sequence)
        _, (h_n, _) = self.lstm2(x)
        return self.out(h_n[-1])
