"""Conversion rules for attention: MultiHeadAttention, Attention, AdditiveAttention, EinsumDense, einsum.

The modules are the runtime's (``weights_port.torch_modules``), which compute what Keras
computes, masks included (``DotAttention``, ``MultiHeadAttention``: see their docstrings for
Keras's two masking rules). The weights are read by their paths in the file, so Keras 3's
(``query_dense/vars/0``) and tf.keras's (``query/kernel:0``) files both work.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from .._errors import ConfigValueError
from ._emitter import Emitter, refuse
from ._graph import Layer, Op
from ._ir import Expr, Value, compare, torch
from ._settings import Settings
from ._table import ConvertRule, apply_activation

__all__ = ["ATTENTION_RULES", "EINSUM_EQUATION", "check_equation"]

EINSUM_EQUATION = re.compile(r"[a-zA-Z.]+(,[a-zA-Z.]+)*->[a-zA-Z.]*\Z")


def check_equation(layer: Layer, equation: Any) -> str:
    """An einsum equation as Keras takes it: letters, commas, one arrow, ellipses; nothing else."""
    text = equation.replace(" ", "") if isinstance(equation, str) else equation
    if not isinstance(text, str) or len(text) > 200 or not EINSUM_EQUATION.match(text):
        raise Settings(layer).error("equation", equation, "an einsum equation such as 'abc,cd->abd'")
    return text


def _sub_layer(named: Mapping[str, np.ndarray], part: str, layer: Layer) -> tuple[np.ndarray, np.ndarray | None]:
    """(kernel, bias) of one of MultiHeadAttention's projections, by its path in Keras 3 or tf.keras files."""
    spellings = {"query": ("query",), "key": ("key",), "value": ("value",), "output": ("output", "attention_output"),
                 "gate": ("gate",)}
    found = {key: array for key, array in named.items()
             if key.split("/")[0].lstrip("_").removesuffix("_dense") in spellings[part]}
    kernel = next((a for k, a in found.items() if k.endswith(("vars/0", "kernel", "kernel:0"))), None)
    bias = next((a for k, a in found.items() if k.endswith(("vars/1", "bias", "bias:0"))), None)
    if kernel is None:
        raise ConfigValueError(f"{layer.describe()}: its weights hold no {part} kernel ({sorted(named)})")
    return kernel, bias


def _multi_head_attention(op: Op, inputs: list[Value], em: Emitter) -> list[Value]:
    s = Settings(op.layer)
    if op.layer.class_name in ("GroupQueryAttention", "GroupedQueryAttention"):
        heads = s.integer("num_query_heads", None, minimum=1)
        kv_heads = s.integer("num_key_value_heads", None, minimum=1)
        if heads % kv_heads:
            raise s.error("num_key_value_heads", kv_heads, f"a divisor of num_query_heads {heads}")
        key_dim = value_dim = s.integer("head_dim", None, minimum=1)
    else:
        heads = kv_heads = s.integer("num_heads", None, minimum=1)
        key_dim = s.integer("key_dim", None, minimum=1)
        value_dim = s.integer("value_dim", key_dim, minimum=1)
    return _attend(op, em, heads, kv_heads, key_dim, value_dim)


def _attend(op: Op, em: Emitter, heads: int, kv_heads: int, key_dim: int, value_dim: int) -> list[Value]:
    """MultiHeadAttention and GroupedQueryAttention (whose key and value heads are each repeated
    ``heads // kv_heads`` times, as ``ops.repeat`` on the head axis does)."""
    layer, s = op.layer, Settings(op.layer)
    use_bias = s.flag("use_bias", True)
    dropout = s.number("dropout", 0.0, minimum=0.0, maximum=1.0)
    gated = s.flag("use_gate", False)
    window = s.optional_integer("sliding_window", minimum=1)
    if s.has("output_shape") and not isinstance(s.raw("output_shape"), int) and \
            list(s.raw("output_shape") or []) != list(s.raw("output_shape") or [])[:1]:
        raise refuse(layer, f"sets output_shape {s.raw('output_shape')}", "only one output width is converted")
    query_value, value_value, key_value = _attention_inputs(em)
    if query_value is None or value_value is None:
        raise refuse(layer, "is called without a query and a value tensor")
    query, value = em.to_layout(query_value, "keras"), em.to_layout(value_value, "keras")
    key = em.to_layout(key_value, "keras") if key_value is not None else None
    if any(v.rank != query.rank for v in (value, *([key] if key else []))) or query.rank < 3:
        raise refuse(layer, "attends over tensors of different ranks", "Keras requires the same rank")
    attended = _attention_axes(s, query.rank)
    named = em.named_arrays(layer)
    parts = ("query", "key", "value", "output", *(("gate",) if gated else ()))
    kernels = {part: _sub_layer(named, part, layer) for part in parts}
    q_kernel, k_kernel, v_kernel, o_kernel = (kernels[p][0] for p in ("query", "key", "value", "output"))
    output_dim = int(o_kernel.shape[-1])
    expected = {"query": (query.shape[-1], heads, key_dim), "key": ((key or value).shape[-1], kv_heads, key_dim),
                "value": (value.shape[-1], kv_heads, value_dim), "output": (heads, value_dim, output_dim),
                "gate": (query.shape[-1], heads, value_dim)}
    expected = {part: expected[part] for part in parts}
    for part, shape in expected.items():
        kernel, bias = kernels[part]
        if any(d is not None and d != k for d, k in zip(shape, kernel.shape, strict=False)) or kernel.ndim != 3:
            raise ConfigValueError(f"{layer.describe()}: its {part} kernel has shape {kernel.shape}, its config and "
                                   f"inputs ask for {shape}")
        if (bias is None) == use_bias:
            raise ConfigValueError(f"{layer.describe()}: config 'use_bias' is {use_bias} but its {part} projection "
                                   f"{'has no' if use_bias else 'has a'} bias")
    state: dict[str, np.ndarray] = {}
    for part in ("query", "key", "value", *(("gate",) if gated else ())):
        kernel, bias = kernels[part]
        state[f"{part}.weight"] = kernel.reshape(kernel.shape[0], -1).T
        if bias is not None:
            state[f"{part}.bias"] = bias.reshape(-1)
    o_bias = kernels["output"][1]
    state["output.weight"] = o_kernel.reshape(heads * value_dim, output_dim).T
    if o_bias is not None:
        state["output.bias"] = o_bias
    scores = op.kwargs.get("return_attention_scores") is True
    causal = op.kwargs.get("use_causal_mask") is True
    # Keras 3's Softmax path (query scaled first, masked weights zero) runs when dropout is set or scores are
    # returned, its dot_product_attention otherwise; tf.keras scales the query and adds -1e9 (see the runtime)
    scale = 1.0 / math.sqrt(float(key_dim))
    if em.keras_major < 3:
        fill = "additive"  # tf.multiply(query, python_float): the scale in the tensor's own dtype
    else:
        fill = "softmax" if dropout > 0.0 or scores or query.rank > 3 else "dot_product"
        scale = float(np.float32(scale))  # Keras 3's ops.cast of a Python float goes through float32
    settings: dict[str, Any] = {} if use_bias else {"bias": False}
    if kv_heads != heads:
        settings["kv_heads"] = kv_heads
    if gated:
        settings["gate"] = True
    if fill != "dot_product":  # the helper's default
        settings["masked_fill"] = fill
    module = em.module(layer, em.runtime("MultiHeadAttention"), query_dim=int(q_kernel.shape[0]),
                       key_input_dim=int(k_kernel.shape[0]), value_input_dim=int(v_kernel.shape[0]), num_heads=heads,
                       key_dim=key_dim, value_dim=value_dim, output_dim=output_dim, scale=scale, **settings,
                       state=state)
    mask = _attention_mask(op, em)
    kwargs: dict[str, Any] = {}
    if query.rank > 3:
        if mask is not None or causal or scores or window is not None:
            raise refuse(layer, "attends over more than one axis with a mask, a causal mask, a sliding window or "
                         "returned scores", "not converted")
        flat = [_as_sequences(em, layer, v, attended) for v in (query, value, *([key] if key else []))]
        if key is not None:
            kwargs["key"] = flat[2]
        out = em.let(layer.name, module(flat[0], flat[1], **kwargs), flat[0], shape=(None, flat[0].shape[1], output_dim))
        return [_from_sequences(em, out, query, attended, output_dim)]
    if key is not None:
        kwargs["key"] = key
    if window is not None:  # Keras ANDs its band |t − s| < window into the mask (which leaves the causal-only path)
        band = em.runtime("sliding_window_mask")(query, value, window)
        mask = band if mask is None else torch.logical_and(mask, band)
    if mask is not None:
        kwargs["attention_mask"] = mask
    if causal:
        kwargs["causal"] = True
    out_shape = (query.shape[0], query.shape[1], output_dim)
    if scores:
        names = em.unpack(module(query, value, **kwargs, return_scores=True), [layer.name, layer.name + "_scores"])
        return [Value(names[0], out_shape), Value(names[1], (query.shape[0], heads, query.shape[1], value.shape[1]))]
    return [em.let(layer.name, module(query, value, **kwargs), query, shape=out_shape)]


def _attention_axes(s: Settings, rank: int) -> list[int]:
    """The axes attended over (Keras's default: every axis but the batch and the features)."""
    if s.raw("attention_axes") is None:
        return list(range(1, rank - 1))
    axes = s.axes("attention_axes", rank)
    if rank - 1 in axes:
        raise s.error("attention_axes", s.raw("attention_axes"), f"axes between 1 and {rank - 2} (not the features)")
    return axes


def _sequence_order(rank: int, attended: Sequence[int]) -> list[int]:
    """(batch, the axes not attended over, the attended axes, features)."""
    return [0, *(a for a in range(1, rank - 1) if a not in attended), *attended, rank - 1]


def _as_sequences(em: Emitter, layer: Layer, x: Value, attended: Sequence[int]) -> Value:
    """A rank > 3 tensor as (batch·other axes, attended positions, features): Keras's attention over
    ``attention_axes`` is attention over those positions jointly, the other axes batched."""
    order = _sequence_order(x.rank, attended)
    if any(x.shape[a] is None for a in order[1:]):
        raise refuse(layer, f"attends over a tensor of unknown size {x.shape}", "give the Keras Input a fixed shape")
    others = len(order) - len(attended) - 2
    expr = x.ref if order == list(range(x.rank)) else x.ref.m("permute", *order)
    if others:
        expr = expr.m("flatten", 0, others)
    if len(attended) > 1:
        expr = expr.m("flatten", 1, len(attended))
    length = math.prod(int(x.shape[a] or 0) for a in attended)
    return em.let(layer.name + "_sequences", expr, x, shape=(None, length, x.shape[-1]))


def _from_sequences(em: Emitter, out: Value, query: Value, attended: Sequence[int], width: int) -> Value:
    """The attention output laid back into the query's axes."""
    order = _sequence_order(query.rank, attended)
    others = [int(query.shape[a] or 0) for a in order[1:len(order) - len(attended) - 1]]
    expr: Expr = out.ref
    if len(attended) > 1:
        expr = expr.m("unflatten", 1, tuple(int(query.shape[a] or 0) for a in attended))
    if others:
        expr = expr.m("unflatten", 0, (-1, *others))
    if order != list(range(query.rank)):
        expr = expr.m("permute", *(order.index(a) for a in range(query.rank)))
    return em.let(out.name, expr, out, rebind=True, shape=(*query.shape[:-1], width))


def _attention_inputs(em: Emitter) -> tuple[Value | None, Value | None, Value | None]:
    """MultiHeadAttention's (query, value, key), passed by position or by name."""
    positional = [a for a in em.call_args if isinstance(a, Value)]
    named = [em.call_kwargs.get(name) for name in ("query", "value", "key")]
    found = [positional[i] if i < len(positional) else named[i] for i in range(3)]
    return tuple(v if isinstance(v, Value) else None for v in found)  # type: ignore[return-value]


def _attention_mask(op: Op, em: Emitter) -> Expr | None:
    """Keras's ``_compute_attention_mask``: the ``attention_mask`` argument AND the query mask [B, T, 1] AND the
    value and key masks [B, 1, S] (passed by name, or the query's own mask)."""
    parts: list[Expr] = []
    given = {name: em.call_kwargs.get(name) for name in ("attention_mask", "query_mask", "value_mask", "key_mask")}
    for name, value in zip(("query_mask", "value_mask", "key_mask"), _attention_inputs(em), strict=False):
        if given[name] is None and value is not None:
            given[name] = em.implicit_masks.get(value.name)  # Keras reads these off the inputs themselves
    for name, axis in (("attention_mask", None), ("query_mask", -1), ("value_mask", -2), ("key_mask", -2)):
        mask = given[name]
        if mask is None:
            continue
        if not isinstance(mask, Value):
            raise Settings(op.layer).error(name, mask, "a tensor")
        boolean: Expr = mask.ref if mask.integer else compare("!=", mask, 0)
        parts.append(boolean if axis is None else boolean.m("unsqueeze", axis))
    if not parts:
        return None
    expr = parts[0]
    for part in parts[1:]:
        expr = torch.logical_and(expr, part)
    return expr


def _dot_attention(kind: str) -> Any:
    def emit(op: Op, inputs: list[Value], em: Emitter) -> list[Value]:
        layer, s = op.layer, Settings(op.layer)
        s.number("dropout", 0.0, minimum=0.0, maximum=1.0)
        use_scale = s.flag("use_scale", kind == "additive")
        mode = "additive" if kind == "additive" else s.choice("score_mode", ("dot", "concat"), "dot")
        listed = em.call_args[0] if em.call_args and isinstance(em.call_args[0], list) else em.call_args
        values = [em.to_layout(v, "keras") for v in listed if isinstance(v, Value)]
        if not 2 <= len(values) <= 3 or any(v.rank != 3 for v in values):
            raise refuse(layer, "attends over other than [query, value(, key)] of shape (batch, T, features)")
        arrays = em.arrays(layer)
        state: dict[str, np.ndarray] = {}
        scale_shape: tuple[int, ...] | None = None
        if use_scale:
            if not arrays:
                raise ConfigValueError(f"{layer.describe()}: config 'use_scale' is true but it holds no scale")
            scale_shape = tuple(int(d) for d in arrays[0].shape)
            state["scale"] = arrays[0]
        concat = mode == "concat"
        if concat:
            if len(arrays) != int(use_scale) + 1:
                raise ConfigValueError(f"{layer.describe()}: score_mode 'concat' needs its concat_score_weight")
            state["concat_score_weight"] = arrays[-1].reshape(())
        elif len(arrays) != int(use_scale):
            raise ConfigValueError(f"{layer.describe()}: its weights hold {len(arrays)} arrays")
        flags: dict[str, Any] = {"score_mode": mode}
        if scale_shape is not None:
            flags["scale_shape"] = scale_shape
        if concat:
            flags["concat_weight"] = True
        module = em.module(layer, em.runtime("DotAttention"), **flags, state=state)
        kwargs: dict[str, Any] = {}
        if len(values) == 3:
            kwargs["key"] = values[2]
        for index, name in ((0, "query_mask"), (1, "value_mask")):
            mask = em.mask(index)
            if mask is not None:
                kwargs[name] = mask.ref if mask.integer else compare("!=", mask, 0)
        if op.kwargs.get("use_causal_mask") is True:
            kwargs["causal"] = True
        query, value = values[0], values[1]
        out_shape = (query.shape[0], query.shape[1], value.shape[2])
        if op.kwargs.get("return_attention_scores") is True:
            names = em.unpack(module(query, value, **kwargs, return_scores=True), [layer.name, layer.name + "_scores"])
            return [Value(names[0], out_shape), Value(names[1], (query.shape[0], query.shape[1], value.shape[1]))]
        return [em.let(layer.name, module(query, value, **kwargs), query, shape=out_shape)]

    return emit


def _einsum_dense(op: Op, inputs: list[Value], em: Emitter) -> list[Value]:
    layer, s = op.layer, Settings(op.layer)
    equation = check_equation(layer, s.raw("equation"))
    x = em.to_layout(inputs[0], "keras")
    arrays = em.arrays(layer)
    if len(arrays) not in (1, 2):
        raise ConfigValueError(f"{layer.describe()}: its weights hold {len(arrays)} arrays, not a kernel and a bias")
    operands, output = equation.split("->")
    if len(operands.split(",")) != 2 or "." in equation:
        raise refuse(layer, f"uses the equation {equation!r}", "one input, one kernel, no ellipsis")
    if len(operands.split(",")[1]) != arrays[0].ndim or len(operands.split(",")[0]) != x.rank:
        raise ConfigValueError(f"{layer.describe()}: equation {equation!r} does not fit its kernel {arrays[0].shape} "
                               f"and input {x.shape}")
    state = {"kernel": arrays[0], **({"bias": arrays[1]} if len(arrays) == 2 else {})}
    module = em.module(layer, em.runtime("EinsumDense"), equation, tuple(int(d) for d in arrays[0].shape),
                       *([tuple(int(d) for d in arrays[1].shape)] if len(arrays) == 2 else []), state=state)
    letters = dict(zip(operands.split(",")[0], x.shape, strict=True)) | dict(
        zip(operands.split(",")[1], arrays[0].shape, strict=True))
    shape = tuple(letters.get(letter) for letter in output)
    out = em.let(layer.name, module(x), x, shape=shape)
    return [apply_activation(em, layer, out, s.raw("activation"))]


ATTENTION_RULES = [
    ConvertRule("MultiHeadAttention", _multi_head_attention, "keras", masks=True,
                doc="the runtime's MultiHeadAttention: nn.Linear projections, Keras's masking rules"),
    *(ConvertRule(name, _multi_head_attention, "keras", masks=True,
                  doc="the runtime's MultiHeadAttention with key/value heads repeated")
      for name in ("GroupQueryAttention", "GroupedQueryAttention")),
    ConvertRule("Attention", _dot_attention("dot"), "keras", masks=True),
    ConvertRule("AdditiveAttention", _dot_attention("additive"), "keras", masks=True),
    ConvertRule("EinsumDense", _einsum_dense, "keras"),
]
