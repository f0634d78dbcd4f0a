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
    "Constant",
    "ConvLSTM",
    "Denormalize",
    "DotAttention",
    "EinsumDense",
    "GateActivationLSTM",
    "LayerScale",
    "LocallyConnected",
    "MultiHeadAttention",
    "Normalize",
    "PReLU",
    "RecurrentLoop",
    "Rescale",
    "SeparableConv1d",
    "SeparableConv2d",
    "TFSamePad2d",
    "UnconvertedLayer",
    "VarianceScaledNorm",
    "activation_function",
    "auto_contrast",
    "avg_pool_same",
    "clahe",
    "keras2_hard_sigmoid",
    "pad_same",
    "resize_area",
    "resize_bicubic",
    "resize_bilinear",
    "same_padding",
    "scale_and_translate",
    "sliding_window_mask",
    "sparse_plus",
    "sparse_sigmoid",
    "sparsemax",
    "squareplus",
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


class SeparableConv2d(nn.Module):
    """Keras's SeparableConv2D: a depthwise convolution (groups = in channels; ``stride``, ``padding`` and
    ``dilation`` are its own), then a 1×1 pointwise one."""

    conv: type[nn.Module] = nn.Conv2d

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int | tuple[int, ...],
                 depth_multiplier: int = 1, bias: bool = True, **depthwise: int | tuple[int, ...]) -> None:
        super().__init__()
        self.in_channels = in_channels
        width = in_channels * depth_multiplier
        self.depthwise = self.conv(in_channels, width, kernel_size, groups=in_channels, bias=False, **depthwise)
        self.pointwise = self.conv(width, out_channels, 1, bias=bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.pointwise(self.depthwise(x))


class SeparableConv1d(SeparableConv2d):
    """Keras's SeparableConv1D: the same over one spatial axis (a 2-D model's file holds only the class above)."""

    conv = nn.Conv1d


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
    """Keras's Normalization at inference: (x − mean) / std, the statistics as buffers."""

    mean: torch.Tensor
    std: torch.Tensor

    def __init__(self, shape: tuple[int, ...]) -> None:
        super().__init__()
        self.register_buffer("mean", torch.zeros(shape))
        self.register_buffer("std", torch.ones(shape))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return (x - self.mean) / self.std


class Denormalize(Normalize):
    """Keras's Normalization(invert=True) at inference: x · std + mean."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.std + self.mean


class VarianceScaledNorm(nn.Module):
    """Keras's LayerNormalization(rms_scaling=True): x · rsqrt(var(x) + eps) · weight over ``dims``.

    Keras divides by the centred variance, not the mean square, and neither centres x nor
    adds a bias; this computes exactly that.
    """

    def __init__(self, shape: tuple[int, ...], dims: tuple[int, ...], eps: float, affine: bool = True) -> None:
        super().__init__()
        self.dims, self.eps = dims, eps
        self.weight = nn.Parameter(torch.ones(shape)) if affine else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x * torch.rsqrt(x.var(dim=self.dims, unbiased=False, keepdim=True) + self.eps)
        return x if self.weight is None else x * self.weight


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
        output is the previous step's output (zeros before the first counted step, even from an initial
        state), or zeros with ``zero_output_for_mask``. The backward direction reads each sequence's own
        steps in reverse."""
        sequence = x if self.batch_first else x.transpose(0, 1)
        outputs, finals_h, finals_c = [], [], []
        for direction, suffix in enumerate(self.suffixes):
            steps = sequence if direction == 0 else sequence.flip(1)
            keep = None if mask is None else (mask if direction == 0 else mask.flip(1)).unsqueeze(-1)
            h = c = sequence.new_zeros(sequence.shape[0], self.hidden_size)
            if hx is not None:
                h, c = (hx[0][direction], hx[1][direction]) if isinstance(hx, tuple) else (hx[direction], c)
            hidden = []
            previous = torch.zeros_like(h)  # Keras's output at a masked step before any counted one: zeros
            for t in range(steps.shape[1]):
                new_h, new_c = self.cell(steps[:, t], h, c, suffix)
                if keep is None:
                    h, c = new_h, new_c
                    hidden.append(h)
                    continue
                h, c = torch.where(keep[:, t], new_h, h), torch.where(keep[:, t], new_c, c)
                previous = torch.where(keep[:, t], new_h, torch.zeros_like(h) if zero_output_for_mask else previous)
                hidden.append(previous)
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


class MultiHeadAttention(nn.Module):
    """Keras's MultiHeadAttention: the projections as ``nn.Linear`` (Keras's (in, heads, dim) kernels flattened),
    the attention as Keras computes it.

    Keras 3 takes one of two paths: without dropout and attention scores it calls
    ``dot_product_attention`` (scale after the product, masked logits set to −0.7·3.38953e38,
    so a fully masked row averages every value: ``masked_fill="dot_product"``); otherwise its
    Softmax layer (query scaled first, masked logits −1e9 and masked weights zero:
    ``masked_fill="softmax"``). tf.keras scales the query first and adds −1e9 to masked logits
    (``masked_fill="additive"``). Without a mask the first is ``F.scaled_dot_product_attention``.
    GroupedQueryAttention has ``kv_heads`` key and value heads, each serving
    ``num_heads // kv_heads`` query heads; ``gate`` multiplies the attended values by a
    sigmoid projection of the query before the output projection.
    """

    def __init__(self, query_dim: int, key_input_dim: int, value_input_dim: int, num_heads: int, key_dim: int,
                 value_dim: int, output_dim: int, scale: float, bias: bool = True,
                 masked_fill: str = "dot_product", kv_heads: int | None = None, gate: bool = False) -> None:
        super().__init__()
        self.num_heads, self.key_dim, self.value_dim = num_heads, key_dim, value_dim
        self.kv_heads = kv_heads or num_heads
        self.scale, self.masked_fill = scale, masked_fill
        self.query = nn.Linear(query_dim, num_heads * key_dim, bias=bias)
        self.key = nn.Linear(key_input_dim, self.kv_heads * key_dim, bias=bias)
        self.value = nn.Linear(value_input_dim, self.kv_heads * value_dim, bias=bias)
        self.gate = nn.Linear(query_dim, num_heads * value_dim, bias=bias) if gate else None
        self.output = nn.Linear(num_heads * value_dim, output_dim, bias=bias)

    def forward(self, query: torch.Tensor, value: torch.Tensor, key: torch.Tensor | None = None,
                attention_mask: torch.Tensor | None = None, causal: bool = False,
                return_scores: bool = False) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
        """(batch, T, features) inputs; ``attention_mask`` (batch, T, S), True where a query may attend."""
        key = value if key is None else key
        q = self.query(query).unflatten(-1, (self.num_heads, self.key_dim)).transpose(1, 2)  # (B, H, T, K)
        k = self.key(key).unflatten(-1, (self.kv_heads, self.key_dim)).transpose(1, 2)
        v = self.value(value).unflatten(-1, (self.kv_heads, self.value_dim)).transpose(1, 2)
        if self.kv_heads != self.num_heads:
            k = k.repeat_interleave(self.num_heads // self.kv_heads, dim=1)
            v = v.repeat_interleave(self.num_heads // self.kv_heads, dim=1)
        mask = attention_mask
        if causal:
            lower = torch.ones(q.shape[-2], k.shape[-2], dtype=torch.bool, device=q.device).tril()
            mask = lower if mask is None else mask & lower
        if mask is None and self.masked_fill == "dot_product" and not return_scores:
            out = F.scaled_dot_product_attention(q, k, v, scale=self.scale)
            return self.output(self._gated(out.transpose(1, 2).flatten(2), query))
        if self.masked_fill == "dot_product":
            scores = (q @ k.transpose(-2, -1)) * self.scale
        else:
            scores = (q * self.scale) @ k.transpose(-2, -1)
        keep = None if mask is None else (mask.unsqueeze(1) if mask.dim() == 3 else mask)
        if keep is not None and self.masked_fill == "additive":
            scores = scores + torch.where(keep, 0.0, -1e9)
        elif keep is not None:
            scores = torch.where(keep, scores, -1e9 if self.masked_fill == "softmax" else -0.7 * 3.38953e38)
        weights = torch.softmax(scores, dim=-1)
        if keep is not None and self.masked_fill == "softmax":
            weights = torch.where(keep, weights, 0.0)
        out = self.output(self._gated((weights @ v).transpose(1, 2).flatten(2), query))
        return (out, weights) if return_scores else out

    def _gated(self, attended: torch.Tensor, query: torch.Tensor) -> torch.Tensor:
        return attended if self.gate is None else attended * torch.sigmoid(self.gate(query))


class DotAttention(nn.Module):
    """Keras's ``Attention`` (Luong, ``score_mode`` "dot" or "concat") and ``AdditiveAttention`` (Bahdanau).

    Masked value steps get −1e9 added to their scores; masked query steps give zero output,
    as Keras computes them.
    """

    def __init__(self, score_mode: str = "dot", scale_shape: tuple[int, ...] | None = None,
                 concat_weight: bool = False) -> None:
        super().__init__()
        self.score_mode = score_mode
        self.scale = nn.Parameter(torch.ones(scale_shape)) if scale_shape is not None else None
        self.concat_score_weight = nn.Parameter(torch.ones(())) if concat_weight else None

    def forward(self, query: torch.Tensor, value: torch.Tensor, key: torch.Tensor | None = None,
                query_mask: torch.Tensor | None = None, value_mask: torch.Tensor | None = None,
                causal: bool = False, return_scores: bool = False) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
        key = value if key is None else key
        if self.score_mode == "dot":
            scores = query @ key.transpose(-2, -1)
            if self.scale is not None:
                scores = scores * self.scale
        else:
            summed = query.unsqueeze(-2) + key.unsqueeze(-3)
            if self.score_mode == "additive":
                scale = self.scale if self.scale is not None else 1.0
                scores = (scale * torch.tanh(summed)).sum(dim=-1)
            else:
                inside = self.scale * summed if self.scale is not None else summed
                weight = self.concat_score_weight if self.concat_score_weight is not None else 1.0
                scores = weight * torch.tanh(inside).sum(dim=-1)
        keep = None if value_mask is None else value_mask.unsqueeze(-2)
        if causal:
            rows = torch.arange(scores.shape[-2], device=scores.device).unsqueeze(-1)
            lower = rows >= torch.arange(scores.shape[-1], device=scores.device)
            keep = lower.unsqueeze(0) if keep is None else keep & lower
        if keep is not None:
            scores = torch.where(keep, scores, scores - 1e9)
        weights = torch.softmax(scores, dim=-1)
        out = weights @ value
        if query_mask is not None:
            out = torch.where(query_mask.unsqueeze(-1), out, 0.0)
        return (out, weights) if return_scores else out


class EinsumDense(nn.Module):
    """Keras's EinsumDense: ``torch.einsum(equation, x, kernel)`` plus a bias shaped as Keras shapes it."""

    def __init__(self, equation: str, kernel_shape: tuple[int, ...], bias_shape: tuple[int, ...] | None = None) -> None:
        super().__init__()
        self.equation = equation
        self.kernel = nn.Parameter(torch.zeros(kernel_shape))
        self.bias = nn.Parameter(torch.zeros(bias_shape)) if bias_shape is not None else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = torch.einsum(self.equation, x, self.kernel)
        return y + self.bias if self.bias is not None else y


class Constant(nn.Module):
    """A tensor a Keras 3 config holds as a value (a positional embedding computed at save time, a class
    token): a buffer, so it moves with the model and loads with its state."""

    value: torch.Tensor

    def __init__(self, shape: tuple[int, ...], dtype: torch.dtype = torch.float32) -> None:
        super().__init__()
        self.register_buffer("value", torch.zeros(shape, dtype=dtype))

    def forward(self) -> torch.Tensor:
        return self.value


class UnconvertedLayer(nn.Module):
    """A Keras layer the converter has no rule for (``zoo convert --stub-unknown``): it holds the layer's
    weights under the names Keras gave them, so the state dict loads, and its ``forward`` is yours to write.

    The inputs arrive in Keras's axis order (channels last), as the Keras layer's ``call`` receives them.
    """

    def __init__(self, keras_class: str, config: str, weights: tuple[tuple[str, tuple[int, ...]], ...] = ()) -> None:
        super().__init__()
        self.keras_class, self.config = keras_class, config
        for name, shape in weights:
            self.register_parameter(name, nn.Parameter(torch.zeros(shape)))

    def forward(self, *inputs: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError(f"the Keras layer {self.keras_class} was not converted; write its forward "
                                  f"(its Keras config: {self.config})")


def sparse_plus(x: torch.Tensor) -> torch.Tensor:
    """Keras's sparse_plus: 0 below −1, (x + 1)²/4 between, x above 1."""
    return torch.where(x <= -1, torch.zeros_like(x), torch.where(x < 1, 0.25 * (x + 1) ** 2, x))


def sparse_sigmoid(x: torch.Tensor) -> torch.Tensor:
    """Keras's sparse_sigmoid: 0 below −1, (x + 1)/2 between, 1 above 1."""
    return torch.where(x <= -1, torch.zeros_like(x), torch.where(x >= 1, torch.ones_like(x), 0.5 * (x + 1)))


def squareplus(x: torch.Tensor, b: float = 4.0) -> torch.Tensor:
    """Keras's squareplus: (x + √(x² + b)) / 2."""
    return (x + torch.sqrt(torch.square(x) + b)) / 2


def sparsemax(x: torch.Tensor, dim: int = -1) -> torch.Tensor:
    """Keras's sparsemax (Martins & Astudillo 2016), in TensorFlow's arithmetic order."""
    ordered = torch.sort(x, dim=dim, descending=True).values
    cumulative = torch.cumsum(ordered, dim=dim)
    shape = [1] * x.dim()
    shape[dim] = -1
    ranks = torch.arange(1, x.shape[dim] + 1, dtype=x.dtype, device=x.device).reshape(shape)
    support = ordered - (cumulative - 1) / ranks > 0
    k = support.to(x.dtype).sum(dim=dim, keepdim=True)
    tau = (torch.where(support, cumulative, torch.zeros_like(cumulative)).sum(dim=dim, keepdim=True) - 1) / k
    return torch.clamp(x - tau, min=0)


def _resize_axis(in_size: int, out_size: int, device: torch.device) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """TensorFlow's half-pixel source coordinates of one axis, in float32 as its kernel computes them."""
    scale = torch.tensor(in_size / out_size, dtype=torch.float32)
    source = (torch.arange(out_size, dtype=torch.float32, device=device) + 0.5) * scale - 0.5
    floor = torch.floor(source)
    lower = floor.clamp(min=0).long()
    upper = torch.ceil(source).clamp(max=in_size - 1).long()
    return lower, upper, source - floor


def resize_bilinear(x: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """TensorFlow's ``resize_bilinear`` (half-pixel centres, no antialiasing) of an (N, C, H, W) tensor.

    ``tf.image.resize`` computes in float32 whatever the input dtype (a float64 model's resize
    is float32 arithmetic); this follows its kernel's order — float32 coordinates, then
    top + (bottom − top)·y_lerp of left-right lerps — so both dtypes match Keras.
    """
    top, bottom, y_lerp = _resize_axis(x.shape[-2], size[0], x.device)
    left, right, x_lerp = _resize_axis(x.shape[-1], size[1], x.device)
    image = x.to(torch.float32)
    rows_top, rows_bottom = image[..., top, :], image[..., bottom, :]
    top_values = rows_top[..., left] + (rows_top[..., right] - rows_top[..., left]) * x_lerp
    bottom_values = rows_bottom[..., left] + (rows_bottom[..., right] - rows_bottom[..., left]) * x_lerp
    return (top_values + (bottom_values - top_values) * y_lerp.unsqueeze(-1)).to(x.dtype)


def _to_value_range(x: torch.Tensor, source: tuple[float, float], target: tuple[float, float]) -> torch.Tensor:
    """Keras's ``_transform_value_range``: (x − lo) / (hi − lo) · (hi′ − lo′) + lo′, each bound cast to x's
    dtype as ``tf.cast`` casts a Python number: by way of a float32 tensor (0.1 in float64 is float32's 0.1)."""
    if source[0] == target[0] and source[1] == target[1]:
        return x
    low, high = (torch.tensor(v, dtype=torch.float32, device=x.device).to(x.dtype) for v in source)
    new_low, new_high = (torch.tensor(v, dtype=torch.float32, device=x.device).to(x.dtype) for v in target)
    return (x - low) / (high - low) * (new_high - new_low) + new_low


def auto_contrast(images: torch.Tensor, value_range: tuple[float, float]) -> torch.Tensor:
    """Keras 3's AutoContrast of a (batch, axis 1, axis 2, ...) float tensor: per image and channel, its values
    in 0–255 stretched from [min, max] over axes 1 and 2 to [0, 255], clipped, mapped back to ``value_range``;
    where that gives NaN (a constant channel: 255 / 0) the input is kept, as Keras keeps it."""
    x = _to_value_range(images, value_range, (0.0, 255.0))
    low = x.amin(dim=(1, 2), keepdim=True)
    high = x.amax(dim=(1, 2), keepdim=True)
    scale = torch.full_like(high, 255.0) / (high - low)  # 255.0 / t: a division (torch's rtruediv multiplies)
    offset = -low * scale
    results = torch.clamp(x * scale + offset, 0.0, 255.0)
    results = _to_value_range(results, (0.0, 255.0), value_range)
    return torch.where(torch.isnan(results), images, results)


def _running_sum(x: torch.Tensor) -> torch.Tensor:
    """Cumulative sums over the last axis rounded after each addition, as TensorFlow's float32 ``cumsum`` adds
    (torch's CPU ``cumsum`` accumulates in float64)."""
    total = x[..., 0]
    sums = [total]
    for k in range(1, x.shape[-1]):
        total = total + x[..., k]
        sums.append(total)
    return torch.stack(sums, dim=-1)


def clahe(images: torch.Tensor, value_range: tuple[float, float], clip_limit: float,
          grid: tuple[int, int]) -> torch.Tensor:
    """Keras 3's ContrastLimitedAdaptiveHistogramEqualization of (batch, height, width, channels) images.

    In 0–255 (float32), the image is mirrored at its bottom and right to whole tiles of a grid; each tile's
    256-bin histogram per channel is clipped at clip_limit·pixels/256 (the excess spread evenly) and turned
    into a 0–255 mapping by its normalised cumulative sum; each pixel's value is the bilinear blend of the
    mappings of the four tiles whose centres surround it (edge tiles repeated), taken back to ``value_range``.
    Keras's order of float32 operations throughout.
    """
    x = images if tuple(value_range) == (0.0, 255.0) else _to_value_range(images.to(torch.float32), value_range,
                                                                         (0.0, 255.0))
    batch, height, width, channels = x.shape
    grid_h, grid_w = grid
    tile_h, tile_w = -(-height // grid_h), -(-width // grid_w)
    rows = torch.arange(tile_h * grid_h, device=x.device)
    columns = torch.arange(tile_w * grid_w, device=x.device)
    rows = torch.where(rows < height, rows, 2 * height - 1 - rows)  # 'symmetric' padding: the edge repeated
    columns = torch.where(columns < width, columns, 2 * width - 1 - columns)
    padded = x[:, rows][:, :, columns]

    tiles = padded.reshape(batch, grid_h, tile_h, grid_w, tile_w, channels).permute(0, 1, 3, 5, 2, 4)
    levels = tiles.reshape(batch, grid_h, grid_w, channels, tile_h * tile_w).to(torch.int32).clamp(0, 255)
    hists = torch.zeros(batch, grid_h, grid_w, channels, 256, device=x.device)
    hists = hists.scatter_add(-1, levels.long(), torch.ones(levels.shape, device=x.device))
    if clip_limit > 0:
        limit = float(torch.tensor(clip_limit * (tile_h * tile_w) / 256.0, dtype=torch.float32))
        clipped = torch.clamp(hists, 0.0, limit)
        excess = (hists - clipped).sum(dim=-1, keepdim=True)
        hists = clipped + excess / 256.0
    cdf = _running_sum(hists)
    cdf_min = cdf.amin(dim=-1, keepdim=True)
    denominator = torch.tensor(float(tile_h * tile_w), dtype=torch.float32) - cdf_min
    denominator = torch.where(denominator == 0, torch.ones_like(denominator), denominator)
    mapping = torch.clamp((cdf - cdf_min) * 255.0 / denominator, 0.0, 255.0)

    def corners(size: int, tile: int, tiles: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Per padded row (column): the tiles above and below (left and right) of it and its blend weight."""
        position = (torch.arange(size, dtype=torch.float32, device=x.device) - tile / 2.0) / tile + 1.0
        low = torch.floor(position)
        weight = position - low
        before = low.clamp(0, tiles + 1).long().sub(1).clamp(0, tiles - 1)  # the grid with its edges repeated
        after = (low + 1.0).clamp(0, tiles + 1).long().sub(1).clamp(0, tiles - 1)
        return before, after, weight

    top, bottom, wy = corners(tile_h * grid_h, tile_h, grid_h)
    left, right, wx = corners(tile_w * grid_w, tile_w, grid_w)
    pixels = torch.clamp(padded, 0, 255).to(torch.int32).long()
    b = torch.arange(batch, device=x.device)[:, None, None, None]
    c = torch.arange(channels, device=x.device)[None, None, None, :]
    top, bottom, wy = top[None, :, None, None], bottom[None, :, None, None], wy[None, :, None, None]
    left, right, wx = left[None, None, :, None], right[None, None, :, None], wx[None, None, :, None]
    upper = mapping[b, top, left, c, pixels] * (1.0 - wx) + mapping[b, top, right, c, pixels] * wx
    lower = mapping[b, bottom, left, c, pixels] * (1.0 - wx) + mapping[b, bottom, right, c, pixels] * wx
    result = (upper * (1.0 - wy) + lower * wy)[:, :height, :width]
    return _to_value_range(result, (0.0, 255.0), value_range).to(images.dtype)


def sliding_window_mask(query: torch.Tensor, value: torch.Tensor, window: int) -> torch.Tensor:
    """Keras's ``_compute_sliding_window_mask``: (1, T, S), True where |t − s| < ``window``."""
    rows = torch.arange(query.shape[1], device=query.device).reshape(1, -1, 1)
    columns = torch.arange(value.shape[1], device=query.device).reshape(1, 1, -1)
    return (rows - columns).abs() < window


def _bicubic_axis(in_size: int, out_size: int, device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
    """TensorFlow's four bicubic taps per output position of one axis: (out, 4) indices and float32 weights.

    Its kernel (``resize_bicubic_op.cc``, half-pixel centres) looks Keys' cubic (a = −0.5) up
    in a table of 1024 steps, computed in float64 and stored as float32; taps outside the
    image get no weight and the four are renormalised to sum to one.
    """
    scale = torch.tensor(in_size / out_size, dtype=torch.float32)
    source = (torch.arange(out_size, dtype=torch.float32, device=device) + 0.5) * scale - 0.5
    floor = torch.floor(source)
    step = torch.round((source - floor) * 1024).to(torch.float64) / 1024  # the table's row (lrintf: half to even)
    a = -0.5

    def near(t: torch.Tensor) -> torch.Tensor:  # |t| ≤ 1
        return ((a + 2) * t - (a + 3)) * t * t + 1

    def far(t: torch.Tensor) -> torch.Tensor:  # 1 ≤ |t| ≤ 2
        return ((a * t - 5 * a) * t + 8 * a) * t - 4 * a

    weights = torch.stack([far(step + 1), near(step), near(1 - step), far(2 - step)], dim=-1).to(torch.float32)
    taps = floor.long().unsqueeze(-1) + torch.arange(-1, 3, device=device)
    weights = torch.where((taps >= 0) & (taps < in_size), weights, torch.zeros_like(weights))
    total = weights[:, 0] + weights[:, 1] + weights[:, 2] + weights[:, 3]
    usable = total.abs() >= 1000 * torch.finfo(torch.float32).tiny
    weights = torch.where(usable.unsqueeze(-1), weights * (1.0 / total).unsqueeze(-1), weights)
    return taps.clamp(0, in_size - 1), weights


def resize_bicubic(x: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """TensorFlow's ``resize_bicubic`` (Keys' a = −0.5, half-pixel centres, no antialiasing) of an (N, C, H, W) tensor.

    Like ``resize_bilinear``, in float32 whatever the input dtype, as TensorFlow's kernel
    computes: each output is the four rows' column sums w₀·v₀ + w₁·v₁ + w₂·v₂ + w₃·v₃, then
    the same sum across four columns (torch's bicubic is a = −0.75 and differs).
    """
    rows, row_weights = _bicubic_axis(x.shape[-2], size[0], x.device)
    columns, column_weights = _bicubic_axis(x.shape[-1], size[1], x.device)
    image = x.to(torch.float32)
    vertical = image[..., rows[:, 0], :] * row_weights[:, 0, None]
    for k in range(1, 4):
        vertical = vertical + image[..., rows[:, k], :] * row_weights[:, k, None]
    out = vertical[..., columns[:, 0]] * column_weights[:, 0]
    for k in range(1, 4):
        out = out + vertical[..., columns[:, k]] * column_weights[:, k]
    return out.to(x.dtype)


def _area_axis(in_size: int, out_size: int, device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
    """TensorFlow's ``resize_area`` taps of one axis: (out, taps) indices and float32 coverages.

    Output ``i`` covers [i·s, (i+1)·s) of the input (s = in/out, float32, no half-pixel
    shift); each input cell weighs the part of it inside, computed as its kernel does.
    Unused taps weigh zero.
    """
    scale = torch.tensor(in_size / out_size, dtype=torch.float32)
    positions = torch.arange(out_size, device=device)
    low, high = positions.to(torch.float32) * scale, (positions + 1).to(torch.float32) * scale
    start, end = torch.floor(low).long(), torch.ceil(high).long()
    taps = start.unsqueeze(-1) + torch.arange(int((end - start).max()), device=device)
    cells = taps.to(torch.float32)
    low, high = low.unsqueeze(-1), high.unsqueeze(-1)
    ends_inside = cells + 1 > high
    weights = torch.where(cells < low, torch.where(ends_inside, scale, (taps + 1).to(torch.float32) - low),
                          torch.where(ends_inside, high - cells, torch.ones_like(cells)))
    weights = torch.where(taps < end.unsqueeze(-1), weights, torch.zeros_like(weights))
    return taps.clamp(0, in_size - 1), weights


def resize_area(x: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """TensorFlow's ``resize_area`` of an (N, C, H, W) tensor: each output averages the input area it covers.

    In float32 whatever the input dtype, in its kernel's order: each covered row's weighted
    sum across columns, those sums weighted by their rows' coverage, then one factor
    1 / (height scale · width scale).
    """
    rows, row_weights = _area_axis(x.shape[-2], size[0], x.device)
    columns, column_weights = _area_axis(x.shape[-1], size[1], x.device)
    image = x.to(torch.float32)
    across = image[..., columns[:, 0]] * column_weights[:, 0]
    for k in range(1, columns.shape[1]):
        across = across + image[..., columns[:, k]] * column_weights[:, k]
    total = across[..., rows[:, 0], :] * row_weights[:, 0, None]
    for k in range(1, rows.shape[1]):
        total = total + across[..., rows[:, k], :] * row_weights[:, k, None]
    scales = torch.tensor(x.shape[-2] / size[0], dtype=torch.float32) * torch.tensor(x.shape[-1] / size[1],
                                                                                       dtype=torch.float32)
    return (total * (1.0 / scales.double()).float()).to(x.dtype)


def _sinf(y: torch.Tensor) -> torch.Tensor:
    """The C library's single-precision ``sinf`` (glibc ≥ 2.28) of float32 values in [0, 120), bit for bit.

    TensorFlow's Lanczos kernel takes float32 sines with ``std::sin``; a correctly rounded sine differs from
    glibc's in about one float32 in a hundred, enough to change a resize weight. glibc works in float64: below
    0.75 a polynomial of y; above, y less its nearest multiple of π/2, then the sine or cosine polynomial of that
    quadrant, rounded to float32 once.
    """
    half_pi, quadrants_2_24 = float.fromhex("0x1.921fb54442d18p0"), float.fromhex("0x1.45f306dc9c883p23")
    s1, s2, s3 = (float.fromhex(c) for c in ("-0x1.555545995a603p-3", "0x1.1107605230bc4p-7", "-0x1.994eb3774cf24p-13"))
    c1, c2, c3, c4 = (float.fromhex(c) for c in ("-0x1.ffffffd0c621cp-2", "0x1.55553e1068f19p-5",
                                                 "-0x1.6c087e89a359dp-10", "0x1.99343027bf8c3p-16"))
    x = y.to(torch.float64)
    quadrant = torch.floor((torch.floor(x * quadrants_2_24) + 2.0**23) / 2.0**24)  # round(x·2/π), as glibc does
    quadrant = torch.where(y < 0.75, torch.zeros_like(quadrant), quadrant)
    r = x - quadrant * half_pi
    turn = quadrant.long() % 4
    r2 = r * r
    r = torch.where((turn == 1) | (turn == 2), -r, r)
    r3 = r * r2
    sine = (r + r3 * s1) + (r3 * r2) * (s2 + r2 * s3)
    r4 = r2 * r2
    cosine = ((1.0 + r2 * c1) + r4 * c2) + (r4 * r2) * (c3 + r2 * c4)
    cosine = torch.where(turn >= 2, -cosine, cosine)
    result = torch.where(turn % 2 == 1, cosine, sine).to(torch.float32)
    return torch.where(y < 2.0**-12, y, result)


def _lanczos(distance: torch.Tensor, radius: float) -> torch.Tensor:
    """TensorFlow's Lanczos kernel of float32 distances ≥ 0: r·sin(πx)·sin(πx/r) / (π²x²), 1 at x ≤ 1e-3."""
    pi = torch.tensor(3.14159265359, dtype=torch.float32, device=distance.device)
    angle = pi * distance
    weights = radius * _sinf(angle) * _sinf(angle / radius) / (pi * pi * distance * distance)
    weights = torch.where(distance.double() <= 1e-3, torch.ones_like(weights), weights)  # a float64 comparison in C
    return torch.where(distance > radius, torch.zeros_like(weights), weights)


def _span_axis(in_size: int, out_size: int, kernel: str, antialias: bool,
               device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
    """TensorFlow's ``scale_and_translate`` spans of one axis: (out, span) indices and weights.

    The kernel ('triangle', 'keyscubic', 'lanczos3' or 'lanczos5') is sampled at half-pixel
    centres (stretched by in/out when shrinking with ``antialias``) and normalised to sum to
    one, all in float32 as TensorFlow does.
    """
    scale = torch.tensor(float(out_size), dtype=torch.float32) / torch.tensor(float(in_size), dtype=torch.float32)
    inverse = (1.0 / scale.double()).float()
    stretch = torch.clamp(inverse, min=1.0) if antialias else torch.tensor(1.0)
    support = {"triangle": 1.0, "keyscubic": 2.0, "lanczos3": 3.0, "lanczos5": 5.0}[kernel]
    radius = support * stretch
    span = min(2 * int(torch.ceil(radius)) + 1, in_size)
    sample = (torch.arange(out_size, dtype=torch.float32, device=device) + 0.5) * inverse
    start = torch.ceil(sample - radius - 0.5).long().clamp(0, in_size - 1)
    end = torch.floor(sample + radius - 0.5).long().clamp(0, in_size - 1) + 1
    sources = start.unsqueeze(-1) + torch.arange(span, device=device)
    distance = torch.abs(((sources.to(torch.float32) + 0.5) - sample.unsqueeze(-1)) * (1.0 / stretch))
    if kernel == "triangle":
        weights = torch.where(distance < 1, 1 - distance, torch.zeros_like(distance))
    elif kernel == "keyscubic":
        far = ((-0.5 * distance + 2.5) * distance - 4.0) * distance + 2.0
        near = ((1.5 * distance - 2.5) * distance) * distance + 1.0
        weights = torch.where(distance >= 2, torch.zeros_like(distance), torch.where(distance >= 1, far, near))
    else:
        weights = _lanczos(distance, support)
    weights = torch.where(sources < end.unsqueeze(-1), weights, torch.zeros_like(weights))
    total = weights[:, 0]
    for k in range(1, span):
        total = total + weights[:, k]
    usable = (total.abs() >= 1000 * torch.finfo(torch.float32).tiny) & (sample >= 0) & (sample <= in_size)
    weights = torch.where(usable.unsqueeze(-1), weights * (1.0 / total).unsqueeze(-1), torch.zeros_like(weights))
    return sources.clamp(max=in_size - 1), weights


def scale_and_translate(x: torch.Tensor, size: tuple[int, int], kernel: str, antialias: bool = True) -> torch.Tensor:
    """TensorFlow's ``scale_and_translate`` resize of an (N, C, H, W) tensor (``tf.image.resize`` with
    ``antialias=True``, or with a Lanczos method).

    ``kernel`` is 'triangle' (bilinear), 'keyscubic' (bicubic), 'lanczos3' or 'lanczos5'. In
    float32 whatever the input dtype, in its kernel's order: rows first, then columns, each a
    running sum of weight·value over the span.
    """
    rows, row_weights = _span_axis(x.shape[-2], size[0], kernel, antialias, x.device)
    columns, column_weights = _span_axis(x.shape[-1], size[1], kernel, antialias, x.device)
    image = x.to(torch.float32)
    vertical = image[..., rows[:, 0], :] * row_weights[:, 0, None]
    for k in range(1, rows.shape[1]):
        vertical = vertical + image[..., rows[:, k], :] * row_weights[:, k, None]
    out = vertical[..., columns[:, 0]] * column_weights[:, 0]
    for k in range(1, columns.shape[1]):
        out = out + vertical[..., columns[:, k]] * column_weights[:, k]
    return out.to(x.dtype)


class ConvLSTM(nn.Module):
    """Keras's ConvLSTM1D/2D/3D: an LSTM whose matrix products are convolutions, stepped through time.

    Tensors are channels-first with time as the first spatial axis: the input is (batch,
    in_channels, time, *spatial), the output sequence (batch, filters, time, *spatial') and
    the final ``h`` and ``c`` (batch, filters, *spatial'). Each step's input goes through
    ``input_conv`` (``input_conv.weight`` (4·filters, in_channels, *kernel_size),
    ``input_conv.bias`` (4·filters,); the layer's stride, dilation and padding) and the
    previous ``h`` through ``recurrent_conv`` (``recurrent_conv.weight`` (4·filters, filters,
    *kernel_size), no bias, stride 1, 'same' padding); their sum holds the four gates in
    Keras's order i, f, c, o along the channels. 'same' padding is TensorFlow's (any odd
    pixel after). Returns ``(sequence, (h, c))`` like ``nn.LSTM``.
    """

    def __init__(self, in_channels: int, filters: int, kernel_size: tuple[int, ...], stride: tuple[int, ...] | None = None,
                 padding: str = "valid", dilation: tuple[int, ...] | None = None, bias: bool = True,
                 activation: str = "tanh", gate: str = "sigmoid") -> None:
        super().__init__()
        rank = len(kernel_size)
        conv: type[nn.Module] = {1: nn.Conv1d, 2: nn.Conv2d, 3: nn.Conv3d}[rank]
        self.filters, self.kernel_size, self.padding = filters, tuple(kernel_size), padding
        self.stride = tuple(stride) if stride is not None else (1,) * rank
        self.dilation = tuple(dilation) if dilation is not None else (1,) * rank
        self.activation_name, self.gate_name = activation, gate
        self.activation, self.gate = activation_function(activation), activation_function(gate)
        self.input_conv = conv(in_channels, 4 * filters, self.kernel_size, stride=self.stride, dilation=self.dilation,
                               bias=bias)
        self.recurrent_conv = conv(filters, 4 * filters, self.kernel_size, bias=False)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, tuple[torch.Tensor, torch.Tensor]]:
        batch, steps = x.shape[0], x.shape[2]
        frames = x.movedim(2, 1).flatten(0, 1)  # every step's input at once: (batch·time, in_channels, *spatial)
        if self.padding == "same":
            frames = pad_same(frames, self.kernel_size, self.stride, self.dilation)
        inputs = self.input_conv(frames).unflatten(0, (batch, steps))
        ones = (1,) * len(self.kernel_size)
        h = c = inputs.new_zeros(inputs[:, 0, :self.filters].shape)
        outputs = []
        for t in range(steps):
            gates = inputs[:, t] + self.recurrent_conv(pad_same(h, self.kernel_size, ones, ones))
            i, f, g, o = gates.chunk(4, dim=1)
            c = self.gate(f) * c + self.gate(i) * self.activation(g)
            h = self.gate(o) * self.activation(c)
            outputs.append(h)
        return torch.stack(outputs, dim=2), (h, c)


class LocallyConnected(nn.Module):
    """Keras 2's LocallyConnected1D/2D: a convolution with its own weights at every output position.

    Tensors are channels-first: the input is (batch, in_channels, *spatial), the output
    (batch, filters, *output_size), for one or two spatial axes. ``padding`` holds
    (before, after) per spatial axis, zeros added before the windows are cut (an ``after``
    below zero drops input at the end that no window reads). Each window is flattened as
    ``F.unfold`` flattens it (channel, then kernel row, then kernel column) and multiplied
    by its position's matrix: ``weight`` is (positions, in_channels·prod(kernel_size),
    filters), ``bias`` (positions, filters), positions in row-major order over the output.
    """

    def __init__(self, in_channels: int, filters: int, kernel_size: tuple[int, ...], output_size: tuple[int, ...],
                 stride: tuple[int, ...] | None = None, padding: tuple[tuple[int, int], ...] | None = None,
                 bias: bool = True) -> None:
        super().__init__()
        self.kernel_size, self.output_size = tuple(kernel_size), tuple(output_size)
        self.stride = tuple(stride) if stride is not None else (1,) * len(self.kernel_size)
        self.padding = tuple(tuple(p) for p in padding) if padding is not None else ((0, 0),) * len(self.kernel_size)
        positions, window = 1, in_channels
        for size, k in zip(self.output_size, self.kernel_size, strict=True):
            positions, window = positions * size, window * k
        self.weight = nn.Parameter(torch.zeros(positions, window, filters))
        self.bias = nn.Parameter(torch.zeros(positions, filters)) if bias else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if any(amount for pair in self.padding for amount in pair):
            x = F.pad(x, [amount for pair in reversed(self.padding) for amount in pair])
        if len(self.kernel_size) == 1:  # (batch, C, positions, k) → (batch, C·k, positions)
            windows = x.unfold(2, self.kernel_size[0], self.stride[0]).movedim(3, 2).flatten(1, 2)
        else:
            windows = F.unfold(x, self.kernel_size, stride=self.stride)  # (batch, C·kh·kw, positions)
        y = torch.einsum("bwp,pwf->bfp", windows, self.weight)
        if self.bias is not None:
            y = y + self.bias.T
        return y.unflatten(2, self.output_size)
