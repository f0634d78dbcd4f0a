"""The porting rule for the custom layer: Keras [W, b, u] ⇄ AttentionPooling's state."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from weights_port import PortRule, RuleContext, RuleMismatch


def attention_to_torch(arrays: Sequence[np.ndarray], ctx: RuleContext) -> dict[str, np.ndarray]:
    if len(arrays) != 3 or arrays[0].ndim != 2:
        raise RuleMismatch(f"expected W (features, units), b and u, found shapes {[a.shape for a in arrays]}")
    kernel, bias, context = arrays
    return {"projection.weight": kernel.T, "projection.bias": bias, "context": context}


def attention_to_keras(state: Mapping[str, np.ndarray], ctx: RuleContext) -> list[np.ndarray]:
    return [state["projection.weight"].T, state["projection.bias"], state["context"]]


ATTENTION_RULE = PortRule("Attention", ("AttentionPooling",), attention_to_torch, attention_to_keras,
                          doc="W transposed into a Linear, b its bias, u the context vector")
