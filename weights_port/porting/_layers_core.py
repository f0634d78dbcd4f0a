"""Rules for stateless-layout layers: Dense, Conv1D/2D/3D, Embedding, TimeDistributed."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from ._rules import (
    Arrays,
    PortRule,
    RuleContext,
    RuleMismatch,
    State,
    flatten_rows_to_channels_first,
    flatten_rows_to_channels_last,
    split_kernel_bias,
    with_bias,
)

__all__ = ["CORE_RULES", "DENSE", "EMBEDDING"]

# --------------------------------------------------------------------------- Dense


def _dense_to_torch(arrays: Arrays, ctx: RuleContext) -> State:
    kernel, bias = split_kernel_bias(arrays, ctx, 2)
    kernel = flatten_rows_to_channels_first(kernel, ctx.target.hints.get("flatten_from"))
    return with_bias(kernel.T, bias)


def _dense_to_keras(state: Mapping[str, np.ndarray], ctx: RuleContext) -> list[np.ndarray]:
    kernel = flatten_rows_to_channels_last(state["weight"].T, ctx.target.hints.get("flatten_from"))
    return [kernel] + ([state["bias"]] if "bias" in state else [])


# --------------------------------------------------------------------------- Conv


def _conv_rule(keras_class: str, torch_type: str, spatial: int) -> PortRule:
    """Keras kernels are (*k, in, out); PyTorch's are (out, in, *k), for 1, 2 or 3 spatial axes."""
    to_torch_axes = (spatial + 1, spatial, *range(spatial))
    to_keras_axes = (*range(2, spatial + 2), 1, 0)

    def to_torch(arrays: Arrays, ctx: RuleContext) -> State:
        kernel, bias = split_kernel_bias(arrays, ctx, spatial + 2)
        return with_bias(kernel.transpose(to_torch_axes), bias)

    def to_keras(state: Mapping[str, np.ndarray], ctx: RuleContext) -> list[np.ndarray]:
        return [state["weight"].transpose(to_keras_axes)] + ([state["bias"]] if "bias" in state else [])

    return PortRule(keras_class, (torch_type,), to_torch, to_keras, doc=f"kernel {to_torch_axes} transpose")


# --------------------------------------------------------------------------- Embedding


def _embedding_to_torch(arrays: Arrays, ctx: RuleContext) -> State:
    if len(arrays) != 1 or arrays[0].ndim != 2:
        raise RuleMismatch(f"expected one (vocabulary, dim) table, found shapes {[a.shape for a in arrays]}")
    return {"weight": arrays[0]}


def _wrapped(wrapper: str, inner: PortRule) -> PortRule:
    """A wrapper that only maps its inner layer over time (TimeDistributed): same arrays."""
    return PortRule(wrapper, inner.torch_types, inner.to_torch, inner.to_keras, doc=f"{wrapper}({inner.keras_class})")


DENSE = PortRule("Dense", ("Linear",), _dense_to_torch, _dense_to_keras,
                 doc="kernel transposed; rows reordered when fed by a channels-last Flatten")
CONV_RULES = [_conv_rule("Conv1D", "Conv1d", 1), _conv_rule("Conv2D", "Conv2d", 2), _conv_rule("Conv3D", "Conv3d", 3)]
EMBEDDING = PortRule("Embedding", ("Embedding",), _embedding_to_torch, lambda state, ctx: [state["weight"]],
                     doc="the (vocabulary, dim) table as is")
CORE_RULES = [DENSE, *CONV_RULES, EMBEDDING,
              _wrapped("TimeDistributed", DENSE),
              *(_wrapped("TimeDistributed", rule) for rule in CONV_RULES)]
