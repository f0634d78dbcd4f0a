"""PyTorch code for Keras behaviour that ``torch.nn`` has no form of: the converter's runtime.

The zoo's models import these; ``zoo convert`` copies the ones a model needs into the
generated file with ``inspect.getsource``, so every helper is this real, tested code and a
generated file still depends on torch alone. Each helper uses only ``torch``, ``nn``,
``F``, builtins and other helpers of this module (the converter checks it).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from ._padding import same_padding

__all__ = [
    "ChannelLayerNorm",
    "GateActivationLSTM",
    "LayerScale",
    "Normalize",
    "PReLU",
    "RecurrentLoop",
    "Rescale",
    "SeparableConv",
    "SeparableConv1d",
    "SeparableConv2d",
    "TFSamePad2d",
    "activation_function",
    "avg_pool_same",
    "keras2_hard_sigmoid",
    "pad_same",
    "same_padding",
]


def keras2_hard_sigmoid(x: torch.Tensor) -> torch.Tensor:
    """Keras 2's hard sigmoid, clip(0.2·x + 0.5, 0, 1) (Keras 3's is torch's ``hardsigmoid``)."""
    return torch.clamp(0.2 * x + 0.5, 0.0, 1.0)


def activation_function(name: str):
    """A recurrent layer's activation by its converter name."""
    functions = {"tanh": torch.tanh, "sigmoid": torch.sigmoid, "relu": torch.relu, "hard_sigmoid": F.hardsigmoid,
                 "hard_sigmoid_keras2": keras2_hard_sigmoid, "linear": lambda x: x}
    if name not in functions:
        raise ValueError(f"unknown recurrent activation {name!r}")
    return functions[name]


def pad_same(x: torch.Tensor, kernel: tuple[int, ...], stride: tuple[int, ...], dilation: tuple[int, ...],
             value: float = 0.0) -> torch.Tensor:
    """TensorFlow's 'same' padding of the trailing spatial axes, for sizes known only at call time."""
    pads: list[int] = []
    for size, k, s, d in reversed(list(zip(x.shape[-len(kernel):], kernel, stride, dilation, strict=True))):
        pads += list(same_padding(size, k, s, d))
    return F.pad(x, pads, value=value)


def avg_pool_same(x: torch.Tensor, pads: tuple[int, ...], kernel: tuple[int, ...],
                  stride: tuple[int, ...]) -> torch.Tensor:
    """TensorFlow's 'same' average pooling: padded positions do not count in the average."""
    pool = {1: F.avg_pool1d, 2: F.avg_pool2d, 3: F.avg_pool3d}[len(kernel)]
    total = pool(F.pad(x, pads), kernel, stride)
    count = pool(F.pad(torch.ones_like(x[:1, :1]), pads), kernel, stride)
    return total / count


class TFSamePad2d(nn.Module):
    """TensorFlow's 'same' padding before a strided 2-D window, for any input size (odd pixel bottom/right)."""

    def __init__(self, kernel_size: int | tuple[int, int], stride: int | tuple[int, int],
                 dilation: int | tuple[int, int] = 1) -> None:
        super().__init__()
        self.kernel_size, self.stride, self.dilation = (
            (v, v) if isinstance(v, int) else tuple(v) for v in (kernel_size, stride, dilation))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return pad_same(x, self.kernel_size, self.stride, self.dilation)


class SeparableConv(nn.Module):
    """Keras's SeparableConv: a depthwise convolution (groups = in channels), then a 1×1 pointwise one."""

    conv: type[nn.Module] = nn.Conv2d

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int | tuple[int, ...],
                 stride: int | tuple[int, ...] = 1, padding: int | tuple[int, ...] = 0,
                 dilation: int | tuple[int, ...] = 1, depth_multiplier: int = 1, bias: bool = True) -> None:
        super().__init__()
        self.in_channels, self.depth_multiplier = in_channels, depth_multiplier
        self.depthwise = self.conv(in_channels, in_channels * depth_multiplier, kernel_size, stride=stride,
                                   padding=padding, dilation=dilation, groups=in_channels, bias=False)
        self.pointwise = self.conv(in_channels * depth_multiplier, out_channels, 1, bias=bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.pointwise(self.depthwise(x))


class SeparableConv1d(SeparableConv):
    conv = nn.Conv1d


class SeparableConv2d(SeparableConv):
    conv = nn.Conv2d


class ChannelLayerNorm(nn.Module):
    """Keras's LayerNormalization over the channels of a channels-first tensor (axis 1)."""

    def __init__(self, channels: int, eps: float, affine: bool = True, bias: bool = True) -> None:
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(channels)) if affine else None
        self.bias = nn.Parameter(torch.zeros(channels)) if bias else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        mean = x.mean(dim=1, keepdim=True)
        variance = (x - mean).square().mean(dim=1, keepdim=True)
        x = (x - mean) * torch.rsqrt(variance + self.eps)
        shape = (1, -1) + (1,) * (x.dim() - 2)
        if self.weight is not None:
            x = x * self.weight.reshape(shape)
        if self.bias is not None:
            x = x + self.bias.reshape(shape)
        return x


class Normalize(nn.Module):
    """Keras's Normalization at inference: (x − mean) / std, with the statistics as buffers."""

    mean: torch.Tensor
    std: torch.Tensor

    def __init__(self, shape: tuple[int, ...]) -> None:
        super().__init__()
        self.register_buffer("mean", torch.zeros(shape))
        self.register_buffer("std", torch.ones(shape))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return (x - self.mean) / self.std


class Rescale(nn.Module):
    """Keras's Rescaling with per-channel scale and offset: x · scale + offset."""

    scale: torch.Tensor
    offset: torch.Tensor

    def __init__(self, shape: tuple[int, ...]) -> None:
        super().__init__()
        self.register_buffer("scale", torch.ones(shape))
        self.register_buffer("offset", torch.zeros(shape))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.scale + self.offset


class LayerScale(nn.Module):
    """ConvNeXt's learned per-channel scale (Keras's LayerScale): x · gamma."""

    def __init__(self, shape: tuple[int, ...]) -> None:
        super().__init__()
        self.gamma = nn.Parameter(torch.ones(shape))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.gamma


class PReLU(nn.Module):
    """Keras's PReLU: relu(x) − alpha · relu(−x), ``alpha`` shaped like the input (or shared on some axes)."""

    def __init__(self, shape: tuple[int, ...]) -> None:
        super().__init__()
        self.alpha = nn.Parameter(torch.zeros(shape))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.relu(x) - self.alpha * F.relu(-x)


class RecurrentLoop(nn.Module):
    """One Keras recurrent layer stepped through time, for what the fused ``torch.nn`` kernels cannot compute
    (other activations, Keras 2's hard-sigmoid gates, a GRU that resets before its recurrent matmul).

    Parameters are named like ``nn.LSTM``/``nn.GRU``/``nn.RNN``'s, gates in PyTorch's order;
    it takes and returns what they do: ``(sequence, h_n)``, or ``(sequence, (h_n, c_n))`` for
    an LSTM.
    """

    def __init__(self, kind: str, input_size: int, hidden_size: int, activation: str = "tanh",
                 gate: str = "sigmoid", reset_after: bool = True, bidirectional: bool = False, bias: bool = True,
                 batch_first: bool = True) -> None:
        super().__init__()
        self.kind, self.input_size, self.hidden_size = kind, input_size, hidden_size
        self.reset_after, self.bidirectional, self.bias, self.batch_first = reset_after, bidirectional, bias, batch_first
        self.num_layers = 1
        self.activation_name, self.gate_name = activation, gate
        self.activation, self.gate = activation_function(activation), activation_function(gate)
        width = {"LSTM": 4, "GRU": 3, "RNN": 1}[kind] * hidden_size
        for suffix in self.suffixes:
            self.register_parameter(f"weight_ih_l0{suffix}", nn.Parameter(torch.empty(width, input_size)))
            self.register_parameter(f"weight_hh_l0{suffix}", nn.Parameter(torch.empty(width, hidden_size)))
            if bias:
                self.register_parameter(f"bias_ih_l0{suffix}", nn.Parameter(torch.zeros(width)))
                self.register_parameter(f"bias_hh_l0{suffix}", nn.Parameter(torch.zeros(width)))

    @property
    def suffixes(self) -> tuple[str, ...]:
        return ("", "_reverse") if self.bidirectional else ("",)

    def cell(self, x: torch.Tensor, h: torch.Tensor, c: torch.Tensor, suffix: str
             ) -> tuple[torch.Tensor, torch.Tensor]:
        """One time step of one direction: (h, c) after input ``x``."""
        w_ih, w_hh = getattr(self, f"weight_ih_l0{suffix}"), getattr(self, f"weight_hh_l0{suffix}")
        inputs, recurrent = x @ w_ih.T, h @ w_hh.T
        if self.bias:
            inputs = inputs + getattr(self, f"bias_ih_l0{suffix}")
            recurrent = recurrent + getattr(self, f"bias_hh_l0{suffix}")
        if self.kind == "LSTM":
            i, f, g, o = (inputs + recurrent).chunk(4, dim=1)
            c = self.gate(f) * c + self.gate(i) * self.activation(g)
            return self.gate(o) * self.activation(c), c
        if self.kind == "RNN":
            return self.activation(inputs + recurrent), c
        x_r, x_z, x_n = inputs.chunk(3, dim=1)
        h_r, h_z, h_n = recurrent.chunk(3, dim=1)
        r = self.gate(x_r + h_r)
        z = self.gate(x_z + h_z)
        if self.reset_after:
            candidate = self.activation(x_n + r * h_n)
        else:
            w_n = w_hh.chunk(3, dim=0)[2]
            b_n = getattr(self, f"bias_hh_l0{suffix}").chunk(3)[2] if self.bias else 0.0
            candidate = self.activation(x_n + (r * h) @ w_n.T + b_n)
        return z * h + (1 - z) * candidate, c

    def forward(self, x: torch.Tensor, hx: torch.Tensor | tuple[torch.Tensor, torch.Tensor] | None = None,
                mask: torch.Tensor | None = None, zero_output_for_mask: bool = False
                ) -> tuple[torch.Tensor, torch.Tensor | tuple[torch.Tensor, torch.Tensor]]:
        """``mask`` (batch, time), True where a step counts, as Keras's: a masked step keeps the state; its
        output is the previous one, or zeros with ``zero_output_for_mask``. The backward direction
        reads each sequence's own steps in reverse."""
        sequence = x if self.batch_first else x.transpose(0, 1)
        outputs, finals_h, finals_c = [], [], []
        for direction, suffix in enumerate(self.suffixes):
            steps = sequence if direction == 0 else sequence.flip(1)
            keep = None if mask is None else (mask if direction == 0 else mask.flip(1)).unsqueeze(-1)
            h = c = sequence.new_zeros(sequence.shape[0], self.hidden_size)
            if hx is not None:
                h, c = (hx[0][direction], hx[1][direction]) if isinstance(hx, tuple) else (hx[direction], c)
            hidden = []
            for t in range(steps.shape[1]):
                new_h, new_c = self.cell(steps[:, t], h, c, suffix)
                if keep is None:
                    h, c = new_h, new_c
                    hidden.append(h)
                    continue
                h, c = torch.where(keep[:, t], new_h, h), torch.where(keep[:, t], new_c, c)
                hidden.append(torch.where(keep[:, t], new_h, torch.zeros_like(h)) if zero_output_for_mask else h)
            out = torch.stack(hidden, dim=1)
            outputs.append(out if direction == 0 else out.flip(1))
            finals_h.append(h)
            finals_c.append(c)
        output = torch.cat(outputs, dim=-1)
        output = output if self.batch_first else output.transpose(0, 1)
        if self.kind == "LSTM":
            return output, (torch.stack(finals_h), torch.stack(finals_c))
        return output, torch.stack(finals_h)


class GateActivationLSTM(RecurrentLoop):
    """``nn.LSTM`` (one layer) with another gate activation, for legacy Keras 2 files (hard-sigmoid gates)."""

    def __init__(self, input_size: int, hidden_size: int, *, bias: bool = True, batch_first: bool = False,
                 bidirectional: bool = False, recurrent_activation: str = "hard_sigmoid_keras2") -> None:
        super().__init__("LSTM", input_size, hidden_size, gate=recurrent_activation, bidirectional=bidirectional,
                         bias=bias, batch_first=batch_first)
        self.recurrent_activation = recurrent_activation

    @classmethod
    def like(cls, lstm: nn.LSTM, recurrent_activation: str) -> GateActivationLSTM:
        """The same LSTM (parameters, dtype) gated with ``recurrent_activation``."""
        if lstm.num_layers != 1 or lstm.proj_size:
            raise ValueError("only single-layer LSTMs without projection can change their gate activation")
        module = cls(lstm.input_size, lstm.hidden_size, bias=lstm.bias, batch_first=lstm.batch_first,
                     bidirectional=lstm.bidirectional, recurrent_activation=recurrent_activation)
        module.load_state_dict(lstm.state_dict())
        return module.to(next(lstm.parameters()).dtype)
