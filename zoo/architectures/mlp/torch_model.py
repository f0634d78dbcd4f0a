"""mlp in PyTorch: ``MLP`` is an ``nn.Sequential``, so its parameters are ``0.weight``, ``0.bias``, …"""

from __future__ import annotations

from collections.abc import Sequence

from torch import nn

__all__ = ["MLP"]


class MLP(nn.Sequential):
    """Linear → ReLU per hidden width, then Linear → Softmax over the classes."""

    def __init__(self, *, in_features: int = 64, hidden: Sequence[int] = (32, 32), num_classes: int = 10) -> None:
        blocks: list[nn.Module] = []
        width = in_features
        for units in hidden:
            blocks += [nn.Linear(width, units), nn.ReLU()]
            width = units
        super().__init__(*blocks, nn.Linear(width, num_classes), nn.Softmax(dim=-1))
