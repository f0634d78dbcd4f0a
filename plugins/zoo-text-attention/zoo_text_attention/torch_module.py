"""The PyTorch twin of the Keras ``Attention`` layer, and the ``TextAttention`` model built on it."""

from __future__ import annotations

import torch
from torch import nn

__all__ = ["AttentionPooling", "TextAttention"]


class AttentionPooling(nn.Module):
    """Attention pooling over time: ``projection`` is Keras's W and b, ``context`` its u."""

    def __init__(self, features: int, units: int) -> None:
        super().__init__()
        self.projection = nn.Linear(features, units)
        self.context = nn.Parameter(torch.randn(units) * 0.05)

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (batch, time, features)
        weights = torch.softmax(torch.tanh(self.projection(x)) @ self.context, dim=1)
        return (x * weights.unsqueeze(-1)).sum(dim=1)


class TextAttention(nn.Module):
    """Embedding → BiLSTM → attention pooling → Dense(relu) → Dense(1, sigmoid)."""

    def __init__(self, *, vocab_size: int = 20000, embed_dim: int = 300, maxlen: int = 70, hidden: int = 64,
                 attention_units: int = 64, dense_units: int = 16) -> None:
        super().__init__()
        self.embedding = nn.Embedding(vocab_size, embed_dim)
        self.lstm = nn.LSTM(embed_dim, hidden, batch_first=True, bidirectional=True)
        self.attention = AttentionPooling(2 * hidden, attention_units)
        self.head = nn.Sequential(nn.Linear(2 * hidden, dense_units), nn.ReLU(), nn.Linear(dense_units, 1),
                                  nn.Sigmoid())

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        x, _ = self.lstm(self.embedding(tokens))
        return self.head(self.attention(x))
