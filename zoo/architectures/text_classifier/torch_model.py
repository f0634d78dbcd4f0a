"""text_classifier in PyTorch."""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

__all__ = ["TextClassifier"]


class TextClassifier(nn.Module):
    """Embedding → BiLSTM → BiGRU; final GRU states, mean and max over time, and meta → MLP.

    ``embedding_matrix`` (vocab_size, embed_dim) starts the embedding from it, frozen.
    """

    def __init__(self, *, vocab_size: int = 20000, embed_dim: int = 300, maxlen: int = 70, hidden: int = 40,
                 n_features: int = 6, dense_units: int = 16, embedding_matrix: Any = None) -> None:
        super().__init__()
        if embedding_matrix is None:
            self.embedding = nn.Embedding(vocab_size, embed_dim)
        else:
            self.embedding = nn.Embedding.from_pretrained(torch.as_tensor(embedding_matrix), freeze=True)
        self.spatial_dropout = nn.Dropout1d(0.1)  # drops whole embedding channels, as SpatialDropout1D
        self.lstm = nn.LSTM(embed_dim, hidden, batch_first=True, bidirectional=True)
        self.gru = nn.GRU(2 * hidden, hidden, batch_first=True, bidirectional=True)
        self.head = nn.Sequential(
            nn.Linear(6 * hidden + n_features, dense_units), nn.ReLU(), nn.Dropout(0.1),
            nn.Linear(dense_units, 1), nn.Sigmoid(),
        )

    def forward(self, tokens: torch.Tensor, meta: torch.Tensor) -> torch.Tensor:
        x = self.spatial_dropout(self.embedding(tokens).transpose(1, 2)).transpose(1, 2)
        x, _ = self.lstm(x)
        x, h_n = self.gru(x)  # h_n: (direction, batch, hidden); index it, never .view(-1, 2 * hidden)
        features = torch.cat([h_n[0], h_n[1], x.mean(dim=1), x.amax(dim=1), meta], dim=1)
        return self.head(features)
