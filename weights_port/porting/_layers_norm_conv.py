"""Rules for normalisation and the other convolutions: BatchNormalization, LayerNormalization,
DepthwiseConv2D, SeparableConv2D, Conv2DTranspose (and 1D/3D where torch has them)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from ._rules import Arrays, PortRule, RuleContext, RuleMismatch, State, split_kernel_bias, with_bias

__all__ = ["NORM_CONV_RULES"]


# --------------------------------------------------------------------------- normalisation


def _norm_parts(arrays: Arrays, ctx: RuleContext, names: tuple[str, ...]) -> dict[str, np.ndarray]:
    """Name the arrays of a normalisation layer: (gamma?, beta?, *names) by config or by count."""
    keys = [w.key.rsplit("/", 1)[-1] for w in ctx.layer.weights]
    if len(keys) == len(arrays) and set(keys) <= {"gamma", "beta", *names}:  # legacy files name them
        return dict(zip(keys, arrays, strict=True))
    scale, center = ctx.config("scale"), ctx.config("center")
    if scale is None or center is None:  # no config: the count must be unambiguous
        count = len(arrays) - len(names)
        if count not in (0, 2):
            raise RuleMismatch(f"{len(arrays)} arrays: cannot tell gamma from beta without the layer config")
        scale = center = count == 2
    expected = (["gamma"] if scale else []) + (["beta"] if center else []) + list(names)
    if len(expected) != len(arrays):
        raise RuleMismatch(f"expected arrays {expected}, found {len(arrays)}")
    return dict(zip(expected, arrays, strict=True))


def _affine(parts: Mapping[str, np.ndarray], width: int, ctx: RuleContext) -> State:
    """gamma/beta → weight/bias. A side Keras lacks is the identity (ones / zeros) when the
    module has it; a side the module lacks must be absent in Keras too."""
    state: State = {}
    for keras_name, torch_name, identity in (("gamma", "weight", np.ones), ("beta", "bias", np.zeros)):
        if torch_name in ctx.target.shapes:
            state[torch_name] = parts[keras_name] if keras_name in parts else identity(width)
        elif keras_name in parts:
            raise RuleMismatch(f"the Keras layer has {keras_name}, the PyTorch module has no {torch_name}")
    return state


def _batch_norm_to_torch(arrays: Arrays, ctx: RuleContext) -> State:
    parts = _norm_parts(arrays, ctx, ("moving_mean", "moving_variance"))
    mean = parts["moving_mean"]
    if mean.ndim != 1:
        raise RuleMismatch(f"moving mean must be 1-D, found {mean.shape}")
    return {**_affine(parts, mean.shape[0], ctx), "running_mean": mean, "running_var": parts["moving_variance"]}


def _batch_norm_to_keras(state: Mapping[str, np.ndarray], ctx: RuleContext) -> list[np.ndarray]:
    affine = [state[k] for k in ("weight", "bias") if k in state and _keeps(ctx, k)]
    return [*affine, state["running_mean"], state["running_var"]]


def _keeps(ctx: RuleContext, key: str) -> bool:
    """Whether the Keras layer holds gamma (weight) / beta (bias); defaults to both."""
    return bool(ctx.config("scale" if key == "weight" else "center", True))


def _norm_settings(ctx: RuleContext) -> dict[str, Any]:
    """Keras epsilon, and momentum (Keras weighs the old value; PyTorch the new one)."""
    settings: dict[str, Any] = {}
    if ctx.config("epsilon") is not None:
        settings["eps"] = float(ctx.config("epsilon"))
    if ctx.config("momentum") is not None and "momentum" in ctx.target.attributes:
        settings["momentum"] = 1.0 - float(ctx.config("momentum"))
    return settings


def _layer_norm_to_torch(arrays: Arrays, ctx: RuleContext) -> State:
    parts = _norm_parts(arrays, ctx, ())
    shape = ctx.target.shapes.get("weight") or (arrays[0].shape if arrays else (0,))
    return _affine(parts, int(np.prod(shape)), ctx)


def _layer_norm_to_keras(state: Mapping[str, np.ndarray], ctx: RuleContext) -> list[np.ndarray]:
    return [state[k] for k in ("weight", "bias") if k in state and _keeps(ctx, k)]


# --------------------------------------------------------------------------- convolutions


def _depthwise_rule(keras_class: str, torch_type: str, spatial: int) -> PortRule:
    """Keras (*k, in, multiplier) → PyTorch grouped conv (in·multiplier, 1, *k); channel c·m + j."""

    def to_torch(arrays: Arrays, ctx: RuleContext) -> State:
        kernel, bias = split_kernel_bias(arrays, ctx, spatial + 2,
                                         outputs=arrays[0].shape[-1] * arrays[0].shape[-2] if arrays[0].ndim > 1 else 0)
        *k, channels, multiplier = kernel.shape
        if ctx.target.attributes.get("groups") != channels:
            raise RuleMismatch(f"a depthwise kernel over {channels} channels needs groups={channels}, "
                               f"the module has groups={ctx.target.attributes.get('groups')}")
        flat = kernel.reshape(*k, channels * multiplier)
        return with_bias(np.moveaxis(flat, -1, 0)[:, None], bias)

    def to_keras(state: Mapping[str, np.ndarray], ctx: RuleContext) -> list[np.ndarray]:
        weight = state["weight"][:, 0]  # (in·m, *k)
        groups = int(ctx.target.attributes["groups"])
        kernel = np.moveaxis(weight, 0, -1).reshape(*weight.shape[1:], groups, weight.shape[0] // groups)
        return [kernel] + ([state["bias"]] if "bias" in state else [])

    return PortRule(keras_class, (torch_type,), to_torch, to_keras, doc="depthwise kernel → grouped conv")


def _separable_rule(keras_class: str, torch_type: str, spatial: int) -> PortRule:
    """Keras [depthwise, pointwise, bias?] → a module with ``depthwise`` and ``pointwise`` convs."""
    depthwise = _depthwise_rule("DepthwiseConv", "Conv", spatial)

    def to_torch(arrays: Arrays, ctx: RuleContext) -> State:
        if len(arrays) not in (2, 3):
            raise RuleMismatch(f"expected depthwise, pointwise kernels and a bias, found {len(arrays)} arrays")
        channels = arrays[0].shape[-2]
        inner = RuleContext(ctx.layer, _child(ctx, "depthwise", {"groups": channels}), ctx.keras_version)
        state = {f"depthwise.{k}": v for k, v in depthwise.to_torch([arrays[0]], inner).items()}
        pointwise = arrays[1]
        if pointwise.ndim != spatial + 2:
            raise RuleMismatch(f"expected a {spatial + 2}-D pointwise kernel, found {pointwise.shape}")
        state["pointwise.weight"] = pointwise.transpose(spatial + 1, spatial, *range(spatial))
        if len(arrays) == 3:
            state["pointwise.bias"] = arrays[2]
        return state

    def to_keras(state: Mapping[str, np.ndarray], ctx: RuleContext) -> list[np.ndarray]:
        groups = int(ctx.target.attributes["in_channels"])
        inner = RuleContext(ctx.layer, _child(ctx, "depthwise", {"groups": groups}), ctx.keras_version)
        kernel = depthwise.to_keras({"weight": state["depthwise.weight"]}, inner)[0]
        pointwise = state["pointwise.weight"].transpose(*range(2, spatial + 2), 1, 0)
        return [kernel, pointwise] + ([state["pointwise.bias"]] if "pointwise.bias" in state else [])

    return PortRule(keras_class, (torch_type,), to_torch, to_keras, doc="depthwise then pointwise convolution")


def _child(ctx: RuleContext, name: str, attributes: Mapping[str, Any]) -> Any:
    from ._rules import TorchTarget

    return TorchTarget(f"{ctx.target.path}.{name}", "Conv", {}, ctx.target.hints, dict(attributes))


def _transpose_rule(keras_class: str, torch_type: str, spatial: int) -> PortRule:
    """Keras transposed kernels are (*k, out, in); PyTorch's are (in, out, *k)."""
    to_torch_axes = (spatial + 1, spatial, *range(spatial))
    to_keras_axes = (*range(2, spatial + 2), 1, 0)

    def to_torch(arrays: Arrays, ctx: RuleContext) -> State:
        if len(arrays) not in (1, 2) or arrays[0].ndim != spatial + 2:
            raise RuleMismatch(f"expected a {spatial + 2}-D kernel and a bias, found {[a.shape for a in arrays]}")
        kernel = arrays[0]
        bias = arrays[1] if len(arrays) == 2 else None
        if bias is not None and bias.shape != (kernel.shape[-2],):
            raise RuleMismatch(f"bias {bias.shape} does not fit transposed kernel {kernel.shape}")
        return with_bias(kernel.transpose(to_torch_axes), bias)

    def to_keras(state: Mapping[str, np.ndarray], ctx: RuleContext) -> list[np.ndarray]:
        return [state["weight"].transpose(to_keras_axes)] + ([state["bias"]] if "bias" in state else [])

    return PortRule(keras_class, (torch_type,), to_torch, to_keras, doc="transposed kernel (*k, out, in) → (in, out, *k)")


NORM_CONV_RULES = [
    PortRule("BatchNormalization", ("BatchNorm1d", "BatchNorm2d", "BatchNorm3d"), _batch_norm_to_torch,
             _batch_norm_to_keras, doc="gamma, beta, moving statistics; epsilon and momentum carried over",
             module_settings=_norm_settings),
    PortRule("LayerNormalization", ("LayerNorm",), _layer_norm_to_torch, _layer_norm_to_keras,
             doc="gamma, beta; epsilon carried over", module_settings=_norm_settings),
    _depthwise_rule("DepthwiseConv1D", "Conv1d", 1),
    _depthwise_rule("DepthwiseConv2D", "Conv2d", 2),
    _separable_rule("SeparableConv1D", "SeparableConv1d", 1),
    _separable_rule("SeparableConv2D", "SeparableConv2d", 2),
    _transpose_rule("Conv1DTranspose", "ConvTranspose1d", 1),
    _transpose_rule("Conv2DTranspose", "ConvTranspose2d", 2),
    _transpose_rule("Conv3DTranspose", "ConvTranspose3d", 3),
]
