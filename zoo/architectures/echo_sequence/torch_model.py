"""echo_sequence in PyTorch."""

from __future__ import annotations

import torch
from torch import nn

__all__ = ["EchoSequence"]


class EchoSequence(nn.Module):
    """LSTM's last hidden state → softmax over the features."""

    def __init__(self, *, timesteps: int = 5, n_features: int = 10, units: int = 25) -> None:
        super().__init__()
        self.lstm = nn.LSTM(n_features, units, batch_first=True)
        self.out = nn.Sequential(nn.Linear(units, n_features), nn.Softmax(dim=-1))

    def forward(self, sequence: torch.Tensor) -> torch.Tensor:
        _, (h_n, _) = self.lstm(sequence)
        return self.out(h_n[-1])
