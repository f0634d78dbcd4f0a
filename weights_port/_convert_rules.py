"""The converter's table: per Keras class, the weights rule, the module it emits, its layout effect.

Each ``ConvertRule`` names the porter rule its weights go through (``weights``: the PyTorch
module type the porter's table pairs with that Keras class, so conversion and porting
share one description of every layout change), emits the module and the ``forward``
lines, and declares the layout it prefers for its input (``layout``: "cf" for layers that
compute over channels-first tensors, "keras" for layers whose semantics are Keras's axis
order, "any" for element-wise ones). Plugins add rules through the ``zoo_convert_rules``
hook; ``ConvertRuleSet`` refuses a second rule for the same class.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from ._codegen import Emitter, Value, fmt, refuse
from ._errors import UnsupportedLayerError
from ._graph import Layer, Op, TensorRef

__all__ = ["DEFAULT_CONVERT_RULES", "ConvertRule", "ConvertRuleSet", "activation_expression"]

Emit = Callable[[Op, list[Value], Emitter], list[Value]]


@dataclass(frozen=True)
class ConvertRule:
    keras_class: str
    emit: Emit
    layout: str = "any"
    weights: str | None = None
    doc: str = ""


class ConvertRuleSet:
    def __init__(self, rules: Iterable[ConvertRule] = ()) -> None:
        self._rules: dict[str, ConvertRule] = {}
        for rule in rules:
            self.add(rule)

    def add(self, rule: ConvertRule) -> None:
        if rule.keras_class in self._rules:
            raise UnsupportedLayerError(f"a conversion rule for Keras {rule.keras_class} already exists")
        self._rules[rule.keras_class] = rule

    def extended(self, rules: Iterable[ConvertRule]) -> ConvertRuleSet:
        merged = ConvertRuleSet(self._rules.values())
        for rule in rules:
            merged.add(rule)
        return merged

    def get(self, keras_class: str) -> ConvertRule | None:
        return self._rules.get(keras_class)

    def __iter__(self) -> Any:
        return iter(self._rules.values())


# --------------------------------------------------------------------------- activations

_ACTIVATIONS: dict[str, str] = {
    "relu": "F.relu({x})",
    "relu6": "F.relu6({x})",
    "sigmoid": "torch.sigmoid({x})",
    "tanh": "torch.tanh({x})",
    "softmax": "F.softmax({x}, dim={axis})",
    "log_softmax": "F.log_softmax({x}, dim={axis})",
    "swish": "F.silu({x})",
    "silu": "F.silu({x})",
    "gelu": "F.gelu({x})",
    "gelu_approximate": "F.gelu({x}, approximate=\"tanh\")",
    "hard_sigmoid": "F.hardsigmoid({x})",
    "hard_sigmoid_keras2": "torch.clamp(0.2 * {x} + 0.5, 0.0, 1.0)",
    "hard_swish": "F.hardswish({x})",
    "hard_silu": "F.hardswish({x})",
    "elu": "F.elu({x})",
    "selu": "F.selu({x})",
    "softplus": "F.softplus({x})",
    "softsign": "F.softsign({x})",
    "exponential": "torch.exp({x})",
    "leaky_relu": "F.leaky_relu({x}, 0.2)",
    "mish": "F.mish({x})",
    "celu": "F.celu({x})",
    "glu": "F.glu({x}, dim={axis})",
    "log_sigmoid": "F.logsigmoid({x})",
    "tanh_shrink": "F.tanhshrink({x})",
    "linear": "{x}",
}


def activation_name(activation: Any, keras_major: int) -> str:
    """The activation's table name; Keras 2's hard sigmoid was clip(0.2x + 0.5), Keras 3's relu6(x + 3) / 6."""
    if isinstance(activation, Mapping):
        config = activation.get("config")
        activation = (config.get("name") if isinstance(config, Mapping) else None) or activation.get("class_name")
    name = str(activation or "linear").lower()
    if name == "hard_sigmoid" and keras_major < 3:
        return "hard_sigmoid_keras2"
    return name


def activation_expression(name: str, value: Value, layer: Layer) -> str:
    if name not in _ACTIVATIONS:
        raise refuse(layer, f"activation {name!r} has no PyTorch form here",
                     f"known: {', '.join(sorted(_ACTIVATIONS))}")
    return _ACTIVATIONS[name].format(x=value.name, axis=value.torch_axis(-1))


def apply_activation(em: Emitter, layer: Layer, value: Value, activation: Any, fused: bool = True) -> Value:
    """``value`` through a Keras activation; ``fused`` (the layer's own activation argument)
    rebinds the layer's variable, whose pre-activation value nothing else reads."""
    name = activation_name(activation, em.keras_major)
    if name == "gelu" and isinstance(activation, Mapping) and (activation.get("config") or {}).get("approximate"):
        name = "gelu_approximate"
    if name == "linear":
        return value
    return em.let(layer.name, activation_expression(name, value, layer), value, rebind=fused)


# --------------------------------------------------------------------------- shapes and padding


def _tuple(value: Any, n: int) -> tuple[int, ...]:
    if isinstance(value, int):
        return (value,) * n
    items = tuple(int(v) for v in value)
    return items if len(items) == n else items * n if len(items) == 1 else items


def _window_out(size: int | None, kernel: int, stride: int, dilation: int, padding: str) -> int | None:
    if size is None:
        return None
    if padding == "same":
        return -(-size // stride)
    if padding == "causal":
        return -(-size // stride)
    return (size - (kernel - 1) * dilation - 1) // stride + 1


def _same_amounts(size: int | None, kernel: int, stride: int, dilation: int) -> tuple[int, int] | None:
    """TensorFlow's 'same': the odd pixel goes after (bottom/right). None when it depends on an unknown size."""
    effective = (kernel - 1) * dilation + 1
    if stride == 1:
        total = effective - 1
    elif size is None:
        return None
    else:
        total = max((-(-size // stride) - 1) * stride + effective - size, 0)
    return total // 2, total - total // 2


def _pad_arg(pairs: Sequence[tuple[int, int]]) -> str:
    """F.pad's argument: the last axis first."""
    return _as_tuple([v for pair in reversed(pairs) for v in pair])


_SAME_PAD_HELPER = '''def pad_same(x: torch.Tensor, kernel: tuple[int, ...], stride: tuple[int, ...],
             dilation: tuple[int, ...], value: float = 0.0) -> torch.Tensor:
    """TensorFlow's 'same' padding for the trailing spatial axes: any odd pixel goes after."""
    pads: list[int] = []
    for size, k, s, d in reversed(list(zip(x.shape[-len(kernel):], kernel, stride, dilation))):
        total = max((-(-size // s) - 1) * s + (k - 1) * d + 1 - size, 0)
        pads += [total // 2, total - total // 2]
    return F.pad(x, pads, value=value)
'''


def _spatial_padding(em: Emitter, layer: Layer, value: Value, kernel: tuple[int, ...], strides: tuple[int, ...],
                     dilation: tuple[int, ...], padding: str, fill: float = 0.0) -> tuple[Value, tuple[int, ...]]:
    """For a 'same' window: (input, symmetric padding for the module) or a pad line and zero padding."""
    n = len(kernel)
    if padding == "valid":
        return value, (0,) * n
    spatial = value.shape[1:-1]
    if padding == "causal":
        amounts = [((kernel[0] - 1) * dilation[0], 0)]
    else:
        maybe = [_same_amounts(size, k, s, d) for size, k, s, d in zip(spatial, kernel, strides, dilation, strict=True)]
        if any(a is None for a in maybe):
            em.helper(_SAME_PAD_HELPER)
            fill_arg = "" if fill == 0.0 else ", value=float(\"-inf\")"
            expr = f"pad_same({value.name}, {_as_tuple(kernel)}, {_as_tuple(strides)}, {_as_tuple(dilation)}{fill_arg})"
            unknown = (value.shape[0], *(None,) * n, value.shape[-1])
            return em.let(layer.name + "_pad", expr, value, shape=unknown), (0,) * n
        amounts = [a for a in maybe if a is not None]
    if all(before == after for before, after in amounts):
        return value, tuple(before for before, _ in amounts)
    fill_arg = "" if fill == 0.0 else ", value=float(\"-inf\")"
    return em.let(layer.name + "_pad", f"F.pad({value.name}, {_pad_arg(amounts)}{fill_arg})", value,
                  shape=_edged_shape(value, amounts, 1)), (0,) * n


def _edged_shape(value: Value, pairs: Sequence[tuple[int, int]], sign: int) -> tuple[int | None, ...]:
    """The Keras shape after adding (``sign`` 1: padding) or removing (-1: cropping) (before, after) per spatial axis."""
    spatial = (None if s is None else s + sign * (a + b) for s, (a, b) in zip(value.shape[1:-1], pairs, strict=True))
    return (value.shape[0], *spatial, value.shape[-1])


def _as_tuple(values: Sequence[int]) -> str:
    return f"({', '.join(map(str, values))}{',' if len(values) == 1 else ''})"


def _window_args(in_channels: int, out_channels: int, kernel: tuple[int, ...], strides: tuple[int, ...],
                 pads: tuple[int, ...], dilation: tuple[int, ...], use_bias: bool, extra: str) -> str:
    """A convolution module's arguments, each only where it differs from PyTorch's default."""
    args = [f"{in_channels}, {out_channels}", f"kernel_size={fmt(kernel)}"]
    args += [f"stride={fmt(strides)}"] if set(strides) != {1} else []
    args += [f"padding={fmt(pads)}"] if set(pads) != {0} else []
    args += [f"dilation={fmt(dilation)}"] if set(dilation) != {1} else []
    args += [extra] if extra else []
    args += [] if use_bias else ["bias=False"]
    return ", ".join(args)


def _windowed(em: Emitter, layer: Layer, module: str, x: Value, pads: tuple[int, ...], kernel: tuple[int, ...],
              strides: tuple[int, ...], dilation: tuple[int, ...], channels: int) -> Value:
    """The convolution's call in forward, its output shape, and the layer's fused activation."""
    out_spatial = tuple(_window_out(s, k, st, d, "valid")
                        for s, k, st, d in zip(_padded_shape(x, pads), kernel, strides, dilation, strict=True))
    out = em.let(layer.name, f"{module}({x.name})", x, shape=(x.shape[0], *out_spatial, channels))
    return apply_activation(em, layer, out, _config(layer, "activation"))


def _padded_shape(value: Value, padding: Sequence[int]) -> tuple[int | None, ...]:
    return tuple(None if s is None else s + 2 * p for s, p in zip(value.shape[1:-1], padding, strict=True))


# --------------------------------------------------------------------------- core layers


def _config(layer: Layer, key: str, default: Any = None) -> Any:
    value = layer.config.get(key, default)
    return default if value is None else value


def _check_channels_last(layer: Layer) -> None:
    if _config(layer, "data_format", "channels_last") != "channels_last":
        raise refuse(layer, "uses data_format='channels_first'", "only channels_last Keras models are converted")


def _dense(op: Op, inputs: list[Value], em: Emitter) -> list[Value]:
    layer, x = op.layer, inputs[0]
    arrays = em.arrays(layer)
    units, use_bias = int(arrays[0].shape[1]), len(arrays) == 2
    if x.channels_first:  # a Dense over the channels of an image is a 1×1 convolution
        n = x.rank - 2
        state = em.port(layer, "Linear", ("weight", "bias") if use_bias else ("weight",))
        state["weight"] = state["weight"].reshape(*state["weight"].shape, *(1,) * n)
        module = em.module(layer, f"nn.Conv{n}d({arrays[0].shape[0]}, {units}, kernel_size=1, bias={use_bias})", state)
    else:
        flatten_from = x.flat_from if x.layout == "flat_cf" else None
        state = em.port(layer, "Linear", ("weight", "bias") if use_bias else ("weight",),
                        hints={"flatten_from": flatten_from} if flatten_from else {})
        module = em.module(layer, f"nn.Linear({arrays[0].shape[0]}, {units}{'' if use_bias else ', bias=False'})", state)
    out = em.let(layer.name, f"{module}({x.name})", x, shape=(*x.shape[:-1], units),
                 layout="keras" if x.layout == "flat_cf" else x.layout, flat_from=None)
    return [apply_activation(em, layer, out, _config(layer, "activation"))]


def _conv(n: int, depthwise: bool = False) -> Emit:
    def emit(op: Op, inputs: list[Value], em: Emitter) -> list[Value]:
        layer = op.layer
        _check_channels_last(layer)
        x = em.to_layout(inputs[0], "cf")
        arrays = em.arrays(layer)
        kernel_shape = arrays[0].shape
        kernel = _tuple(_config(layer, "kernel_size", kernel_shape[:n]), n)
        strides = _tuple(_config(layer, "strides", 1), n)
        dilation = _tuple(_config(layer, "dilation_rate", 1), n)
        padding = str(_config(layer, "padding", "valid")).lower()
        use_bias = len(arrays) == 2
        in_channels = int(x.shape[-1]) if x.shape[-1] is not None else int(kernel_shape[-2])
        if depthwise:
            multiplier = int(kernel_shape[-1])
            out_channels, groups = in_channels * multiplier, in_channels
            state = em.port(layer, f"Conv{n}d", ("weight", "bias") if use_bias else ("weight",),
                            attributes={"groups": groups})
        else:
            out_channels, groups = int(kernel_shape[-1]), int(_config(layer, "groups", 1))
            state = em.port(layer, f"Conv{n}d", ("weight", "bias") if use_bias else ("weight",))
        x, pads = _spatial_padding(em, layer, x, kernel, strides, dilation, padding)
        args = _window_args(in_channels, out_channels, kernel, strides, pads, dilation, use_bias,
                            f"groups={groups}" if groups != 1 else "")
        module = em.module(layer, f"nn.Conv{n}d({args})", state)
        return [_windowed(em, layer, module, x, pads, kernel, strides, dilation, out_channels)]

    return emit


_SEPARABLE_HELPER = '''class SeparableConv{n}d(nn.Module):
    """Keras's SeparableConv{n}D: a depthwise convolution, then a 1×1 pointwise one."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int | tuple[int, ...],
                 stride: int | tuple[int, ...] = 1, padding: int | tuple[int, ...] = 0,
                 dilation: int | tuple[int, ...] = 1, depth_multiplier: int = 1, bias: bool = True) -> None:
        super().__init__()
        self.depthwise = nn.Conv{n}d(in_channels, in_channels * depth_multiplier, kernel_size, stride=stride,
                                   padding=padding, dilation=dilation, groups=in_channels, bias=False)
        self.pointwise = nn.Conv{n}d(in_channels * depth_multiplier, out_channels, 1, bias=bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.pointwise(self.depthwise(x))
'''


def _separable(n: int) -> Emit:
    def emit(op: Op, inputs: list[Value], em: Emitter) -> list[Value]:
        layer = op.layer
        _check_channels_last(layer)
        x = em.to_layout(inputs[0], "cf")
        arrays = em.arrays(layer)
        depthwise, pointwise = arrays[0], arrays[1]
        kernel = _tuple(_config(layer, "kernel_size", depthwise.shape[:n]), n)
        strides = _tuple(_config(layer, "strides", 1), n)
        dilation = _tuple(_config(layer, "dilation_rate", 1), n)
        in_channels, multiplier, out_channels = depthwise.shape[-2], depthwise.shape[-1], pointwise.shape[-1]
        use_bias = len(arrays) == 3
        state = em.port(layer, f"SeparableConv{n}d",
                        ["depthwise.weight", "pointwise.weight", *(["pointwise.bias"] if use_bias else [])],
                        attributes={"in_channels": in_channels})
        x, pads = _spatial_padding(em, layer, x, kernel, strides, dilation, str(_config(layer, "padding", "valid")))
        em.helper(_SEPARABLE_HELPER.replace("{n}", str(n)))
        args = _window_args(in_channels, out_channels, kernel, strides, pads, dilation, use_bias,
                            f"depth_multiplier={multiplier}" if multiplier != 1 else "")
        module = em.module(layer, f"SeparableConv{n}d({args})", state)
        return [_windowed(em, layer, module, x, pads, kernel, strides, dilation, int(out_channels))]

    return emit


def _conv_transpose(n: int) -> Emit:
    def emit(op: Op, inputs: list[Value], em: Emitter) -> list[Value]:
        layer = op.layer
        _check_channels_last(layer)
        x = em.to_layout(inputs[0], "cf")
        arrays = em.arrays(layer)
        kernel = _tuple(_config(layer, "kernel_size", arrays[0].shape[:n]), n)
        strides = _tuple(_config(layer, "strides", 1), n)
        dilation = _tuple(_config(layer, "dilation_rate", 1), n)
        padding = str(_config(layer, "padding", "valid"))
        if _config(layer, "output_padding") is not None:
            raise refuse(layer, "sets output_padding", "not converted yet")
        out_channels, in_channels = int(arrays[0].shape[-2]), int(arrays[0].shape[-1])
        use_bias = len(arrays) == 2
        state = em.port(layer, f"ConvTranspose{n}d", ("weight", "bias") if use_bias else ("weight",))
        args = [f"{in_channels}, {out_channels}", f"kernel_size={fmt(kernel)}"]
        args += [f"stride={fmt(strides)}"] if set(strides) != {1} else []
        args += [f"dilation={fmt(dilation)}"] if set(dilation) != {1} else []
        args += [] if use_bias else ["bias=False"]
        module = em.module(layer, f"nn.ConvTranspose{n}d({', '.join(args)})", state)
        full = [None if s is None else (s - 1) * st + (k - 1) * d + 1
                for s, k, st, d in zip(x.shape[1:-1], kernel, strides, dilation, strict=True)]
        out = em.let(layer.name, f"{module}({x.name})", x, shape=(x.shape[0], *full, out_channels))
        if padding == "same":  # TensorFlow crops the full output to size·stride, the odd pixel at the end
            crops = [max((k - 1) * d + 1 - st, 0) for k, st, d in zip(kernel, strides, dilation, strict=True)]
            if any(crops):
                sizes = [None if s is None else s * st for s, st in zip(x.shape[1:-1], strides, strict=True)]
                index = ", ".join([":", ":"] + [f"{c // 2}:{c // 2 - c}" if c else ":" for c in crops])
                out = em.let(layer.name, f"{out.name}[{index}]", out, shape=(x.shape[0], *sizes, out_channels))
        return [apply_activation(em, layer, out, _config(layer, "activation"))]

    return emit


def _batch_norm(op: Op, inputs: list[Value], em: Emitter) -> list[Value]:
    layer = op.layer
    axis = _config(layer, "axis", -1)
    axis = axis[0] if isinstance(axis, list | tuple) and len(axis) == 1 else axis
    x = inputs[0]
    if not isinstance(axis, int):
        raise refuse(layer, f"normalises over axes {axis}", "only one axis is converted")
    if axis % x.rank == x.rank - 1 and x.rank >= 3:
        x = em.to_layout(x, "cf")
    if x.torch_axis(axis) != 1:
        raise refuse(layer, f"normalises axis {axis}, which PyTorch's BatchNorm cannot (it uses axis 1)")
    arrays = em.arrays(layer)
    width = int(arrays[-1].shape[0])
    affine = len(arrays) > 2
    keys = (["weight", "bias"] if affine else []) + ["running_mean", "running_var"]
    state = em.port(layer, "BatchNorm2d", keys, attributes={"affine": affine})
    dims = max(x.rank - 2, 1)
    args = [str(width), f"eps={fmt(float(_config(layer, 'epsilon', 1e-3)))}"]
    args += [f"momentum={fmt(round(1.0 - float(_config(layer, 'momentum', 0.99)), 12))}"]  # training only
    args += [] if affine else ["affine=False"]
    module = em.module(layer, f"nn.BatchNorm{dims}d({', '.join(args)})", state)
    return [em.let(layer.name, f"{module}({x.name})", x)]


_CHANNEL_NORM_HELPER = '''class ChannelLayerNorm(nn.Module):
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
'''


def _layer_norm(op: Op, inputs: list[Value], em: Emitter) -> list[Value]:
    layer, x = op.layer, inputs[0]
    axis = _config(layer, "axis", -1)
    axes = sorted(a % x.rank for a in (axis if isinstance(axis, list | tuple) else [axis]))
    if _config(layer, "rms_scaling", False):
        raise refuse(layer, "uses rms_scaling", "not converted yet")
    scale, center = bool(_config(layer, "scale", True)), bool(_config(layer, "center", True))
    eps = fmt(float(_config(layer, "epsilon", 1e-3)))
    keys = (["weight"] if scale else []) + (["bias"] if center else [])
    if axes == [x.rank - 1] and x.channels_first:
        arrays = em.arrays(layer)
        width = int(arrays[0].shape[0]) if arrays else int(x.shape[-1] or 0)
        state = em.port(layer, "LayerNorm", keys)
        em.helper(_CHANNEL_NORM_HELPER)
        module = em.module(layer, f"ChannelLayerNorm({width}, eps={eps}, affine={scale}, bias={center})", state)
        return [em.let(layer.name, f"{module}({x.name})", x)]
    x = em.to_layout(x, "keras")
    if axes != list(range(axes[0], x.rank)):
        raise refuse(layer, f"normalises axes {axis}", "only trailing axes are converted")
    shape = tuple(int(x.shape[a] or 0) for a in axes)
    state = {k: v.reshape(shape) for k, v in em.port(layer, "LayerNorm", keys).items()}
    args = [fmt(shape), f"eps={eps}"]
    args += [] if scale or center else ["elementwise_affine=False"]
    args += [] if center or not scale else ["bias=False"]
    module = em.module(layer, f"nn.LayerNorm({', '.join(args)})", state)
    return [em.let(layer.name, f"{module}({x.name})", x)]


def _group_norm(op: Op, inputs: list[Value], em: Emitter) -> list[Value]:
    layer = op.layer
    x = em.to_layout(inputs[0], "cf") if inputs[0].rank >= 3 else inputs[0]
    if _config(layer, "axis", -1) % x.rank != x.rank - 1:
        raise refuse(layer, "normalises another axis than the last", "not converted")
    arrays = em.arrays(layer)
    names = (["weight"] if _config(layer, "scale", True) else []) + (["bias"] if _config(layer, "center", True) else [])
    channels = int(x.shape[-1])  # type: ignore[arg-type]
    state = dict(zip(names, arrays, strict=True))
    affine = bool(names)
    state.setdefault("weight", np.ones(channels, arrays[0].dtype if arrays else np.float32)) if affine else None
    state.setdefault("bias", np.zeros(channels, arrays[0].dtype if arrays else np.float32)) if affine else None
    groups = int(_config(layer, "groups", 32))
    module = em.module(layer, f"nn.GroupNorm({groups}, {channels}, eps={fmt(float(_config(layer, 'epsilon', 1e-3)))}"
                       f"{'' if affine else ', affine=False'})", state)
    return [em.let(layer.name, f"{module}({x.name})", x)]


def _normalization(op: Op, inputs: list[Value], em: Emitter) -> list[Value]:
    layer, x = op.layer, inputs[0]
    if _config(layer, "invert", False):
        raise refuse(layer, "is an inverted Normalization", "not converted yet")
    arrays = em.arrays(layer)
    if arrays:
        mean, variance = arrays[0], arrays[1]
    elif em.keras_major < 3:  # tf.keras builds config constants from NumPy float64: held exactly
        mean, variance = np.asarray(layer.config["mean"], np.float64), np.asarray(layer.config["variance"], np.float64)
    else:  # Keras 3 makes float32 tensors of them first (see as_keras_holds)
        mean, variance = _constant(layer.config["mean"], layer), _constant(layer.config["variance"], layer)
    channels = int(np.size(mean))
    if channels not in (1, x.shape[-1]):
        raise refuse(layer, f"normalises with {channels} means over shape {x.shape}", "only the last axis is converted")
    shape = [1] * x.rank
    shape[x.torch_axis(-1)] = channels
    epsilon = 1e-7
    std = np.maximum(np.sqrt(np.asarray(variance, np.float64)), epsilon)
    attr = em.module(layer, "nn.Module()", {}, suffix="")
    em.init_lines.append(f"{attr}.register_buffer(\"mean\", torch.zeros({fmt(tuple(shape))}))")
    em.init_lines.append(f"{attr}.register_buffer(\"std\", torch.ones({fmt(tuple(shape))}))")
    name = attr.removeprefix("self.")
    em.state[f"{name}.mean"] = np.asarray(mean, np.float64).reshape(shape)
    em.state[f"{name}.std"] = std.reshape(shape)
    return [em.let(layer.name, f"({x.name} - {attr}.mean) / {attr}.std", x)]


def as_keras_holds(value: float) -> float:
    """A config constant as Keras computes with it: rounded to float32 even in a float64 model.

    Rescaling casts its Python ``scale``/``offset`` with ``tf.cast`` and Normalization its
    config mean/variance with ``convert_to_tensor``: TensorFlow makes a float32 tensor of a
    Python float first, then widens it (measured: Keras's float64 ``Rescaling(1/255)`` is
    off exact x/255 by 2.3e-10). ``tf.nn.leaky_relu`` holds its slope as a float32
    attribute. The converted module uses the same rounded constants, so float32 and float64
    both compute exactly what Keras computes.
    """
    return float(np.float32(value))


def _constant(value: Any, layer: Layer) -> np.ndarray:
    array = np.asarray(value, dtype=np.float64)
    if array.ndim > 1:
        raise refuse(layer, f"has a constant of shape {array.shape}", "only scalars and per-channel vectors are converted")
    return array.astype(np.float32).astype(np.float64)


def _rescaling(op: Op, inputs: list[Value], em: Emitter) -> list[Value]:
    layer, x = op.layer, inputs[0]
    scale, offset = _constant(layer.config.get("scale", 1.0), layer), _constant(layer.config.get("offset", 0.0), layer)
    if scale.ndim == 0 and offset.ndim == 0:
        expr = f"{x.name} * {fmt(float(scale))}" + (f" + {fmt(float(offset))}" if float(offset) else "")
        note = f"scale {layer.config.get('scale')!r} as Keras holds it (float32)" if float(scale) != layer.config.get(
            "scale") else ""
        return [em.let(layer.name, expr, x, comment=note)]
    shape = [1] * x.rank
    shape[x.torch_axis(-1)] = max(scale.size, offset.size)
    attr = em.module(layer, "nn.Module()", {})
    name = attr.removeprefix("self.")
    for key, array in (("scale", scale), ("offset", offset)):
        em.init_lines.append(f"{attr}.register_buffer(\"{key}\", torch.zeros({_as_tuple(shape)}))")
        em.state[f"{name}.{key}"] = np.broadcast_to(array.reshape(-1), (shape[x.torch_axis(-1)],)).reshape(shape)
    return [em.let(layer.name, f"{x.name} * {attr}.scale + {attr}.offset", x)]


def _embedding(op: Op, inputs: list[Value], em: Emitter) -> list[Value]:
    layer, x = op.layer, em.to_layout(inputs[0], "keras")
    if _config(layer, "mask_zero", False):
        raise refuse(layer, "uses mask_zero=True: Keras then skips padded steps in later layers",
                     "re-save the model without masking, or convert the layers after it by hand")
    arrays = em.arrays(layer)
    vocab, dim = arrays[0].shape
    module = em.module(layer, f"nn.Embedding({vocab}, {dim})", em.port(layer, "Embedding", ("weight",)))
    return [em.let(layer.name, f"{module}({x.name}.long())", x, shape=(*x.shape, int(dim)), integer=False)]


# --------------------------------------------------------------------------- activations as layers


def _activation(op: Op, inputs: list[Value], em: Emitter) -> list[Value]:
    return [apply_activation(em, op.layer, inputs[0], _config(op.layer, "activation", "linear"), fused=False)]


def _relu(op: Op, inputs: list[Value], em: Emitter) -> list[Value]:
    layer, x = op.layer, inputs[0]
    max_value = _config(layer, "max_value")
    slope = float(_config(layer, "negative_slope", 0.0))
    threshold = float(_config(layer, "threshold", 0.0))
    if slope == 0.0 and threshold == 0.0:
        if max_value is None:
            return [em.let(layer.name, f"F.relu({x.name})", x)]
        if float(max_value) == 6.0:
            return [em.let(layer.name, f"F.relu6({x.name})", x)]
        return [em.let(layer.name, f"torch.clamp({x.name}, 0.0, {fmt(float(max_value))})", x)]
    expr = f"torch.where({x.name} >= {fmt(threshold)}, {x.name}, {fmt(slope)} * ({x.name} - {fmt(threshold)}))"
    out = em.let(layer.name, expr, x)
    if max_value is not None:
        out = em.let(layer.name, f"torch.clamp({out.name}, max={fmt(float(max_value))})", out)
    return [out]


def _leaky_relu(op: Op, inputs: list[Value], em: Emitter) -> list[Value]:
    slope = as_keras_holds(op.layer.config.get("negative_slope", op.layer.config.get("alpha", 0.3)))
    return [em.let(op.layer.name, f"F.leaky_relu({inputs[0].name}, {fmt(slope)})", inputs[0])]


def _elu(op: Op, inputs: list[Value], em: Emitter) -> list[Value]:
    alpha = float(_config(op.layer, "alpha", 1.0))
    return [em.let(op.layer.name, f"F.elu({inputs[0].name}, {fmt(alpha)})", inputs[0])]


def _softmax(op: Op, inputs: list[Value], em: Emitter) -> list[Value]:
    axis = _config(op.layer, "axis", -1)
    axis = axis[0] if isinstance(axis, list | tuple) else axis
    x = inputs[0]
    return [em.let(op.layer.name, f"F.softmax({x.name}, dim={x.torch_axis(int(axis))})", x)]


def _thresholded_relu(op: Op, inputs: list[Value], em: Emitter) -> list[Value]:
    theta, x = float(_config(op.layer, "theta", 1.0)), inputs[0]
    return [em.let(op.layer.name, f"{x.name} * ({x.name} > {fmt(theta)})", x)]


def _prelu(op: Op, inputs: list[Value], em: Emitter) -> list[Value]:
    layer, x = op.layer, inputs[0]
    alpha = em.arrays(layer)[0]  # shape = input shape without batch, shared axes 1
    full = alpha.reshape(alpha.shape) if alpha.ndim == x.rank - 1 else alpha
    if x.channels_first:
        full = np.moveaxis(full, -1, 0)
    attr = em.module(layer, "nn.Module()", {})
    em.init_lines.append(f"{attr}.alpha = nn.Parameter(torch.zeros{fmt(tuple(full.shape))})"
                         if full.ndim > 1 else f"{attr}.alpha = nn.Parameter(torch.zeros({full.shape[0]}))")
    em.state[f"{attr.removeprefix('self.')}.alpha"] = full
    return [em.let(layer.name, f"F.relu({x.name}) - {attr}.alpha * F.relu(-{x.name})", x)]


def _identity(op: Op, inputs: list[Value], em: Emitter) -> list[Value]:
    em.layer_map.setdefault(op.layer.name, [])
    return [inputs[0]]


# --------------------------------------------------------------------------- reshaping


def _flatten(op: Op, inputs: list[Value], em: Emitter) -> list[Value]:
    x = inputs[0]
    size = math.prod(s for s in x.shape[1:] if s is not None) if None not in x.shape[1:] else None
    if x.channels_first:
        if size is None:
            raise refuse(op.layer, f"flattens a tensor of unknown shape {x.shape}")
        flat_from = (int(x.shape[-1]), *(int(s) for s in x.shape[1:-1]))  # type: ignore[arg-type]
        return [em.let(op.layer.name, f"{x.name}.flatten(1)", x, shape=(x.shape[0], size), layout="flat_cf",
                       flat_from=flat_from)]
    x = em.to_layout(x, "keras")
    return [em.let(op.layer.name, f"{x.name}.flatten(1)", x, shape=(x.shape[0], size))]


def _reshape(op: Op, inputs: list[Value], em: Emitter) -> list[Value]:
    x = inputs[0]
    target = tuple(int(v) for v in _config(op.layer, "target_shape"))
    known = math.prod(s for s in x.shape[1:] if s is not None) if None not in x.shape[1:] else None
    if -1 in target and known is not None:
        rest = math.prod(t for t in target if t != -1)
        target = tuple(known // rest if t == -1 else t for t in target)
    if len(target) >= 2 and all(t == 1 for t in target[:-1]) and x.rank == 2 and x.layout != "flat_cf":
        # (N, C) → (N, 1, …, 1, C): channels-first is the same memory, no transpose needed
        shape = ", ".join(["-1", str(target[-1]), *["1"] * (len(target) - 1)])
        return [em.let(op.layer.name, f"{x.name}.reshape({shape})", x, shape=(x.shape[0], *target), layout="cf")]
    x = em.to_layout(x, "keras")
    return [em.let(op.layer.name, f"{x.name}.reshape(-1, {', '.join(map(str, target))})", x,
                   shape=(x.shape[0], *target))]


def _permute(op: Op, inputs: list[Value], em: Emitter) -> list[Value]:
    x = em.to_layout(inputs[0], "keras")
    dims = tuple(int(d) for d in _config(op.layer, "dims"))
    shape = (x.shape[0], *(x.shape[d] for d in dims))
    return [em.let(op.layer.name, f"{x.name}.permute(0, {', '.join(map(str, dims))})", x, shape=shape)]


def _repeat_vector(op: Op, inputs: list[Value], em: Emitter) -> list[Value]:
    x = em.to_layout(inputs[0], "keras")
    n = int(_config(op.layer, "n"))
    return [em.let(op.layer.name, f"{x.name}.unsqueeze(1).expand(-1, {n}, -1)", x, shape=(x.shape[0], n, x.shape[1]))]


def _pairs(value: Any, n: int) -> list[tuple[int, int]]:
    if isinstance(value, int):
        return [(value, value)] * n
    items = list(value)
    if all(isinstance(v, int) for v in items):
        return [(int(items[0]), int(items[1]))] if n == 1 and len(items) == 2 else [(int(v), int(v)) for v in items]
    return [(int(a), int(b)) for a, b in items]


def _zero_padding(n: int) -> Emit:
    def emit(op: Op, inputs: list[Value], em: Emitter) -> list[Value]:
        _check_channels_last(op.layer)
        x = em.to_layout(inputs[0], "cf")
        pads = _pairs(_config(op.layer, "padding", 1), n)
        return [em.let(op.layer.name, f"F.pad({x.name}, {_pad_arg(pads)})", x, shape=_edged_shape(x, pads, 1))]

    return emit


def _cropping(n: int) -> Emit:
    def emit(op: Op, inputs: list[Value], em: Emitter) -> list[Value]:
        _check_channels_last(op.layer)
        x = em.to_layout(inputs[0], "cf")
        crops = _pairs(_config(op.layer, "cropping", 1), n)
        index = ", ".join([":", ":"] + [f"{a}:{-b if b else ''}" for a, b in crops])
        return [em.let(op.layer.name, f"{x.name}[{index}]", x, shape=_edged_shape(x, crops, -1))]

    return emit


def _upsampling(n: int) -> Emit:
    def emit(op: Op, inputs: list[Value], em: Emitter) -> list[Value]:
        _check_channels_last(op.layer)
        x = em.to_layout(inputs[0], "cf")
        size = _tuple(_config(op.layer, "size", 2), n) if n > 1 else (int(_config(op.layer, "size", 2)),)
        mode = str(_config(op.layer, "interpolation", "nearest"))
        shape = (x.shape[0], *(None if s is None else s * f for s, f in zip(x.shape[1:-1], size, strict=True)),
                 x.shape[-1])
        if mode == "nearest":
            expr = f"F.interpolate({x.name}, scale_factor={fmt(tuple(float(v) for v in size))}, mode=\"nearest\")"
        elif mode == "bilinear" and n == 2:
            expr = (f"F.interpolate({x.name}, scale_factor={fmt(tuple(float(v) for v in size))}, mode=\"bilinear\", "
                    "align_corners=False)")
        else:
            raise refuse(op.layer, f"uses interpolation {mode!r}", "only nearest and bilinear are converted")
        return [em.let(op.layer.name, expr, x, shape=shape)]

    return emit


# --------------------------------------------------------------------------- pooling

_AVG_SAME_HELPER = '''def avg_pool_same(x: torch.Tensor, pads: tuple[int, ...], kernel: tuple[int, ...],
                  stride: tuple[int, ...]) -> torch.Tensor:
    """TensorFlow's 'same' average pooling: padded positions do not count in the average."""
    pool = {1: F.avg_pool1d, 2: F.avg_pool2d, 3: F.avg_pool3d}[len(kernel)]
    total = pool(F.pad(x, pads), kernel, stride)
    count = pool(F.pad(torch.ones_like(x[:1, :1]), pads), kernel, stride)
    return total / count
'''


def _pool(n: int, kind: str) -> Emit:
    def emit(op: Op, inputs: list[Value], em: Emitter) -> list[Value]:
        layer = op.layer
        _check_channels_last(layer)
        x = em.to_layout(inputs[0], "cf")
        kernel = _tuple(_config(layer, "pool_size", 2), n)
        strides = _tuple(_config(layer, "strides", kernel), n)
        padding = str(_config(layer, "padding", "valid")).lower()
        out_spatial = tuple(_window_out(s, k, st, 1, padding)
                            for s, k, st in zip(x.shape[1:-1], kernel, strides, strict=True))
        shape = (x.shape[0], *out_spatial, x.shape[-1])
        stride_arg = f", stride={fmt(strides)}" if strides != kernel else ""
        if padding == "same" and kind == "avg":
            amounts = [_same_amounts(s, k, st, 1) for s, k, st in zip(x.shape[1:-1], kernel, strides, strict=True)]
            if any(a is None for a in amounts):
                raise refuse(layer, "pools with 'same' padding over an input of unknown size",
                             "give the Keras Input a fixed spatial shape")
            known = [a for a in amounts if a is not None]
            if any(a != (0, 0) for a in known):
                em.helper(_AVG_SAME_HELPER)
                expr = (f"avg_pool_same({x.name}, {_pad_arg(known)}, {_as_tuple(kernel)}, "
                        f"{_as_tuple(strides)})")
                return [em.let(layer.name, expr, x, shape=shape)]
            padding = "valid"
        x, pads = _spatial_padding(em, layer, x, kernel, strides, (1,) * n, padding, fill=-math.inf)
        pad_arg = f", padding={fmt(pads)}" if set(pads) != {0} else ""
        cls = "MaxPool" if kind == "max" else "AvgPool"
        module = em.module(layer, f"nn.{cls}{n}d({fmt(kernel)}{stride_arg}{pad_arg})")
        return [em.let(layer.name, f"{module}({x.name})", x, shape=shape)]

    return emit


def _global_pool(n: int, kind: str) -> Emit:
    def emit(op: Op, inputs: list[Value], em: Emitter) -> list[Value]:
        _check_channels_last(op.layer)
        x = inputs[0]
        keepdims = bool(_config(op.layer, "keepdims", False))
        if x.rank >= 3 and not x.channels_first and keepdims:
            x = em.to_layout(x, "cf")
        dims = tuple(range(2, x.rank)) if x.channels_first else tuple(range(1, x.rank - 1))
        reduce = "mean" if kind == "avg" else "amax"
        expr = f"{x.name}.{reduce}(dim={fmt(dims) if len(dims) > 1 else dims[0]}{', keepdim=True' if keepdims else ''})"
        shape = (x.shape[0], *([1] * (x.rank - 2) if keepdims else []), x.shape[-1])
        return [em.let(op.layer.name, expr, x, shape=shape, layout="cf" if keepdims else "keras")]

    return emit


# --------------------------------------------------------------------------- merges


def _broadcast_shape(shapes: Sequence[tuple[int | None, ...]]) -> tuple[int | None, ...]:
    rank = max(len(s) for s in shapes)
    padded = [(1,) * (rank - len(s)) + tuple(s) for s in shapes]
    return tuple(next((d for d in dims if d != 1), 1) if None not in dims else None for dims in zip(*padded, strict=True))


def _merge(kind: str) -> Emit:
    def emit(op: Op, inputs: list[Value], em: Emitter) -> list[Value]:
        values = em.align(inputs)
        names = [v.name for v in values]
        if kind == "add":
            expr = " + ".join(names)
        elif kind == "subtract":
            expr = f"{names[0]} - {names[1]}"
        elif kind == "multiply":
            expr = " * ".join(names)
        elif kind == "average":
            expr = f"({' + '.join(names)}) / {len(names)}"
        else:
            fn = "torch.maximum" if kind == "maximum" else "torch.minimum"
            expr = names[0]
            for name in names[1:]:
                expr = f"{fn}({expr}, {name})"
        like = max(values, key=lambda v: v.rank)
        return [em.let(op.layer.name, expr, like, shape=_broadcast_shape([v.shape for v in values]))]

    return emit


def _concatenate(op: Op, inputs: list[Value], em: Emitter) -> list[Value]:
    values = em.align(inputs)
    axis = int(_config(op.layer, "axis", -1)) % values[0].rank
    dim = values[0].torch_axis(axis)
    sizes = [v.shape[axis] for v in values]
    shape = list(values[0].shape)
    shape[axis] = None if None in sizes else sum(s for s in sizes if s is not None)
    names = ", ".join(v.name for v in values)
    return [em.let(op.layer.name, f"torch.cat([{names}], dim={dim})", values[0], shape=tuple(shape))]


def _dot(op: Op, inputs: list[Value], em: Emitter) -> list[Value]:
    a, b = (em.to_layout(v, "keras") for v in inputs)
    axes = _config(op.layer, "axes", -1)
    axes = (axes, axes) if isinstance(axes, int) else tuple(axes)
    ax, bx = axes[0] % a.rank, axes[1] % b.rank
    if _config(op.layer, "normalize", False):
        a = em.let(op.layer.name + "_a", f"F.normalize({a.name}, dim={ax})", a)
        b = em.let(op.layer.name + "_b", f"F.normalize({b.name}, dim={bx})", b)
    if a.rank == 2 and b.rank == 2:
        return [em.let(op.layer.name, f"({a.name} * {b.name}).sum(dim=1, keepdim=True)", a, shape=(a.shape[0], 1))]
    if a.rank == 3 and b.rank == 3:
        left = a.name if ax == 2 else f"{a.name}.transpose(1, 2)"
        right = b.name if bx == 1 else f"{b.name}.transpose(1, 2)"
        shape = (a.shape[0], a.shape[3 - ax], b.shape[3 - bx])
        return [em.let(op.layer.name, f"torch.bmm({left}, {right})", a, shape=shape)]
    raise refuse(op.layer, f"takes a Dot of ranks {a.rank} and {b.rank}", "only ranks 2 and 3 are converted")


# --------------------------------------------------------------------------- keras.applications helpers


def _custom_scale(op: Op, inputs: list[Value], em: Emitter) -> list[Value]:
    x, residual = em.align(inputs)
    scale = fmt(float(_config(op.layer, "scale")))
    return [em.let(op.layer.name, f"{x.name} + {residual.name} * {scale}", x)]


def _layer_scale(op: Op, inputs: list[Value], em: Emitter) -> list[Value]:
    x = inputs[0]
    gamma = em.arrays(op.layer)[0]
    shape = [1] * x.rank
    shape[x.torch_axis(-1)] = gamma.shape[-1]
    attr = em.module(op.layer, "nn.Module()", {})
    em.init_lines.append(f"{attr}.gamma = nn.Parameter(torch.ones({fmt(tuple(shape))}))")
    em.state[f"{attr.removeprefix('self.')}.gamma"] = gamma.reshape(shape)
    return [em.let(op.layer.name, f"{x.name} * {attr}.gamma", x)]


# --------------------------------------------------------------------------- recurrent


def _recurrent(op: Op, inputs: list[Value], em: Emitter) -> list[Value]:
    from ._convert_recurrent import emit_recurrent

    return emit_recurrent(op, [em.to_layout(inputs[0], "keras")], em)


def _time_distributed(op: Op, inputs: list[Value], em: Emitter) -> list[Value]:
    """Apply the inner layer to batch and time merged, then split them again."""
    from ._convert import RULES_IN_USE

    layer, x = op.layer, em.to_layout(inputs[0], "keras")
    inner_entry = layer.config.get("layer", {})
    inner = Layer(layer.name, str(inner_entry.get("class_name", "")), inner_entry.get("config", {}), layer.module)
    if inner.class_name in ("Dense",) and x.rank == 3:
        return _dense(replace(op, layer=inner), [x], em)
    rule = RULES_IN_USE.get().get(inner.class_name)
    if rule is None:
        raise refuse(layer, f"wraps a {inner.class_name}, which has no conversion rule")
    merged = em.let(layer.name + "_steps", f"{x.name}.flatten(0, 1)", x, shape=(None, *x.shape[2:]))
    out = em.to_layout(rule.emit(Op(inner, [TensorRef(-1)], {}), [merged], em)[0], "keras")
    return [em.let(layer.name, f"{out.name}.unflatten(0, ({x.name}.shape[0], {x.name}.shape[1]))", out,
                   shape=(x.shape[0], x.shape[1], *out.shape[1:]))]


def _rules() -> list[ConvertRule]:
    rules = [
        ConvertRule("Dense", _dense, "any", "Linear", "Linear; a 1×1 convolution over channels-first images"),
        ConvertRule("Embedding", _embedding, "keras", "Embedding"),
        ConvertRule("BatchNormalization", _batch_norm, "cf", "BatchNorm2d"),
        ConvertRule("LayerNormalization", _layer_norm, "any", "LayerNorm"),
        ConvertRule("GroupNormalization", _group_norm, "cf"),
        ConvertRule("Normalization", _normalization, "any"),
        ConvertRule("Rescaling", _rescaling, "any"),
        ConvertRule("Activation", _activation, "any"),
        ConvertRule("ReLU", _relu, "any"),
        ConvertRule("LeakyReLU", _leaky_relu, "any"),
        ConvertRule("ELU", _elu, "any"),
        ConvertRule("Softmax", _softmax, "any"),
        ConvertRule("ThresholdedReLU", _thresholded_relu, "any"),
        ConvertRule("PReLU", _prelu, "any"),
        ConvertRule("Flatten", _flatten, "any"),
        ConvertRule("Reshape", _reshape, "keras"),
        ConvertRule("Permute", _permute, "keras"),
        ConvertRule("RepeatVector", _repeat_vector, "keras"),
        ConvertRule("Concatenate", _concatenate, "any"),
        ConvertRule("Dot", _dot, "keras"),
        ConvertRule("CustomScaleLayer", _custom_scale, "any"),
        ConvertRule("LayerScale", _layer_scale, "any"),
        ConvertRule("TimeDistributed", _time_distributed, "keras"),
    ]
    for name in ("Dropout", "SpatialDropout1D", "SpatialDropout2D", "SpatialDropout3D", "GaussianNoise",
                 "GaussianDropout", "AlphaDropout", "ActivityRegularization", "StochasticDepth"):
        rules.append(ConvertRule(name, _identity, "any", doc="identity at inference"))
    for kind in ("Add", "Subtract", "Multiply", "Average", "Maximum", "Minimum"):
        rules.append(ConvertRule(kind, _merge(kind.lower()), "any"))
    for n in (1, 2, 3):
        rules += [
            ConvertRule(f"Conv{n}D", _conv(n), "cf", f"Conv{n}d"),
            ConvertRule(f"Conv{n}DTranspose", _conv_transpose(n), "cf", f"ConvTranspose{n}d"),
            ConvertRule(f"ZeroPadding{n}D", _zero_padding(n), "cf"),
            ConvertRule(f"Cropping{n}D", _cropping(n), "cf"),
            ConvertRule(f"UpSampling{n}D", _upsampling(n), "cf"),
            ConvertRule(f"MaxPooling{n}D", _pool(n, "max"), "cf"),
            ConvertRule(f"AveragePooling{n}D", _pool(n, "avg"), "cf"),
            ConvertRule(f"GlobalAveragePooling{n}D", _global_pool(n, "avg"), "any"),
            ConvertRule(f"GlobalMaxPooling{n}D", _global_pool(n, "max"), "any"),
        ]
        rules += [ConvertRule(f"MaxPool{n}D", _pool(n, "max"), "cf"), ConvertRule(f"AvgPool{n}D", _pool(n, "avg"), "cf"),
                  ConvertRule(f"GlobalAvgPool{n}D", _global_pool(n, "avg"), "any"),
                  ConvertRule(f"GlobalMaxPool{n}D", _global_pool(n, "max"), "any")]
    for n in (1, 2):
        rules += [ConvertRule(f"DepthwiseConv{n}D", _conv(n, depthwise=True), "cf", f"Conv{n}d"),
                  ConvertRule(f"SeparableConv{n}D", _separable(n), "cf", f"SeparableConv{n}d")]
    for name in ("LSTM", "GRU", "SimpleRNN", "Bidirectional", "CuDNNLSTM", "CuDNNGRU"):
        rules.append(ConvertRule(name, _recurrent, "keras", name))
    return rules


DEFAULT_CONVERT_RULES = ConvertRuleSet(_rules())
