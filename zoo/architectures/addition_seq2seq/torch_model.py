"""addition_seq2seq in PyTorch."""

from __future__ import annotations

import torch
from torch import nn

__all__ = ["AdditionSeq2Seq"]


class AdditionSeq2Seq(nn.Module):
    """Encoder LSTM's final state, repeated n_out times, decoded into per-step softmaxes."""

    def __init__(self, *, n_in: int = 8, n_out: int = 2, n_chars: int = 12, encoder_units: int = 100,
                 decoder_units: int = 50) -> None:
        super().__init__()
        self.n_out = n_out
        self.encoder = nn.LSTM(n_chars, encoder_units, batch_first=True)
        self.decoder = nn.LSTM(encoder_units, decoder_units, batch_first=True)
        self.out = nn.Sequential(nn.Linear(decoder_units, n_chars), nn.Softmax(dim=-1))

    def forward(self, digits: torch.Tensor) -> torch.Tensor:
        _, (h_n, _) = self.encoder(digits)
        repeated = h_n[-1].unsqueeze(1).expand(-1, self.n_out, -1)
        decoded, _ = self.decoder(repeated)
        return self.out(decoded)
