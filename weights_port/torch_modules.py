"""PyTorch modules for Keras behaviour that ``torch.nn`` has no fused form of.

Imported only when a file needs one (it imports torch).
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

__all__ = ["GateActivationLSTM", "SeparableConv1d", "SeparableConv2d", "TFSamePad2d", "gate_activation"]


def gate_activation(name: str) -> Any:
    """The gate nonlinearity by its porter name; Keras 2's hard sigmoid is clip(0.2x + 0.5, 0, 1)."""
    if name == "hard_sigmoid_keras2":
        return lambda x: torch.clamp(0.2 * x + 0.5, 0.0, 1.0)
    if name == "hard_sigmoid":  # Keras 3: relu6(x + 3) / 6, which is torch's hardsigmoid
        return nn.functional.hardsigmoid
    if name == "sigmoid":
        return torch.sigmoid
    raise ValueError(f"unknown gate activation {name!r}")


class GateActivationLSTM(nn.Module):
    """``nn.LSTM`` (one layer) with a chosen gate activation, for legacy Keras 2 files.

    Keras 2.0–2.2 LSTMs gated with a hard sigmoid, which the fused ``nn.LSTM`` kernel cannot
    compute. Same parameter names, call signature and outputs as ``nn.LSTM``; it steps
    through time in Python, so it is used only where a file demands it.
    """

    def __init__(self, input_size: int, hidden_size: int, *, bias: bool = True, batch_first: bool = False,
                 bidirectional: bool = False, recurrent_activation: str = "hard_sigmoid_keras2") -> None:
        super().__init__()
        self.input_size, self.hidden_size = input_size, hidden_size
        self.batch_first, self.bidirectional, self.bias = batch_first, bidirectional, bias
        self.num_layers = 1
        self.recurrent_activation = recurrent_activation
        self._gate = gate_activation(recurrent_activation)
        for suffix in self._suffixes:
            self.register_parameter(f"weight_ih_l0{suffix}", nn.Parameter(torch.empty(4 * hidden_size, input_size)))
            self.register_parameter(f"weight_hh_l0{suffix}", nn.Parameter(torch.empty(4 * hidden_size, hidden_size)))
            if bias:
                self.register_parameter(f"bias_ih_l0{suffix}", nn.Parameter(torch.zeros(4 * hidden_size)))
                self.register_parameter(f"bias_hh_l0{suffix}", nn.Parameter(torch.zeros(4 * hidden_size)))

    @classmethod
    def like(cls, lstm: nn.LSTM, recurrent_activation: str) -> GateActivationLSTM:
        if lstm.num_layers != 1 or lstm.proj_size:
            raise ValueError("only single-layer LSTMs without projection can change their gate activation")
        module = cls(lstm.input_size, lstm.hidden_size, bias=lstm.bias, batch_first=lstm.batch_first,
                     bidirectional=lstm.bidirectional, recurrent_activation=recurrent_activation)
        module.load_state_dict(lstm.state_dict())
        return module.to(next(lstm.parameters()).dtype)

    @property
    def _suffixes(self) -> tuple[str, ...]:
        return ("", "_reverse") if self.bidirectional else ("",)

    def forward(self, x: torch.Tensor, hx: tuple[torch.Tensor, torch.Tensor] | None = None
                ) -> tuple[torch.Tensor, tuple[torch.Tensor, torch.Tensor]]:
        sequence = x if self.batch_first else x.transpose(0, 1)  # (N, T, F)
        outputs, finals_h, finals_c = [], [], []
        for direction, suffix in enumerate(self._suffixes):
            steps = sequence if direction == 0 else sequence.flip(1)
            h, c = (hx[0][direction], hx[1][direction]) if hx is not None else (
                sequence.new_zeros(sequence.shape[0], self.hidden_size),) * 2
            w_ih, w_hh = getattr(self, f"weight_ih_l0{suffix}"), getattr(self, f"weight_hh_l0{suffix}")
            b = getattr(self, f"bias_ih_l0{suffix}") + getattr(self, f"bias_hh_l0{suffix}") if self.bias else 0.0
            projected = steps @ w_ih.T + b  # every time step's input part at once
            hidden = []
            for t in range(steps.shape[1]):
                i, f, g, o = (projected[:, t] + h @ w_hh.T).chunk(4, dim=1)
                c = self._gate(f) * c + self._gate(i) * torch.tanh(g)
                h = self._gate(o) * torch.tanh(c)
                hidden.append(h)
            out = torch.stack(hidden, dim=1)
            outputs.append(out if direction == 0 else out.flip(1))
            finals_h.append(h)
            finals_c.append(c)
        output = torch.cat(outputs, dim=-1)
        return (output if self.batch_first else output.transpose(0, 1)), (torch.stack(finals_h), torch.stack(finals_c))


class _SeparableConv(nn.Module):
    """Keras's SeparableConv: a depthwise conv (groups = in channels) then a 1×1 pointwise conv."""

    conv: Any = None

    def __init__(self, in_channels: int, out_channels: int, kernel_size: Any, *, stride: Any = 1, padding: Any = 0,
                 dilation: Any = 1, depth_multiplier: int = 1, bias: bool = True) -> None:
        super().__init__()
        self.in_channels, self.depth_multiplier = in_channels, depth_multiplier
        self.depthwise = self.conv(in_channels, in_channels * depth_multiplier, kernel_size, stride=stride,
                                   padding=padding, dilation=dilation, groups=in_channels, bias=False)
        self.pointwise = self.conv(in_channels * depth_multiplier, out_channels, 1, bias=bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.pointwise(self.depthwise(x))


class SeparableConv1d(_SeparableConv):
    conv = nn.Conv1d


class SeparableConv2d(_SeparableConv):
    conv = nn.Conv2d


class TFSamePad2d(nn.Module):
    """TensorFlow's 'same' padding for a strided window: the odd pixel goes bottom/right.

    PyTorch's symmetric ``padding=`` cannot express it; this pads by the input's size at
    call time, so any input size pads exactly as TensorFlow does.
    """

    def __init__(self, kernel_size: int | tuple[int, int], stride: int | tuple[int, int],
                 dilation: int | tuple[int, int] = 1) -> None:
        super().__init__()
        pair = lambda v: (v, v) if isinstance(v, int) else tuple(v)  # noqa: E731
        self.kernel_size, self.stride, self.dilation = pair(kernel_size), pair(stride), pair(dilation)

    @staticmethod
    def amounts(size: int, kernel: int, stride: int, dilation: int = 1) -> tuple[int, int]:
        """(before, after) padding of one axis, as TensorFlow computes it."""
        effective = (kernel - 1) * dilation + 1
        out = -(-size // stride)
        total = max((out - 1) * stride + effective - size, 0)
        return total // 2, total - total // 2

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        top, bottom = self.amounts(x.shape[-2], self.kernel_size[0], self.stride[0], self.dilation[0])
        left, right = self.amounts(x.shape[-1], self.kernel_size[1], self.stride[1], self.dilation[1])
        return nn.functional.pad(x, (left, right, top, bottom))
