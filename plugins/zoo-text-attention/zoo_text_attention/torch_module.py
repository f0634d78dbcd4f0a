"""The PyTorch twin of the Keras ``Attention`` layer."""

from __future__ import annotations

import torch
from torch import nn


class AttentionPooling(nn.Module):
    """Attention pooling over time: ``projection`` is Keras's W and b, ``context`` its u."""

    def __init__(self, features: int, units: int) -> None:
        super().__init__()
        self.projection = nn.Linear(features, units)
        self.context = nn.Parameter(torch.randn(units) * 0.05)

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (batch, time, features)
        weights = torch.softmax(torch.tanh(self.projection(x)) @ self.context, dim=1)
        return (x * weights.unsqueeze(-1)).sum(dim=1)
