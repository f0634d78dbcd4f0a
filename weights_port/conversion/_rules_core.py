"""Conversion rules for Keras's core, convolution, normalization, pooling, reshaping and merge layers.

Every config value goes through ``Settings`` (Keras's own rules) before use, and values
the weights also record (units, filters, kernel size, groups) must agree with them.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Any

import numpy as np

from .._errors import ConfigValueError
from .._padding import same_padding, window_output
from ._emitter import Emitter, refuse
from ._graph import Layer, Op, TensorRef
from ._ir import Attr, Call, Expr, F, Name, Value, compare, nn, torch
from ._settings import Settings, check_layer_config, shown
from ._table import ConvertRule, Emit, apply_activation

__all__ = ["CORE_RULES", "as_keras_holds", "emit_time_reshape"]

_DATA_FORMATS = ("channels_last", "channels_first")


def _arrays(em: Emitter, layer: Layer, counts: Sequence[int], what: str) -> list[np.ndarray]:
    """The layer's arrays, refused unless there are as many as one of ``counts``."""
    arrays = em.arrays(layer)
    if len(arrays) not in counts:
        raise ConfigValueError(f"{layer.describe()}: its weights hold {len(arrays)} arrays; a {layer.class_name} "
                               f"holds {what}")
    return arrays


def _channels_last(s: Settings) -> None:
    """The rules below are written for channels_last; ``_either_format`` serves channels_first with them."""
    s.choice("data_format", _DATA_FORMATS, "channels_last", nullable=True)


def _either_format(emit: Emit) -> Emit:
    """A channels_last rule that also converts the layer's ``data_format='channels_first'``.

    A channels_first Keras tensor (N, C, *S) held as is by PyTorch is exactly what the
    rules call a channels-last tensor (N, *S, C) held channels-first: the rule runs on that
    view, and its output is viewed back. No transpose is emitted.
    """

    def emit_either(op: Op, inputs: list[Value], em: Emitter) -> list[Value]:
        s = Settings(op.layer)
        if s.choice("data_format", _DATA_FORMATS, "channels_last", nullable=True) != "channels_first" \
                or inputs[0].rank < 3:
            return emit(op, inputs, em)
        if em.mask() is not None:
            raise refuse(op.layer, "receives a mask with data_format='channels_first'", "not converted")
        held = em.to_layout(inputs[0], "keras")
        viewed = held.with_(shape=(held.shape[0], *held.shape[2:], held.shape[1]), layout="cf")
        outputs = emit(op, [viewed, *inputs[1:]], em)
        return [_channels_first_view(em, out) for out in outputs]

    return emit_either


def _channels_first_view(em: Emitter, value: Value) -> Value:
    if value.rank < 3:
        return value
    held = em.to_layout(value, "cf")
    return held.with_(shape=(held.shape[0], held.shape[-1], *held.shape[1:-1]), layout="keras")


def _use_bias(s: Settings, has_bias: bool) -> bool:
    use_bias = s.flag("use_bias", has_bias)
    s.matches("use_bias", use_bias, has_bias, "a bias:")
    return use_bias


def _collapsed(values: Sequence[int]) -> int | tuple[int, ...]:
    """(3, 3) → 3 for a module argument, as a PyTorch engineer writes it."""
    return values[0] if len(set(values)) == 1 else tuple(values)


def _bias_flag(use_bias: bool) -> dict[str, Any]:
    return {} if use_bias else {"bias": False}


def _input_width(layer: Layer, x: Value, expected: int, what: str) -> None:
    if x.shape and x.shape[-1] is not None and x.shape[-1] != expected:
        raise ConfigValueError(f"{layer.describe()}: its input has {x.shape[-1]} {what}, its weights expect "
                               f"{expected}; the file is inconsistent")


# --------------------------------------------------------------------------- padding


def _spatial_padding(em: Emitter, layer: Layer, value: Value, kernel: tuple[int, ...], strides: tuple[int, ...],
                     dilation: tuple[int, ...], padding: str, fill: float = 0.0) -> tuple[Value, tuple[int, ...]]:
    """For a 'same' window: (input, symmetric padding for the module) or a pad step and zero padding."""
    n = len(kernel)
    if padding == "valid":
        return value, (0,) * n
    spatial = value.shape[1:-1]
    if padding == "causal":
        amounts = [((kernel[0] - 1) * dilation[0], 0)]
    else:
        if any(size is None for size, s in zip(spatial, strides, strict=True) if s > 1):
            pad = em.runtime("pad_same")
            expr = pad(value, kernel, strides, dilation, **({"value": fill} if fill else {}))
            unknown = (value.shape[0], *(None,) * n, value.shape[-1])
            return em.let(layer.name + "_pad", expr, value, shape=unknown), (0,) * n
        amounts = [same_padding(size or 1, k, s, d) for size, k, s, d in zip(spatial, kernel, strides, dilation,
                                                                              strict=True)]
    if all(before == after for before, after in amounts):
        return value, tuple(before for before, _ in amounts)
    expr = F.pad(value, _pad_arg(amounts), **({"value": fill} if fill else {}))
    return em.let(layer.name + "_pad", expr, value, shape=_edged_shape(value, amounts, 1)), (0,) * n


def _pad_arg(pairs: Sequence[tuple[int, int]]) -> tuple[int, ...]:
    """F.pad's argument: the last axis first."""
    return tuple(v for pair in reversed(pairs) for v in pair)


def _edged_shape(value: Value, pairs: Sequence[tuple[int, int]], sign: int) -> tuple[int | None, ...]:
    """The Keras shape after adding (``sign`` 1: padding) or removing (-1: cropping) (before, after) per spatial axis."""
    spatial = (None if s is None else s + sign * (a + b) for s, (a, b) in zip(value.shape[1:-1], pairs, strict=True))
    return (value.shape[0], *spatial, value.shape[-1])


def _window_kwargs(kernel: tuple[int, ...], strides: tuple[int, ...], pads: tuple[int, ...],
                   dilation: tuple[int, ...], groups: int, use_bias: bool) -> dict[str, Any]:
    """A convolution module's keyword arguments, each only where it differs from PyTorch's default."""
    kwargs: dict[str, Any] = {"kernel_size": _collapsed(kernel)}
    if set(strides) != {1}:
        kwargs["stride"] = _collapsed(strides)
    if set(pads) != {0}:
        kwargs["padding"] = _collapsed(pads)
    if set(dilation) != {1}:
        kwargs["dilation"] = _collapsed(dilation)
    if groups != 1:
        kwargs["groups"] = groups
    if not use_bias:
        kwargs["bias"] = False
    return kwargs


def _windowed(em: Emitter, layer: Layer, module: Attr, x: Value, pads: tuple[int, ...], kernel: tuple[int, ...],
              strides: tuple[int, ...], dilation: tuple[int, ...], channels: int, s: Settings) -> Value:
    """The convolution's call in forward, its output shape, and the layer's fused activation."""
    padded = [None if d is None else d + 2 * p for d, p in zip(x.shape[1:-1], pads, strict=True)]
    out_spatial = tuple(window_output(d, k, st, dl, "valid") for d, k, st, dl in zip(padded, kernel, strides, dilation,
                                                                                     strict=True))
    if any(d is not None and d < 1 for d in out_spatial):
        raise ConfigValueError(f"{layer.describe()}: a {_collapsed(kernel)} window over input {x.shape[1:-1]} leaves no "
                               "output; the file's model cannot run (Keras refuses it too)")
    out = em.let(layer.name, module(x), x, shape=(x.shape[0], *out_spatial, channels))
    return apply_activation(em, layer, out, s.raw("activation"))


def _window(s: Settings, n: int, kernel_default: Any) -> tuple[tuple[int, ...], tuple[int, ...], tuple[int, ...]]:
    kernel = s.ints("kernel_size", n, kernel_default)
    strides = s.ints("strides", n, 1)
    dilation = s.ints("dilation_rate", n, 1)
    if max(strides) > 1 and max(dilation) > 1:
        raise ConfigValueError(f"{s.layer.describe()}: config 'strides' {shown(s.raw('strides'))} and 'dilation_rate' "
                               f"{shown(s.raw('dilation_rate'))} are both above 1, which Keras does not allow")
    return kernel, strides, dilation


# --------------------------------------------------------------------------- dense and convolutions


def _dense(op: Op, inputs: list[Value], em: Emitter) -> list[Value]:
    layer, x, s = op.layer, inputs[0], Settings(op.layer)
    arrays = _arrays(em, layer, (1, 2), "a kernel and maybe a bias")
    if arrays[0].ndim != 2:
        raise ConfigValueError(f"{layer.describe()}: its kernel has shape {arrays[0].shape}; a Dense kernel is 2-D")
    features, units = (int(n) for n in arrays[0].shape)
    s.matches("units", s.integer("units", units, minimum=1), units, "units")
    use_bias = _use_bias(s, len(arrays) == 2)
    keys = ("weight", "bias") if use_bias else ("weight",)
    if x.layout != "flat_cf":
        _input_width(layer, x, features, "features")
    if x.channels_first:  # a Dense over the channels of an image is a 1×1 convolution
        n = x.rank - 2
        state = em.port(layer, "Linear", keys)
        state["weight"] = state["weight"].reshape(*state["weight"].shape, *(1,) * n)
        module = em.module(layer, getattr(nn, f"Conv{n}d"), features, units, kernel_size=1,
                           **_bias_flag(use_bias), state=state)
    else:
        flatten_from = x.flat_from if x.layout == "flat_cf" else None
        state = em.port(layer, "Linear", keys, hints={"flatten_from": flatten_from} if flatten_from else {})
        module = em.module(layer, nn.Linear, features, units, **_bias_flag(use_bias), state=state)
    out = em.let(layer.name, module(x), x, shape=(*x.shape[:-1], units),
                 layout="keras" if x.layout == "flat_cf" else x.layout, flat_from=None)
    return [apply_activation(em, layer, out, s.raw("activation"))]


def _conv(n: int, depthwise: bool = False) -> Emit:
    def emit(op: Op, inputs: list[Value], em: Emitter) -> list[Value]:
        layer, s = op.layer, Settings(op.layer)
        _channels_last(s)
        x = em.to_layout(inputs[0], "cf")
        arrays = _arrays(em, layer, (1, 2), "a kernel and maybe a bias")
        kernel_shape = tuple(int(d) for d in arrays[0].shape)
        if len(kernel_shape) != n + 2:
            raise ConfigValueError(f"{layer.describe()}: its kernel has shape {kernel_shape}; a {n}-D convolution "
                                   f"kernel has {n + 2} axes")
        kernel, strides, dilation = _window(s, n, kernel_shape[:n])
        s.matches("kernel_size", kernel, kernel_shape[:n], "a kernel of size")
        allowed = ("valid", "same", "causal") if n == 1 and not depthwise else ("valid", "same")
        padding = s.choice("padding", allowed, "valid")
        use_bias = _use_bias(s, len(arrays) == 2)
        keys = ("weight", "bias") if use_bias else ("weight",)
        if depthwise:
            in_channels, multiplier = kernel_shape[-2], kernel_shape[-1]
            s.matches("depth_multiplier", s.integer("depth_multiplier", multiplier, minimum=1), multiplier,
                      "a depth multiplier")
            out_channels, groups = in_channels * multiplier, in_channels
            state = em.port(layer, f"Conv{n}d", keys, attributes={"groups": groups})
        else:
            groups = s.integer("groups", 1, minimum=1)
            out_channels = kernel_shape[-1]
            s.matches("filters", s.integer("filters", out_channels, minimum=1), out_channels, "filters:")
            in_channels = kernel_shape[-2] * groups
            if out_channels % groups:
                raise ConfigValueError(f"{layer.describe()}: config 'groups' is {groups}, which does not divide its "
                                       f"{out_channels} filters (Keras requires it)")
            state = em.port(layer, f"Conv{n}d", keys)
        _input_width(layer, x, in_channels, "channels")
        x, pads = _spatial_padding(em, layer, x, kernel, strides, dilation, padding)
        module = em.module(layer, getattr(nn, f"Conv{n}d"), in_channels, out_channels,
                           **_window_kwargs(kernel, strides, pads, dilation, groups, use_bias), state=state)
        return [_windowed(em, layer, module, x, pads, kernel, strides, dilation, out_channels, s)]

    return emit


def _separable(n: int) -> Emit:
    def emit(op: Op, inputs: list[Value], em: Emitter) -> list[Value]:
        layer, s = op.layer, Settings(op.layer)
        _channels_last(s)
        x = em.to_layout(inputs[0], "cf")
        arrays = _arrays(em, layer, (2, 3), "a depthwise and a pointwise kernel and maybe a bias")
        depthwise, pointwise = arrays[0], arrays[1]
        if depthwise.ndim != n + 2 or pointwise.ndim != n + 2:
            raise ConfigValueError(f"{layer.describe()}: its kernels have shapes {depthwise.shape} and {pointwise.shape}")
        kernel, strides, dilation = _window(s, n, depthwise.shape[:n])
        s.matches("kernel_size", kernel, tuple(int(d) for d in depthwise.shape[:n]), "a kernel of size")
        in_channels, multiplier, out_channels = (int(d) for d in (depthwise.shape[-2], depthwise.shape[-1],
                                                                   pointwise.shape[-1]))
        s.matches("filters", s.integer("filters", out_channels, minimum=1), out_channels, "filters:")
        if pointwise.shape[-2] != in_channels * multiplier:
            raise ConfigValueError(f"{layer.describe()}: its pointwise kernel {pointwise.shape} does not follow its "
                                   f"depthwise kernel {depthwise.shape}")
        use_bias = _use_bias(s, len(arrays) == 3)
        _input_width(layer, x, in_channels, "channels")
        state = em.port(layer, f"SeparableConv{n}d",
                        ["depthwise.weight", "pointwise.weight", *(["pointwise.bias"] if use_bias else [])],
                        attributes={"in_channels": in_channels})
        x, pads = _spatial_padding(em, layer, x, kernel, strides, dilation, s.choice("padding", ("valid", "same"),
                                                                                     "valid"))
        kwargs = _window_kwargs(kernel, strides, pads, dilation, 1, use_bias)
        if multiplier != 1:
            kwargs["depth_multiplier"] = multiplier
        module = em.module(layer, em.runtime(f"SeparableConv{n}d"), in_channels, out_channels, **kwargs, state=state)
        return [_windowed(em, layer, module, x, pads, kernel, strides, dilation, out_channels, s)]

    return emit


def _conv_transpose(n: int) -> Emit:
    def emit(op: Op, inputs: list[Value], em: Emitter) -> list[Value]:
        layer, s = op.layer, Settings(op.layer)
        _channels_last(s)
        x = em.to_layout(inputs[0], "cf")
        arrays = _arrays(em, layer, (1, 2), "a kernel and maybe a bias")
        if arrays[0].ndim != n + 2:
            raise ConfigValueError(f"{layer.describe()}: its kernel has shape {arrays[0].shape}")
        kernel, strides, dilation = _window(s, n, arrays[0].shape[:n])
        s.matches("kernel_size", kernel, tuple(int(d) for d in arrays[0].shape[:n]), "a kernel of size")
        padding = s.choice("padding", ("valid", "same"), "valid")
        extra = s.ints("output_padding", n, None, minimum=0, nullable=True) \
            if s.raw("output_padding", None, True) is not None else None
        if extra is not None and any(p >= st for p, st in zip(extra, strides, strict=True)):
            raise ConfigValueError(f"{layer.describe()}: config 'output_padding' is {shown(s.raw('output_padding'))}; "
                                   f"Keras requires each below the stride {shown(s.raw('strides', 1))}")
        out_channels, in_channels = int(arrays[0].shape[-2]), int(arrays[0].shape[-1])
        s.matches("filters", s.integer("filters", out_channels, minimum=1), out_channels, "filters:")
        use_bias = _use_bias(s, len(arrays) == 2)
        _input_width(layer, x, in_channels, "channels")
        state = em.port(layer, f"ConvTranspose{n}d", ("weight", "bias") if use_bias else ("weight",))
        kwargs = _window_kwargs(kernel, strides, (0,) * n, dilation, 1, use_bias)
        if extra is not None:
            return [_output_padded(em, layer, x, (kernel, strides, dilation, extra), padding,
                                   (in_channels, out_channels), kwargs, state)]
        module = em.module(layer, getattr(nn, f"ConvTranspose{n}d"), in_channels, out_channels, **kwargs, state=state)
        full = [None if d is None else (d - 1) * st + (k - 1) * dl + 1
                for d, k, st, dl in zip(x.shape[1:-1], kernel, strides, dilation, strict=True)]
        out = em.let(layer.name, module(x), x, shape=(x.shape[0], *full, out_channels))
        if padding == "same":  # TensorFlow crops the full output to size·stride, the odd pixel at the end
            crops = [max((k - 1) * d + 1 - st, 0) for k, st, d in zip(kernel, strides, dilation, strict=True)]
            if any(crops):
                sizes = [None if d is None else d * st for d, st in zip(x.shape[1:-1], strides, strict=True)]
                index = (slice(None), slice(None), *(slice(c // 2, c // 2 - c) if c else slice(None) for c in crops))
                out = em.let(layer.name, out.ref[index], out, shape=(x.shape[0], *sizes, out_channels))
        return [apply_activation(em, layer, out, s.raw("activation"))]

    return emit


def _output_padded(em: Emitter, layer: Layer, x: Value, window: tuple[Sequence[int], ...], padding: str,
                   channels: tuple[int, int], kwargs: dict[str, Any], state: Mapping[str, np.ndarray]) -> Value:
    """A transposed convolution with ``output_padding``, as TensorFlow's ``conv_transpose`` places it.

    Keras asks for ``wanted = (d-1)·s + k_eff - 2·pad + p`` outputs (pad = k_eff // 2 for 'same',
    0 for 'valid'); TensorFlow takes them from the full ``(d-1)·s + k_eff`` output starting at
    ``max(full - wanted, 0) // 2``, the odd one cropped at the end, and gives bias alone where
    ``wanted`` runs past the full output. PyTorch's ``padding`` crops both ends, its
    ``output_padding`` extends the end the same way.
    """
    kernel, strides, dilation, extra = window
    effective = [(k - 1) * dl + 1 for k, dl in zip(kernel, dilation, strict=True)]
    excess = [2 * (k // 2) - p if padding == "same" else -p for k, p in zip(effective, extra, strict=True)]
    if padding == "same" and any(e == 2 * (k // 2) and k % 2 == 0 for e, k in zip(excess, effective, strict=True)):
        raise ConfigValueError(f"{layer.describe()}: 'same' padding with an even kernel {tuple(kernel)} and "
                               f"output_padding 0 asks for fewer outputs than TensorFlow's conv_transpose can give; "
                               "Keras itself fails to run it")
    crop, extend = tuple(max(e, 0) // 2 for e in excess), tuple(max(-e, 0) for e in excess)
    kwargs = {**kwargs, **({"padding": _collapsed(crop)} if any(crop) else {}),
              **({"output_padding": _collapsed(extend)} if any(extend) else {})}
    module = em.module(layer, getattr(nn, f"ConvTranspose{len(kernel)}d"), *channels, **kwargs, state=state)
    sizes = [None if d is None else (d - 1) * st + k - e
             for d, k, st, e in zip(x.shape[1:-1], effective, strides, excess, strict=True)]
    out = em.let(layer.name, module(x), x, shape=(x.shape[0], *sizes, channels[1]))
    if any(e > 0 and e % 2 for e in excess):
        index = (slice(None), slice(None), *(slice(None, -1) if e > 0 and e % 2 else slice(None) for e in excess))
        out = em.let(layer.name, out.ref[index], out)
    return apply_activation(em, layer, out, Settings(layer).raw("activation"))


# --------------------------------------------------------------------------- normalization


def _batch_norm(op: Op, inputs: list[Value], em: Emitter) -> list[Value]:
    layer, x, s = op.layer, inputs[0], Settings(op.layer)
    axes = s.axes("axis", max(x.rank, 2), -1)
    if len(axes) != 1:
        raise refuse(layer, f"normalises over axes {axes}", "only one axis is converted")
    axis = axes[0]
    if axis == x.rank - 1 and x.rank >= 3:
        x = em.to_layout(x, "cf")
    elif x.torch_axis(axis) != 1:
        x = em.to_layout(x, "keras")
    arrays = _arrays(em, layer, (2, 3, 4), "moving statistics and maybe gamma and beta")
    width = int(arrays[-1].shape[0])
    if any(a.shape != (width,) for a in arrays):
        raise ConfigValueError(f"{layer.describe()}: its arrays have shapes {[a.shape for a in arrays]}, not one width")
    if x.shape[axis] is not None and x.shape[axis] != width:
        raise ConfigValueError(f"{layer.describe()}: its input has {x.shape[axis]} channels on axis {axis}, its "
                               f"statistics {width}; the file is inconsistent")
    scale, center = s.flag("scale", True), s.flag("center", True)
    if len(arrays) != 2 + scale + center:
        raise ConfigValueError(f"{layer.describe()}: config scale={scale}, center={center} but its weights hold "
                               f"{len(arrays)} arrays")
    affine = len(arrays) > 2
    keys = (["weight", "bias"] if affine else []) + ["running_mean", "running_var"]
    state = em.port(layer, "BatchNorm2d", keys, attributes={"affine": affine})
    epsilon = s.number("epsilon", 1e-3, minimum=0.0)
    momentum = s.number("momentum", 0.99, minimum=0.0, maximum=1.0)
    kwargs: dict[str, Any] = {"eps": epsilon, "momentum": round(1.0 - momentum, 12)}  # momentum: training only
    if not affine:
        kwargs["affine"] = False
    channel_axis = x.torch_axis(axis)
    rank = x.rank if channel_axis == 1 else min(x.rank, 5)
    module = em.module(layer, getattr(nn, f"BatchNorm{max(rank - 2, 1)}d"), width, **kwargs, state=state)
    if channel_axis == 1:
        return [em.let(layer.name, module(x), x)]
    # PyTorch's BatchNorm normalises axis 1: the layer's axis is moved there and back
    moved = module(x.ref.m("movedim", channel_axis, 1)).m("movedim", 1, channel_axis)
    return [em.let(layer.name, moved, x)]


def _layer_norm(op: Op, inputs: list[Value], em: Emitter) -> list[Value]:
    layer, x, s = op.layer, inputs[0], Settings(op.layer)
    axes = s.axes("axis", x.rank, -1)
    rms = s.flag("rms_scaling", False)
    scale, center = s.flag("scale", True), s.flag("center", True)
    eps = s.number("epsilon", 1e-3, minimum=0.0)
    if rms:  # Keras builds gamma (whatever 'scale' says) and no beta
        gamma = _arrays(em, layer, (1,), "gamma alone when rms_scaling is set")[0]
        return [_rms_scaled(em, layer, x, axes, eps, gamma)]
    keys = (["weight"] if scale else []) + (["bias"] if center else [])
    arrays = _arrays(em, layer, (len(keys),), f"{len(keys)} arrays (scale={scale}, center={center})")
    if axes == [x.rank - 1] and x.channels_first:
        width = int(arrays[0].shape[0]) if arrays else int(x.shape[-1] or 0)
        state = em.port(layer, "LayerNorm", keys) if keys else {}
        module = em.module(layer, em.runtime("ChannelLayerNorm"), width, eps=eps, affine=scale, bias=center,
                           state=state)
        return [em.let(layer.name, module(x), x)]
    x = em.to_layout(x, "keras")
    known = _known_sizes(layer, x, axes)
    if any(a.size != math.prod(known) for a in arrays):
        raise ConfigValueError(f"{layer.describe()}: its arrays have shapes {[a.shape for a in arrays]}, its axes "
                               f"{known}")
    state = {k: v.reshape(known) for k, v in em.port(layer, "LayerNorm", keys).items()} if keys else {}
    kwargs: dict[str, Any] = {"eps": eps}
    if not (scale or center):
        kwargs["elementwise_affine"] = False
    elif not center:
        kwargs["bias"] = False
    if not scale and center:  # nn.LayerNorm has no bias without a weight: a unit weight, as Keras computes
        state["weight"] = np.ones(known, arrays[0].dtype)
    module = em.module(layer, nn.LayerNorm, known, **kwargs, state=state)
    trailing = list(range(x.rank - len(axes), x.rank))
    if axes == trailing:
        return [em.let(layer.name, module(x), x)]
    # nn.LayerNorm normalises trailing axes: the layer's axes are moved there (in order, as Keras lays out γ) and back
    moved = module(x.ref.m("movedim", tuple(axes), tuple(trailing))).m("movedim", tuple(trailing), tuple(axes))
    return [em.let(layer.name, moved, x)]


def _known_sizes(layer: Layer, x: Value, axes: Sequence[int]) -> tuple[int, ...]:
    shape = tuple(x.shape[a] for a in axes)
    if any(d is None for d in shape):
        raise refuse(layer, f"normalises axes of unknown size {shape}", "give the Keras Input a fixed shape")
    return tuple(int(d) for d in shape if d is not None)


def _rms_scaled(em: Emitter, layer: Layer, x: Value, axes: Sequence[int], eps: float, gamma: np.ndarray) -> Value:
    """Keras's ``rms_scaling``, which divides by the centred variance and ignores β (see VarianceScaledNorm)."""
    x = em.to_layout(x, "keras")
    known = _known_sizes(layer, x, axes)
    shape = tuple(int(x.shape[a] or 1) if a in axes else 1 for a in range(1, x.rank))
    if gamma.size != math.prod(known):
        raise ConfigValueError(f"{layer.describe()}: its gamma has shape {gamma.shape}, its axes {known}")
    module = em.module(layer, em.runtime("VarianceScaledNorm"), shape, tuple(axes), eps=eps,
                       state={"weight": np.asarray(gamma).reshape(shape)})
    return em.let(layer.name, module(x), x)


def _group_norm(op: Op, inputs: list[Value], em: Emitter) -> list[Value]:
    layer, s, x = op.layer, Settings(op.layer), inputs[0]
    axis = s.axis("axis", x.rank, -1)
    if axis == x.rank - 1 and x.rank >= 3:
        x = em.to_layout(x, "cf")
    elif x.torch_axis(axis) != 1:
        x = em.to_layout(x, "keras")
    scale, center = s.flag("scale", True), s.flag("center", True)
    names = (["weight"] if scale else []) + (["bias"] if center else [])
    arrays = _arrays(em, layer, (len(names),), f"{len(names)} arrays (scale={scale}, center={center})")
    known = x.shape[axis]
    if known is None:
        raise refuse(layer, "normalises channels of unknown number")
    channels = int(known)
    groups = s.integer("groups", 32, minimum=1)
    if groups > channels or channels % groups:
        raise ConfigValueError(f"{layer.describe()}: config 'groups' is {groups}, which does not divide its "
                               f"{channels} channels (Keras requires it)")
    if any(a.shape != (channels,) for a in arrays):
        raise ConfigValueError(f"{layer.describe()}: its arrays have shapes {[a.shape for a in arrays]} for "
                               f"{channels} channels")
    state = dict(zip(names, arrays, strict=True))
    affine = bool(names)
    dtype = arrays[0].dtype if arrays else np.float32
    if affine:
        state.setdefault("weight", np.ones(channels, dtype))
        state.setdefault("bias", np.zeros(channels, dtype))
    eps = s.number("epsilon", 1e-3, minimum=0.0)
    flags: dict[str, Any] = {} if affine else {"affine": False}
    module = em.module(layer, nn.GroupNorm, groups, channels, eps=eps, **flags, state=state)
    channel_axis = x.torch_axis(axis)
    if channel_axis == 1:
        return [em.let(layer.name, module(x), x)]
    return [em.let(layer.name, module(x.ref.m("movedim", channel_axis, 1)).m("movedim", 1, channel_axis), x)]


def _normalization(op: Op, inputs: list[Value], em: Emitter) -> list[Value]:
    layer, x, s = op.layer, inputs[0], Settings(op.layer)
    invert = s.flag("invert", False)
    raw_axis = s.raw("axis", -1)
    kept = [] if raw_axis is None or raw_axis == [] else s.axes("axis", x.rank, -1)
    arrays = em.arrays(layer)
    if arrays:
        if len(arrays) < 2:
            raise ConfigValueError(f"{layer.describe()}: its weights hold {len(arrays)} arrays, not mean and variance")
        mean, variance = (np.asarray(a, np.float64) for a in arrays[:2])
    elif em.keras_major < 3:  # tf.keras builds config constants from NumPy float64: held exactly
        mean, variance = (np.asarray(s.numbers(key), np.float64) for key in ("mean", "variance"))
    else:  # Keras 3 makes float32 tensors of them first (see as_keras_holds)
        mean, variance = (_constant(s, key, None, any_rank=True) for key in ("mean", "variance"))
    if not (np.all(np.isfinite(mean)) and np.all(np.isfinite(variance)) and np.all(variance >= 0)):
        raise ConfigValueError(f"{layer.describe()}: its mean and variance must be finite, the variance ≥ 0")
    if kept != [x.rank - 1]:
        x = em.to_layout(x, "keras")
    sizes = [x.shape[a] for a in kept]
    if None in sizes:
        raise refuse(layer, f"normalises axes {kept} of unknown size {sizes}", "give the Keras Input a fixed shape")
    count = math.prod(int(d or 1) for d in sizes)
    if mean.size not in (1, count) or variance.size not in (1, count):
        raise ConfigValueError(f"{layer.describe()}: {mean.size} means and {variance.size} variances for axes "
                               f"{kept} of sizes {sizes}")
    keras_shape = [int(x.shape[a] or 1) if a in kept else 1 for a in range(x.rank)]
    torch_shape = [1] * x.rank
    for a in range(x.rank):
        torch_shape[x.torch_axis(a)] = keras_shape[a]
    permutation = list(x.permutation)

    def laid_out(values: np.ndarray) -> np.ndarray:
        full = np.broadcast_to(values.reshape(keras_shape) if values.size == count else values.reshape(()),
                               keras_shape)
        return np.ascontiguousarray(full.transpose(permutation).reshape(torch_shape))

    std = np.maximum(np.sqrt(variance), 1e-7)
    module = em.module(layer, em.runtime("Denormalize" if invert else "Normalize"), tuple(torch_shape),
                       state={"mean": laid_out(mean), "std": laid_out(std)})
    return [em.let(layer.name, module(x), x)]


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


def _constant(s: Settings, key: str, default: Any, any_rank: bool = False) -> np.ndarray:
    array = np.asarray(s.numbers(key, default), dtype=np.float64)
    if array.ndim > 1 and not any_rank:
        raise refuse(s.layer, f"has a constant '{key}' of shape {array.shape}",
                     "only scalars and per-channel vectors are converted")
    if np.any(np.abs(array) > np.finfo(np.float32).max):
        raise ConfigValueError(f"{s.layer.describe()}: config '{key}' is {shown(s.raw(key))}; Keras holds it in "
                               "float32, where it overflows")
    return array.astype(np.float32).astype(np.float64)


def _rescaling(op: Op, inputs: list[Value], em: Emitter) -> list[Value]:
    layer, x, s = op.layer, inputs[0], Settings(op.layer)
    scale, offset = _constant(s, "scale", 1.0), _constant(s, "offset", 0.0)
    if scale.ndim == 0 and offset.ndim == 0:
        expr = x.ref * float(scale)
        return [em.let(layer.name, expr + float(offset) if float(offset) else expr, x)]
    width = max(scale.size, offset.size)
    if {scale.size, offset.size} - {1, width} or (x.shape[-1] is not None and width != x.shape[-1]):
        raise ConfigValueError(f"{layer.describe()}: its scale and offset have {scale.size} and {offset.size} values "
                               f"for {x.shape[-1]} channels")
    shape = [1] * x.rank
    shape[x.torch_axis(-1)] = width
    state = {k: np.broadcast_to(a.reshape(-1), (width,)).reshape(shape) for k, a in (("scale", scale),
                                                                                    ("offset", offset))}
    module = em.module(layer, em.runtime("Rescale"), tuple(shape), state=state)
    return [em.let(layer.name, module(x), x)]


def _embedding(op: Op, inputs: list[Value], em: Emitter) -> list[Value]:
    layer, s = op.layer, Settings(op.layer)
    x = em.to_layout(inputs[0], "keras")
    s.flag("mask_zero", False)  # the mask is Keras 3's own NotEqual node, or computed by _embedding_mask
    arrays = _arrays(em, layer, (1,), "one embedding matrix")
    if arrays[0].ndim != 2:
        raise ConfigValueError(f"{layer.describe()}: its embeddings have shape {arrays[0].shape}, not 2-D")
    vocab, dim = (int(d) for d in arrays[0].shape)
    s.matches("input_dim", s.integer("input_dim", vocab, minimum=1, maximum=2**31), vocab, "a vocabulary of")
    s.matches("output_dim", s.integer("output_dim", dim, minimum=1), dim, "vectors of width")
    module = em.module(layer, nn.Embedding, vocab, dim, state=em.port(layer, "Embedding", ("weight",)))
    return [em.let(layer.name, module(x.ref.m("long")), x, shape=(*x.shape, dim), integer=False)]


def _reversible_embedding(op: Op, inputs: list[Value], em: Emitter) -> list[Value]:
    """Keras's ReversibleEmbedding: an Embedding, and called with ``reverse=True`` the logits ``x @ Eᵀ`` (the
    tied embeddings, or its own reverse matrix), soft-capped as ``tanh(l / cap) · cap`` when configured."""
    layer, s = op.layer, Settings(op.layer)
    tied = s.flag("tie_weights", True)
    arrays = _arrays(em, layer, (1,) if tied else (2,), "the embeddings" + ("" if tied else " and their reverse"))
    if arrays[0].ndim != 2 or (not tied and arrays[1].shape != arrays[0].shape[::-1]):
        raise ConfigValueError(f"{layer.describe()}: its arrays have shapes {[a.shape for a in arrays]}")
    vocab, dim = (int(d) for d in arrays[0].shape)
    if s.raw("reverse_dtype") not in (None, "float32", "float64"):
        raise refuse(layer, f"computes its logits in {shown(s.raw('reverse_dtype'))}", "not converted")
    cap = s.optional_number("logit_soft_cap", minimum=0.0)
    embedding = em.module(layer, nn.Embedding, vocab, dim, state={"weight": arrays[0]})
    x = em.to_layout(inputs[0], "keras")
    if op.kwargs.get("reverse") is not True:
        return [em.let(layer.name, embedding(x.ref.m("long")), x, shape=(*x.shape, dim), integer=False)]
    if tied:
        logits: Expr = F.linear(x.ref, Attr(embedding, "weight"))
    else:
        reverse = em.module(layer, nn.Linear, dim, vocab, bias=False, suffix="reverse",
                            state={"weight": np.ascontiguousarray(arrays[1].T)})
        logits = reverse(x)
    if cap:
        logits = torch.tanh(logits / cap) * cap
    return [em.let(layer.name + "_logits", logits, x, shape=(*x.shape[:-1], vocab))]


def _reversible_embedding_mask(op: Op, masks: list[Value | None], outputs: list[Value],
                               em: Emitter) -> list[Value | None]:
    return [None] if op.kwargs.get("reverse") is True else _embedding_mask(op, masks, outputs, em)


# --------------------------------------------------------------------------- activations as layers


def _activation(op: Op, inputs: list[Value], em: Emitter) -> list[Value]:
    return [apply_activation(em, op.layer, inputs[0], Settings(op.layer).raw("activation", "linear"), fused=False)]


def _relu(op: Op, inputs: list[Value], em: Emitter) -> list[Value]:
    layer, x, s = op.layer, inputs[0], Settings(op.layer)
    max_value = s.optional_number("max_value", minimum=0.0)
    slope = s.number("negative_slope", 0.0, minimum=0.0)
    threshold = s.number("threshold", 0.0, minimum=0.0)
    if slope == 0.0 and threshold == 0.0:
        if max_value is None:
            return [em.let(layer.name, F.relu(x), x)]
        if max_value == 6.0:
            return [em.let(layer.name, F.relu6(x), x)]
        return [em.let(layer.name, torch.clamp(x, 0.0, max_value), x)]
    expr = torch.where(compare(">=", x, threshold), x, slope * (x.ref - threshold))
    out = em.let(layer.name, expr, x)
    if max_value is not None:
        out = em.let(layer.name, torch.clamp(out, max=max_value), out, rebind=True)
    return [out]


def _leaky_relu(op: Op, inputs: list[Value], em: Emitter) -> list[Value]:
    s = Settings(op.layer)
    key = "negative_slope" if s.has("negative_slope") else "alpha"
    slope = as_keras_holds(s.number(key, 0.3, minimum=0.0))
    return [em.let(op.layer.name, F.leaky_relu(inputs[0], slope), inputs[0])]


def _elu(op: Op, inputs: list[Value], em: Emitter) -> list[Value]:
    alpha = Settings(op.layer).number("alpha", 1.0)
    return [em.let(op.layer.name, F.elu(inputs[0], alpha) if alpha != 1.0 else F.elu(inputs[0]), inputs[0])]


def _softmax(op: Op, inputs: list[Value], em: Emitter) -> list[Value]:
    """Keras's Softmax; with a mask, masked positions enter as -1e9 and leave as 0 (Keras's own rule)."""
    x, s, mask = inputs[0], Settings(op.layer), em.mask()
    axes = s.axes("axis", x.rank, -1)
    if len(axes) != 1:
        raise refuse(op.layer, f"takes a softmax over axes {axes}", "only one axis is converted")
    if mask is None:
        return [em.let(op.layer.name, F.softmax(x, dim=x.torch_axis(axes[0])), x)]
    x = em.to_layout(x, "keras")
    keep = _boolean(em, op.layer, mask, x)
    masked = em.let(op.layer.name + "_masked", torch.where(keep, x, -1e9), x)
    out = em.let(op.layer.name, F.softmax(masked, dim=axes[0]), x)
    return [em.let(op.layer.name, torch.where(keep, out, 0.0), out, rebind=True)]


def _boolean(em: Emitter, layer: Layer, mask: Value, like: Value) -> Expr:
    """A mask as Keras applies it: True where it counts (a float mask: where > 0.5), broadcastable to ``like``."""
    if mask.rank > like.rank or any(m is not None and d is not None and m not in (1, d) for m, d in zip(
            mask.shape[::-1], like.shape[::-1], strict=False)):
        raise ConfigValueError(f"{layer.describe()}: its mask of shape {mask.shape} does not broadcast to its input "
                               f"{like.shape} (Keras refuses it too)")
    mask = em.to_layout(mask, "keras")
    return mask.ref if mask.integer else compare(">", mask, 0.5)


def _thresholded_relu(op: Op, inputs: list[Value], em: Emitter) -> list[Value]:
    theta, x = Settings(op.layer).number("theta", 1.0, minimum=0.0), inputs[0]
    return [em.let(op.layer.name, x.ref * compare(">", x, theta), x)]


def _prelu(op: Op, inputs: list[Value], em: Emitter) -> list[Value]:
    layer, x = op.layer, inputs[0]
    alpha = _arrays(em, layer, (1,), "one alpha array")[0]
    if alpha.ndim != x.rank - 1 or any(a not in (1, d) for a, d in zip(alpha.shape, x.shape[1:], strict=True)
                                       if d is not None):
        raise ConfigValueError(f"{layer.describe()}: its alpha has shape {alpha.shape}, its input {x.shape}")
    full = np.moveaxis(alpha, -1, 0) if x.channels_first else alpha
    module = em.module(layer, em.runtime("PReLU"), tuple(int(d) for d in full.shape), state={"alpha": full})
    return [em.let(layer.name, module(x), x)]


def _identity(op: Op, inputs: list[Value], em: Emitter) -> list[Value]:
    s = Settings(op.layer)
    if s.has("rate"):
        s.number("rate", 0.0, minimum=0.0, maximum=1.0)
    em.layer_map.setdefault(op.layer.name, [])
    return [inputs[0]]


def _dropout(op: Op, inputs: list[Value], em: Emitter) -> list[Value]:
    """``nn.Dropout`` (``AlphaDropout``; ``Dropout1d``/``2d``/``3d`` for Keras's spatial dropout, which zeroes whole
    channels): identity in ``eval()``, and in ``train()`` the same distribution as Keras's ``training=True``. A
    ``noise_shape`` (dropout shared along axes) has no torch module: identity, as at inference."""
    x, s = inputs[0], Settings(op.layer)
    rate = s.number("rate", 0.0, minimum=0.0, maximum=1.0)
    spatial = op.layer.class_name.startswith("SpatialDropout")
    if op.layer.config.get("noise_shape") is not None or (spatial and not x.channels_first and
                                                         op.layer.config.get("data_format") != "channels_first"):
        return _identity(op, inputs, em)
    kind = f"Dropout{x.rank - 2}d" if spatial else op.layer.class_name
    return [em.let(op.layer.name, em.module(op.layer, getattr(nn, kind), rate)(x.ref), x)]


# --------------------------------------------------------------------------- reshaping


def _channels_alone(x: Value) -> bool:
    """A channels-first ``(N, C, 1, …, 1)``: its memory is the same in Keras's layout, so it flattens as it is."""
    return x.channels_first and all(d == 1 for d in x.shape[1:-1])


def _flatten(op: Op, inputs: list[Value], em: Emitter) -> list[Value]:
    x, s = inputs[0], Settings(op.layer)
    first = s.choice("data_format", _DATA_FORMATS, "channels_last", nullable=True) == "channels_first" and x.rank > 2
    size = math.prod(d for d in x.shape[1:] if d is not None) if None not in x.shape[1:] else None
    if first:  # Keras moves axis 1 last before flattening
        x = em.to_layout(x, "keras")
        return [em.let(op.layer.name, x.ref.m("movedim", 1, -1).m("flatten", 1), x, shape=(x.shape[0], size))]
    if _channels_alone(x):
        return [em.let(op.layer.name, x.ref.m("flatten", 1), x, shape=(x.shape[0], size), layout="keras")]
    if x.channels_first:
        if size is None:
            raise refuse(op.layer, f"flattens a tensor of unknown shape {x.shape}")
        flat_from = (int(x.shape[-1]), *(int(d) for d in x.shape[1:-1]))  # type: ignore[arg-type]
        return [em.let(op.layer.name, x.ref.m("flatten", 1), x, shape=(x.shape[0], size), layout="flat_cf",
                       flat_from=flat_from)]
    x = em.to_layout(x, "keras")
    return [em.let(op.layer.name, x.ref.m("flatten", 1), x, shape=(x.shape[0], size))]


def _reshape(op: Op, inputs: list[Value], em: Emitter) -> list[Value]:
    x, s = inputs[0], Settings(op.layer)
    target = s.shape("target_shape")
    known = math.prod(d for d in x.shape[1:] if d is not None) if None not in x.shape[1:] else None
    rest = math.prod(t for t in target if t != -1)
    if known is not None:
        if (-1 in target and known % rest) or (-1 not in target and known != rest):
            raise ConfigValueError(f"{op.layer.describe()}: config 'target_shape' is {shown(list(target))}, which cannot "
                                   f"hold its input of shape {x.shape[1:]} (Keras refuses it too)")
        target = tuple(known // rest if t == -1 else t for t in target)
    if len(target) >= 2 and all(t == 1 for t in target[:-1]) and x.rank == 2 and x.layout != "flat_cf":
        # (N, C) → (N, 1, …, 1, C): channels-first is the same memory, no transpose needed; indexed with None
        # (x[:, :, None, None]) so no channel count is written, and blocks of different widths read alike
        return [em.let(op.layer.name, x.ref[(slice(None), slice(None), *[None] * (len(target) - 1))], x,
                       shape=(x.shape[0], *target), layout="cf")]
    if len(target) == 1 and x.rank > 2 and _channels_alone(x):  # (N, C, 1, 1) → (N, C), as in Flatten
        return [em.let(op.layer.name, x.ref.m("flatten", 1), x, shape=(x.shape[0], *target), layout="keras")]
    x = em.to_layout(x, "keras")
    return [em.let(op.layer.name, x.ref.m("reshape", -1, *target), x,
                   shape=(x.shape[0], *(None if t == -1 else t for t in target)))]


def _permute(op: Op, inputs: list[Value], em: Emitter) -> list[Value]:
    x, s = em.to_layout(inputs[0], "keras"), Settings(op.layer)
    dims = s.raw("dims")
    if not isinstance(dims, list | tuple) or sorted(dims) != list(range(1, x.rank)) or \
            not all(isinstance(d, int) and not isinstance(d, bool) for d in dims):
        raise s.error("dims", dims, f"a permutation of 1..{x.rank - 1}")
    shape = (x.shape[0], *(x.shape[d] for d in dims))
    return [em.let(op.layer.name, x.ref.m("permute", 0, *dims), x, shape=shape)]


def _repeat_vector(op: Op, inputs: list[Value], em: Emitter) -> list[Value]:
    x = em.to_layout(inputs[0], "keras")
    n = Settings(op.layer).integer("n", None, minimum=1)
    if x.rank != 2:
        raise refuse(op.layer, f"repeats a tensor of rank {x.rank}", "Keras's RepeatVector takes (batch, features)")
    return [em.let(op.layer.name, x.ref.m("unsqueeze", 1).m("expand", -1, n, -1), x, shape=(x.shape[0], n, x.shape[1]))]


def _zero_padding(n: int) -> Emit:
    def emit(op: Op, inputs: list[Value], em: Emitter) -> list[Value]:
        s = Settings(op.layer)
        _channels_last(s)
        x = em.to_layout(inputs[0], "cf")
        pads = s.pairs("padding", n, 1)
        return [em.let(op.layer.name, F.pad(x, _pad_arg(pads)), x, shape=_edged_shape(x, pads, 1))]

    return emit


def _cropping(n: int) -> Emit:
    def emit(op: Op, inputs: list[Value], em: Emitter) -> list[Value]:
        s = Settings(op.layer)
        _channels_last(s)
        x = em.to_layout(inputs[0], "cf")
        crops = s.pairs("cropping", n, 1)
        for size, (a, b) in zip(x.shape[1:-1], crops, strict=True):
            if size is not None and a + b >= size:
                raise ConfigValueError(f"{op.layer.describe()}: config 'cropping' is {shown(s.raw('cropping'))}, which "
                                       f"leaves nothing of an axis of size {size} (Keras refuses it too)")
        index = (slice(None), slice(None), *(slice(a, -b if b else None) for a, b in crops))
        return [em.let(op.layer.name, x.ref[index], x, shape=_edged_shape(x, crops, -1))]

    return emit


def _upsampling(n: int) -> Emit:
    def emit(op: Op, inputs: list[Value], em: Emitter) -> list[Value]:
        s = Settings(op.layer)
        _channels_last(s)
        x = em.to_layout(inputs[0], "cf")
        size = s.ints("size", n, 2, maximum=4096)
        mode = s.choice("interpolation", ("nearest", "bilinear", "bicubic", "lanczos3", "lanczos5", "area"), "nearest")
        shape = (x.shape[0], *(None if d is None else d * f for d, f in zip(x.shape[1:-1], size, strict=True)),
                 x.shape[-1])
        factors = tuple(float(v) for v in size)
        if mode == "nearest":
            expr = F.interpolate(x, scale_factor=factors, mode="nearest")
        elif n == 2 and None not in x.shape[1:3]:
            # tf.image.resize: TensorFlow's kernel, float32 arithmetic whatever the dtype, bit for bit
            out_size = tuple(int(d or 0) * f for d, f in zip(x.shape[1:3], size, strict=True))
            if mode.startswith("lanczos"):
                expr = em.runtime("scale_and_translate")(x, out_size, mode, False)
            else:
                expr = em.runtime(f"resize_{mode}")(x, out_size)
        else:
            raise refuse(op.layer, f"uses interpolation {mode!r} on an input of shape {x.shape}",
                         "only nearest is converted for an unknown spatial size; give the Keras Input a fixed shape")
        return [em.let(op.layer.name, expr, x, shape=shape)]

    return emit


# --------------------------------------------------------------------------- pooling


def _pool(n: int, kind: str) -> Emit:
    def emit(op: Op, inputs: list[Value], em: Emitter) -> list[Value]:
        layer, s = op.layer, Settings(op.layer)
        _channels_last(s)
        x = em.to_layout(inputs[0], "cf")
        kernel = s.ints("pool_size", n, 2)
        strides = s.ints("strides", n, kernel, nullable=True)  # Keras: strides=None means the pool size
        padding = s.choice("padding", ("valid", "same"), "valid")
        out_spatial = tuple(window_output(d, k, st, 1, padding)
                            for d, k, st in zip(x.shape[1:-1], kernel, strides, strict=True))
        if any(d is not None and d < 1 for d in out_spatial):
            raise ConfigValueError(f"{layer.describe()}: a {_collapsed(kernel)} pool over input {x.shape[1:-1]} leaves "
                                   "no output; the file's model cannot run (Keras refuses it too)")
        shape = (x.shape[0], *out_spatial, x.shape[-1])
        stride_kw: dict[str, Any] = {"stride": _collapsed(strides)} if strides != kernel else {}
        if padding == "same" and kind == "avg":
            amounts = [None if d is None else same_padding(d, k, st) for d, k, st in zip(x.shape[1:-1], kernel,
                                                                                           strides, strict=True)]
            if any(a is None for a in amounts):
                raise refuse(layer, "pools with 'same' padding over an input of unknown size",
                             "give the Keras Input a fixed spatial shape")
            known = [a for a in amounts if a is not None]
            if any(a != (0, 0) for a in known):
                expr = em.runtime("avg_pool_same")(x, _pad_arg(known), kernel, strides)
                return [em.let(layer.name, expr, x, shape=shape)]
            padding = "valid"
        x, pads = _spatial_padding(em, layer, x, kernel, strides, (1,) * n, padding, fill=-math.inf)
        pad_kw: dict[str, Any] = {"padding": _collapsed(pads)} if set(pads) != {0} else {}
        cls = getattr(nn, f"{'MaxPool' if kind == 'max' else 'AvgPool'}{n}d")
        module = em.module(layer, cls, _collapsed(kernel), **stride_kw, **pad_kw)
        return [em.let(layer.name, module(x), x, shape=shape)]

    return emit


def _adaptive_pool(n: int, kind: str) -> Emit:
    """Keras's adaptive pooling: its windows (from ⌊i·L/out⌋ to ⌈(i+1)·L/out⌉, pooled in two sizes and
    gathered) are PyTorch's adaptive pooling windows, checked equal for every L ≤ 24 and out ≤ L + 2."""
    def emit(op: Op, inputs: list[Value], em: Emitter) -> list[Value]:
        s = Settings(op.layer)
        _channels_last(s)
        x = em.to_layout(inputs[0], "cf")
        if x.rank != n + 2:
            raise refuse(op.layer, f"pools a tensor of rank {x.rank}", f"a {op.layer.class_name} takes rank {n + 2}")
        size = s.ints("output_size", n, None)
        if any(d is None for d in x.shape[1:-1]):
            raise refuse(op.layer, "pools axes of unknown size", "Keras needs them known too; give the Input a shape")
        module = em.module(op.layer, getattr(nn, f"Adaptive{'Avg' if kind == 'avg' else 'Max'}Pool{n}d"),
                           _collapsed(size))
        return [em.let(op.layer.name, module(x), x, shape=(x.shape[0], *size, x.shape[-1]))]

    return emit


def _global_pool(n: int, kind: str) -> Emit:
    def emit(op: Op, inputs: list[Value], em: Emitter) -> list[Value]:
        s = Settings(op.layer)
        _channels_last(s)
        x = inputs[0]
        if x.rank != n + 2:
            raise refuse(op.layer, f"pools a tensor of rank {x.rank}", f"a {op.layer.class_name} takes rank {n + 2}")
        keepdims = s.flag("keepdims", False)
        mask = em.mask()
        if mask is not None:  # GlobalAveragePooling1D: the mean of the steps that count
            x = em.to_layout(x, "keras")
            keep = em.let(op.layer.name + "_keep", _boolean(em, op.layer, mask, x.with_(shape=x.shape[:2])).m(
                "unsqueeze", -1), x)
            total = torch.where(keep, x, 0.0).m("sum", dim=1, keepdim=keepdims)
            expr = total / keep.ref.m("type_as", x).m("sum", dim=1, keepdim=keepdims)
            pooled: tuple[int | None, ...] = (x.shape[0], 1, x.shape[-1]) if keepdims else (x.shape[0], x.shape[-1])
            return [em.let(op.layer.name, expr, x, shape=pooled)]
        if x.rank >= 3 and not x.channels_first and keepdims:
            x = em.to_layout(x, "cf")
        dims = tuple(range(2, x.rank)) if x.channels_first else tuple(range(1, x.rank - 1))
        reduce = "mean" if kind == "avg" else "amax"
        expr = x.ref.m(reduce, dim=dims if len(dims) > 1 else dims[0], **({"keepdim": True} if keepdims else {}))
        shape = (x.shape[0], *([1] * (x.rank - 2) if keepdims else []), x.shape[-1])
        return [em.let(op.layer.name, expr, x, shape=shape, layout="cf" if keepdims else "keras")]

    return emit


# --------------------------------------------------------------------------- merges


def broadcast_shape(layer: Layer, shapes: Sequence[tuple[int | None, ...]]) -> tuple[int | None, ...]:
    rank = max(len(s) for s in shapes)
    padded = [(1,) * (rank - len(s)) + tuple(s) for s in shapes]
    out: list[int | None] = []
    for dims in zip(*padded, strict=True):
        known = {d for d in dims if d not in (None, 1)}
        if len(known) > 1:
            raise ConfigValueError(f"{layer.describe()}: merges tensors of shapes {list(shapes)}, which do not "
                                   "broadcast (Keras refuses them too)")
        out.append(known.pop() if known else (None if None in dims else 1))
    return tuple(out)


def _merge(kind: str) -> Emit:
    def emit(op: Op, inputs: list[Value], em: Emitter) -> list[Value]:
        if len(inputs) < (2 if kind == "subtract" else 1):
            raise refuse(op.layer, f"merges {len(inputs)} tensors")
        values = em.align(inputs)
        shape = broadcast_shape(op.layer, [v.shape for v in values])
        refs: list[Expr] = [v.ref for v in values]
        if kind == "add":
            expr = _chain(refs, lambda a, b: a + b)
        elif kind == "subtract":
            if len(refs) != 2:
                raise refuse(op.layer, f"subtracts {len(refs)} tensors", "Keras's Subtract takes exactly two")
            expr = refs[0] - refs[1]
        elif kind == "multiply":
            expr = _chain(refs, lambda a, b: a * b)
        elif kind == "average":
            expr = _chain(refs, lambda a, b: a + b) / len(refs)
        else:
            fn = torch.maximum if kind == "maximum" else torch.minimum
            expr = _chain(refs, fn)
        like = max(values, key=lambda v: v.rank)
        return [em.let(op.layer.name, expr, like, shape=shape)]

    return emit


def _chain(refs: Sequence[Expr], combine: Any) -> Expr:
    expr = refs[0]
    for ref in refs[1:]:
        expr = combine(expr, ref)
    return expr


def _concatenate(op: Op, inputs: list[Value], em: Emitter) -> list[Value]:
    values = em.align(inputs)
    rank = values[0].rank
    if any(v.rank != rank for v in values):
        raise ConfigValueError(f"{op.layer.describe()}: concatenates tensors of ranks {[v.rank for v in values]}")
    axis = Settings(op.layer).axis("axis", rank, -1)
    sizes = [v.shape[axis] for v in values]
    shape = list(values[0].shape)
    shape[axis] = None if None in sizes else sum(d for d in sizes if d is not None)
    return [em.let(op.layer.name, torch.cat([v.ref for v in values], dim=values[0].torch_axis(axis)), values[0],
                   shape=tuple(shape))]


def _dot(op: Op, inputs: list[Value], em: Emitter) -> list[Value]:
    if len(inputs) != 2:
        raise refuse(op.layer, f"takes {len(inputs)} tensors", "Keras's Dot takes two")
    s = Settings(op.layer)
    a, b = (em.to_layout(v, "keras") for v in inputs)
    raw = s.raw("axes", -1)
    pair = [raw, raw] if isinstance(raw, int) and not isinstance(raw, bool) else raw
    if not isinstance(pair, list | tuple) or len(pair) != 2 or not all(
            isinstance(v, int) and not isinstance(v, bool) and -r <= v < r for v, r in zip(pair, (a.rank, b.rank),
                                                                                           strict=True)):
        raise s.error("axes", raw, "an axis or a pair of axes of its inputs")
    ax, bx = pair[0] % a.rank, pair[1] % b.rank
    if s.flag("normalize", False):
        a = em.let(op.layer.name + "_a", F.normalize(a, dim=ax), a)
        b = em.let(op.layer.name + "_b", F.normalize(b, dim=bx), b)
    if a.rank == 2 and b.rank == 2:
        return [em.let(op.layer.name, (a.ref * b.ref).m("sum", dim=1, keepdim=True), a, shape=(a.shape[0], 1))]
    if a.rank == 3 and b.rank == 3:
        left = a.ref if ax == 2 else a.ref.m("transpose", 1, 2)
        right = b.ref if bx == 1 else b.ref.m("transpose", 1, 2)
        shape = (a.shape[0], a.shape[3 - ax], b.shape[3 - bx])
        return [em.let(op.layer.name, torch.bmm(left, right), a, shape=shape)]
    raise refuse(op.layer, f"takes a Dot of ranks {a.rank} and {b.rank}", "only ranks 2 and 3 are converted")


# --------------------------------------------------------------------------- keras.applications helpers


def _custom_scale(op: Op, inputs: list[Value], em: Emitter) -> list[Value]:
    x, residual = em.align(inputs)
    scale = Settings(op.layer).number("scale")
    return [em.let(op.layer.name, x.ref + residual.ref * scale, x)]


def _layer_scale(op: Op, inputs: list[Value], em: Emitter) -> list[Value]:
    x = inputs[0]
    gamma = _arrays(em, op.layer, (1,), "one gamma array")[0]
    if gamma.ndim != 1 or (x.shape[-1] is not None and gamma.shape[0] != x.shape[-1]):
        raise ConfigValueError(f"{op.layer.describe()}: its gamma has shape {gamma.shape}, its input {x.shape}")
    shape = [1] * x.rank
    shape[x.torch_axis(-1)] = int(gamma.shape[-1])
    module = em.module(op.layer, em.runtime("LayerScale"), tuple(shape), state={"gamma": gamma.reshape(shape)})
    return [em.let(op.layer.name, module(x), x)]


# --------------------------------------------------------------------------- wrappers


def _inner_takes_mask(inner: Layer, keras_major: int) -> bool:
    from ._settings import keras_catalog

    entry = keras_catalog()["keras3" if keras_major >= 3 else "keras2"]["masking"].get(inner.class_name, {})
    return entry.get("call_takes_mask") is not False


def wrapped_layer(layer: Layer, em: Emitter) -> Layer:
    """The layer a wrapper's config holds (TimeDistributed, SpectralNormalization), under the wrapper's name,
    its config checked as Keras checks it."""
    wrapped = layer.config.get("layer")
    if not isinstance(wrapped, dict) or not isinstance(wrapped.get("class_name"), str) or \
            not isinstance(wrapped.get("config", {}), dict):
        raise Settings(layer).error("layer", wrapped, "a layer config")
    inner = Layer(layer.name, wrapped["class_name"].rsplit(">", 1)[-1], wrapped.get("config") or {}, layer.module)
    check_layer_config(inner, em.keras_major)
    return inner


def _time_distributed(op: Op, inputs: list[Value], em: Emitter) -> list[Value]:
    """Apply the inner layer to batch and time merged, then split them again."""
    layer, x = op.layer, em.to_layout(inputs[0], "keras")
    inner = wrapped_layer(layer, em)
    if x.rank < 3:
        raise refuse(layer, f"wraps a layer over a tensor of rank {x.rank}", "TimeDistributed takes (batch, time, ...)")
    if inner.class_name == "Dense":
        return _dense(replace(op, layer=inner), [x], em)
    rule = em.rules.for_layer(inner)
    if rule is None:
        raise refuse(layer, f"wraps a {inner.class_name}, which has no conversion rule")
    if em.mask() is not None and _inner_takes_mask(inner, em.keras_major):
        raise refuse(layer, f"passes its mask to a {inner.class_name}, which applies it", "not converted yet")
    em.masks = []  # the inner layer's call takes none: Keras gives it none
    merged = _fold_time(layer, x, layer.name + "_steps", em)
    out = em.to_layout(rule.emit(Op(inner, [TensorRef(-1)], {}), [merged], em)[0], "keras")
    return [_unfold_time(layer, out, x, em)]


def emit_time_reshape(op: Op, inputs: list[Value], em: Emitter) -> list[Value]:
    """The two halves of ``TimeDistributed(model)`` (``Op.reshape``): batch and time merged before the inlined
    model, split again after it."""
    if op.reshape == "fold_time":
        return [_fold_time(op.layer, em.to_layout(inputs[0], "keras"), op.layer.name, em)]
    em.layer_map.setdefault(op.layer.name, [])
    return [_unfold_time(op.layer, em.to_layout(inputs[0], "keras"), inputs[1], em)]


def _fold_time(layer: Layer, x: Value, name: str, em: Emitter) -> Value:
    """TimeDistributed's first half: (batch, time, ...) as (batch·time, ...)."""
    if x.rank < 3:
        raise refuse(layer, f"wraps a layer over a tensor of rank {x.rank}", "TimeDistributed takes (batch, time, ...)")
    return em.let(name, x.ref.m("flatten", 0, 1), x, shape=(None, *x.shape[2:]))


def _unfold_time(layer: Layer, out: Value, x: Value, em: Emitter) -> Value:
    """TimeDistributed's second half: batch and time split again, by the batch size of the wrapper's input ``x``
    (its first axis in every layout; its time axis may sit elsewhere in a channels-first one)."""
    return em.let(layer.name, out.ref.m("unflatten", 0, (x.ref.m("size", 0), -1)), out,
                  shape=(x.shape[0], x.shape[1], *out.shape[1:]))


def _embedding_mask(op: Op, masks: list[Value | None], outputs: list[Value], em: Emitter) -> list[Value | None]:
    """tf.keras's implicit mask of ``Embedding(mask_zero=True)``: the ids that are not 0."""
    if not Settings(op.layer).flag("mask_zero", False):
        return [None]
    tokens = outputs[0].with_(shape=outputs[0].shape[:-1])
    source = op.layer.name + "_mask"
    return [em.let(source, compare("!=", _token_ids(em, op), 0), tokens, integer=True)]


def _token_ids(em: Emitter, op: Op) -> Expr:
    """The ids an Embedding read: the step before its lookup holds them (``<ids>.long()``)."""
    lookup = em.steps[-1].value
    if not isinstance(lookup, Call) or not lookup.args or not isinstance(lookup.args[0], Call):
        raise refuse(op.layer, "cannot find the ids its mask is made from")
    ids = lookup.args[0].func
    if not isinstance(ids, Attr):
        raise refuse(op.layer, "cannot find the ids its mask is made from")
    return ids.value


def _masking(op: Op, inputs: list[Value], em: Emitter) -> list[Value]:
    """Keras's Masking: steps whose features all equal ``mask_value`` become zeros (the mask is a separate node)."""
    x, s = em.to_layout(inputs[0], "keras"), Settings(op.layer)
    value = s.number("mask_value", 0.0)
    keep = em.let(op.layer.name + "_keep", compare("!=", x, value).m("any", dim=-1, keepdim=True), x, integer=True)
    return [em.let(op.layer.name, x.ref * keep.ref.m("type_as", x), x)]


def _masking_mask(op: Op, masks: list[Value | None], outputs: list[Value], em: Emitter) -> list[Value | None]:
    keep = next(step.target for step in reversed(em.steps) if step.keras_layer == op.layer.name and
                isinstance(step.target, Name) and step.target.id.endswith("keep"))
    like = outputs[0].with_(shape=outputs[0].shape[:-1], integer=True)
    return [em.let(op.layer.name + "_mask", keep.m("squeeze", -1), like)]


def _merge_mask(op: Op, masks: list[Value | None], outputs: list[Value], em: Emitter) -> list[Value | None]:
    """A merge's mask as each Keras computes it: Keras 3 the OR of its inputs' masks (none if any input has
    none: Concatenate's all-True mask is the same); tf.keras the AND of the masks there are. Concatenate only
    along the last axis."""
    present = [m for m in masks if m is not None]
    if not present:
        return [None]
    if op.layer.class_name == "Concatenate" and Settings(op.layer).axis("axis", outputs[0].rank, -1) != \
            outputs[0].rank - 1:
        raise refuse(op.layer, "concatenates masked tensors along another axis than the last", "not converted yet")
    if em.keras_major >= 3:
        if len(present) != len(masks):
            return [None]
        combine = torch.logical_or
    else:
        combine = torch.logical_and
    expr: Expr = present[0].ref
    for mask in present[1:]:
        expr = combine(expr, mask)
    return [em.let(op.layer.name + "_mask", expr, present[0])]


def _mask_passes(op: Op, masks: list[Value | None], outputs: list[Value], em: Emitter) -> list[Value | None]:
    return [next((m for m in masks if m is not None), None)] + [None] * (len(outputs) - 1)


def _rules() -> list[ConvertRule]:
    rules = [
        ConvertRule("Dense", _dense, "any", "Linear", "Linear; a 1×1 convolution over channels-first images"),
        ConvertRule("Embedding", _embedding, "keras", "Embedding", compute_mask=_embedding_mask),
        ConvertRule("ReversibleEmbedding", _reversible_embedding, "keras", compute_mask=_reversible_embedding_mask),
        ConvertRule("Masking", _masking, "keras", compute_mask=_masking_mask),
        ConvertRule("BatchNormalization", _batch_norm, "cf", "BatchNorm2d", masks=True,
                    doc="a mask changes only training statistics"),
        ConvertRule("LayerNormalization", _layer_norm, "any", "LayerNorm"),
        ConvertRule("GroupNormalization", _group_norm, "cf"),
        ConvertRule("Normalization", _normalization, "any"),
        ConvertRule("Rescaling", _rescaling, "any"),
        ConvertRule("Activation", _activation, "any"),
        ConvertRule("ReLU", _relu, "any"),
        ConvertRule("LeakyReLU", _leaky_relu, "any"),
        ConvertRule("ELU", _elu, "any"),
        ConvertRule("Softmax", _softmax, "any", masks=True),
        ConvertRule("ThresholdedReLU", _thresholded_relu, "any"),
        ConvertRule("PReLU", _prelu, "any"),
        ConvertRule("Flatten", _flatten, "any"),
        ConvertRule("Reshape", _reshape, "keras"),
        ConvertRule("Permute", _permute, "keras"),
        ConvertRule("RepeatVector", _repeat_vector, "keras"),
        ConvertRule("Concatenate", _concatenate, "any", compute_mask=_merge_mask),
        ConvertRule("Dot", _dot, "keras"),
        ConvertRule("CustomScaleLayer", _custom_scale, "any"),
        ConvertRule("LayerScale", _layer_scale, "any"),
        ConvertRule("TimeDistributed", _time_distributed, "keras", masks=True, compute_mask=_mask_passes),
    ]
    rules += [ConvertRule("Dropout", _dropout, "any", doc="nn.Dropout"),
              ConvertRule("AlphaDropout", _dropout, "any", doc="nn.AlphaDropout")]
    rules += [ConvertRule(f"SpatialDropout{n}D", _dropout, "cf", doc=f"nn.Dropout{n}d") for n in (1, 2, 3)]
    for name in ("GaussianNoise", "GaussianDropout", "ActivityRegularization", "StochasticDepth"):
        rules.append(ConvertRule(name, _identity, "any", doc="identity at inference"))
    for kind in ("Add", "Subtract", "Multiply", "Average", "Maximum", "Minimum"):
        rules.append(ConvertRule(kind, _merge(kind.lower()), "any", compute_mask=_merge_mask))
    for n in (1, 2, 3):
        rules += [
            ConvertRule(f"Conv{n}D", _either_format(_conv(n)), "cf", f"Conv{n}d"),
            ConvertRule(f"Conv{n}DTranspose", _either_format(_conv_transpose(n)), "cf", f"ConvTranspose{n}d"),
            ConvertRule(f"ZeroPadding{n}D", _either_format(_zero_padding(n)), "cf"),
            ConvertRule(f"Cropping{n}D", _either_format(_cropping(n)), "cf"),
            ConvertRule(f"UpSampling{n}D", _either_format(_upsampling(n)), "cf"),
            ConvertRule(f"MaxPooling{n}D", _either_format(_pool(n, "max")), "cf"),
            ConvertRule(f"AveragePooling{n}D", _either_format(_pool(n, "avg")), "cf"),
            ConvertRule(f"GlobalAveragePooling{n}D", _either_format(_global_pool(n, "avg")), "any", masks=n == 1),
            ConvertRule(f"GlobalMaxPooling{n}D", _either_format(_global_pool(n, "max")), "any"),
            ConvertRule(f"MaxPool{n}D", _either_format(_pool(n, "max")), "cf"),
            ConvertRule(f"AvgPool{n}D", _either_format(_pool(n, "avg")), "cf"),
            ConvertRule(f"GlobalAvgPool{n}D", _either_format(_global_pool(n, "avg")), "any", masks=n == 1),
            ConvertRule(f"GlobalMaxPool{n}D", _either_format(_global_pool(n, "max")), "any"),
            ConvertRule(f"AdaptiveAveragePooling{n}D", _either_format(_adaptive_pool(n, "avg")), "cf"),
            ConvertRule(f"AdaptiveMaxPooling{n}D", _either_format(_adaptive_pool(n, "max")), "cf"),
        ]
    for n in (1, 2):
        rules += [ConvertRule(f"DepthwiseConv{n}D", _either_format(_conv(n, depthwise=True)), "cf", f"Conv{n}d"),
                  ConvertRule(f"SeparableConv{n}D", _either_format(_separable(n)), "cf", f"SeparableConv{n}d")]
    return rules


CORE_RULES = _rules()

