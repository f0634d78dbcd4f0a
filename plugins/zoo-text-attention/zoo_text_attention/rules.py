"""The porting rule for the custom layer: Keras [W, b, u] ⇄ AttentionPooling's state."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from weights_port import ConvertRule, PortRule, RuleContext, RuleMismatch


def attention_to_torch(arrays: Sequence[np.ndarray], ctx: RuleContext) -> dict[str, np.ndarray]:
    if len(arrays) != 3 or arrays[0].ndim != 2:
        raise RuleMismatch(f"expected W (features, units), b and u, found shapes {[a.shape for a in arrays]}")
    kernel, bias, context = arrays
    return {"projection.weight": kernel.T, "projection.bias": bias, "context": context}


def attention_to_keras(state: Mapping[str, np.ndarray], ctx: RuleContext) -> list[np.ndarray]:
    return [state["projection.weight"].T, state["projection.bias"], state["context"]]


ATTENTION_RULE = PortRule("Attention", ("AttentionPooling",), attention_to_torch, attention_to_keras,
                          doc="W transposed into a Linear, b its bias, u the context vector")


def emit_attention(op, inputs, em):  # type: ignore[no-untyped-def]
    """``zoo convert``: the real ``AttentionPooling`` class is copied into the generated file; weights by
    ATTENTION_RULE. Imported here, not at the top, so listing the plugin's rules does not import torch."""
    from .torch_module import AttentionPooling

    x = em.to_layout(inputs[0], "keras")
    kernel = em.arrays(op.layer)[0]
    state = em.port(op.layer, "AttentionPooling", ("projection.weight", "projection.bias", "context"))
    module = em.module(op.layer, em.helper(AttentionPooling), int(kernel.shape[0]), int(kernel.shape[1]), state=state)
    return [em.let(op.layer.name, module(x), x, shape=(x.shape[0], x.shape[-1]))]


ATTENTION_CONVERT_RULE = ConvertRule("Attention", emit_attention, "keras", "AttentionPooling",
                                     doc="AttentionPooling copied into the generated file")
