"""Operation nodes: Keras 3 ``keras.ops`` calls and tf.keras ``TFOpLambda`` layers in a functional config.

Keras 3 records ``x + 3.0`` or ``keras.ops.mean(x, axis=1)`` on symbolic tensors as nodes
whose class is the operation ("Add" from ``keras.src.ops.numpy``) and whose ``args`` mix
tensors and constants. tf.keras records ``tf.*`` calls as ``TFOpLambda`` layers naming the
function ("__operators__.add", "math.reduce_mean") with the other arguments in the
node's kwargs. Both map onto one table of operations; anything else is refused by name.
Every constant operand is checked (a finite number, an integer axis) before use.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

from .._errors import ConfigValueError
from ._emitter import Emitter, refuse
from ._graph import Layer, Op, TensorRef, quoted
from ._ir import Attr, Expr, F, Value, compare, torch
from ._settings import MAX_DIMENSION, shown

__all__ = ["KERAS_OPS", "TF_FUNCTIONS", "TF_RAW_OPS", "emit_keras_op", "emit_tf_op", "emit_tf_op_layer", "is_operation"]

_BINARY: dict[str, Callable[[Expr, Expr], Expr]] = {
    "add": lambda a, b: a + b, "subtract": lambda a, b: a - b, "multiply": lambda a, b: a * b,
    "divide": lambda a, b: a / b, "power": lambda a, b: a ** b, "maximum": lambda a, b: torch.maximum(a, b),
    "minimum": lambda a, b: torch.minimum(a, b), "matmul": lambda a, b: a @ b,
}
_UNARY: dict[str, Callable[[Expr], Expr]] = {
    "negative": lambda x: -x, "abs": torch.abs, "sqrt": torch.sqrt, "square": torch.square, "exp": torch.exp,
    "log": torch.log, "tanh": torch.tanh, "sigmoid": torch.sigmoid, "relu": F.relu, "relu6": F.relu6, "silu": F.silu,
    "softplus": F.softplus, "erf": torch.erf, "rsqrt": torch.rsqrt, "sin": torch.sin, "cos": torch.cos,
    "floor": torch.floor, "sign": torch.sign, "reciprocal": torch.reciprocal, "hard_sigmoid": F.hardsigmoid,
    "hard_silu": F.hardswish, "elu": F.elu, "selu": F.selu, "identity": lambda x: x, "stop_gradient": lambda x: x,
}
_REDUCE = {"mean": "mean", "sum": "sum", "max": "amax", "min": "amin", "prod": "prod"}


MAX_CONSTANT = 2**24
"""Largest constant tensor (elements) a config may hold."""


def _bind(op: Op, inputs: list[Value], em: Emitter) -> tuple[list[Any], dict[str, Any]]:
    """The call's args and kwargs with each TensorRef replaced by its Value, Keras 3's constant tensors by
    ``Constant`` buffers, ``__slice__``/``__ellipsis__`` by slices and ``...``."""
    queue = iter(inputs)

    def swap(value: Any) -> Any:
        if isinstance(value, TensorRef):
            return next(queue)
        if isinstance(value, dict) and value.get("class_name") in ("__tensor__", "__numpy__"):
            return em.constant(op.layer, _constant_array(op, value.get("config")))
        if isinstance(value, dict) and value.get("class_name") == "__slice__":
            bounds = value.get("config")
            parts = [bounds.get(k) for k in ("start", "stop", "step")] if isinstance(bounds, Mapping) else [0, 0, 0]
            if not all(p is None or (isinstance(p, int) and not isinstance(p, bool)) for p in parts) or parts[2] == 0:
                raise _bad(op, "slice", value, "integer or null start, stop and step (step not 0)")
            return slice(*parts)
        if isinstance(value, dict) and value.get("class_name") == "__ellipsis__":
            return Ellipsis
        if isinstance(value, list):
            return [swap(v) for v in value]
        if isinstance(value, dict):
            return {k: swap(v) for k, v in value.items()}
        return value

    return swap(op.args), swap(op.kwargs)


_CONSTANT_DTYPES = {"float16": np.float32, "bfloat16": np.float32, "float32": np.float32, "float64": np.float64,
                    "int8": np.int64, "int16": np.int64, "int32": np.int64, "int64": np.int64, "uint8": np.int64,
                    "bool": np.bool_}


def _constant_array(op: Op, config: Any) -> np.ndarray:
    if not isinstance(config, Mapping) or config.get("dtype") not in _CONSTANT_DTYPES:
        raise _bad(op, "constant tensor", config, f"a value with one of the dtypes {sorted(_CONSTANT_DTYPES)}")
    try:
        array: np.ndarray = np.asarray(config.get("value"), dtype=_CONSTANT_DTYPES[config["dtype"]])
    except (TypeError, ValueError, OverflowError):
        raise _bad(op, "constant tensor", config.get("value"), "a rectangular array of numbers") from None
    if array.size > MAX_CONSTANT or array.ndim > 8 or (array.dtype.kind == "f" and not np.all(np.isfinite(array))):
        raise _bad(op, "constant tensor", config.get("value"), f"finite numbers, at most {MAX_CONSTANT} of them")
    return array


def _bad(op: Op, what: str, value: Any, allowed: str) -> ConfigValueError:
    return ConfigValueError(f"{op.layer.describe()}: its {what} is {shown(value)}; Keras allows {allowed}")


def _tensor(value: Any, op: Op, what: str = "operand") -> Value:
    if not isinstance(value, Value):
        raise _bad(op, what, value, "a tensor")
    return value


def _operand(value: Any, op: Op) -> Expr:
    if isinstance(value, Value):
        return value.ref
    if isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value):
        return _number(value)
    raise refuse(op.layer, f"takes a constant operand {shown(value)}", "only finite scalar constants are converted")


def _number(value: int | float) -> Expr:
    from ._ir import const

    return const(float(value) if isinstance(value, float) else int(value))


def _axis(value: Any, rank: int, op: Op) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or not -rank <= value < rank:
        raise _bad(op, "axis", value, f"an integer axis of a rank-{rank} tensor")
    return value % rank


def _axes(value: Any, rank: int, op: Op) -> list[int]:
    items = value if isinstance(value, list | tuple) else [value]
    axes = [_axis(a, rank, op) for a in items]
    if len(set(axes)) != len(axes):
        raise _bad(op, "axes", value, "distinct axes")
    return axes


def _binary(kind: str, a: Any, b: Any, op: Op, em: Emitter) -> Value:
    given = [v for v in (a, b) if isinstance(v, Value)]
    if not given:
        raise refuse(op.layer, "combines two constants", "a node of the graph takes at least one tensor")
    a, b = (_list_constant(v, given[0], op, em) if isinstance(v, list) else v for v in (a, b))
    tensors = [v for v in (a, b) if isinstance(v, Value)]
    if len({v.rank for v in tensors}) > 1 and min(v.rank for v in tensors) > 0:
        tensors = [em.to_layout(v, "keras") for v in tensors]  # broadcasting aligns trailing Keras axes
    tensors = em.align(tensors)
    aligned = iter(tensors)
    a, b = (next(aligned) if isinstance(v, Value) else v for v in (a, b))
    like = max(tensors, key=lambda v: v.rank).with_(shape=_broadcast_shape([v.shape for v in tensors], op))
    if kind in ("maximum", "minimum") and not all(isinstance(v, Value) for v in (a, b)):
        tensor, constant = (a, b) if isinstance(a, Value) else (b, a)
        bound = {"min": _operand(constant, op)} if kind == "maximum" else {"max": _operand(constant, op)}
        return em.let(op.layer.name, torch.clamp(tensor, **bound), like)
    if kind == "matmul":
        a, b = (em.to_layout(v, "keras") if isinstance(v, Value) else v for v in (a, b))
        like = em.to_layout(like, "keras")
    return em.let(op.layer.name, _BINARY[kind](_operand(a, op), _operand(b, op)), like)


def _list_constant(value: list[Any], like: Value, op: Op, em: Emitter) -> Value:
    """tf.keras keeps a Python list operand (``x + [0, 1, 2]``) as a list; TensorFlow converts it to the tensor's
    dtype."""
    return em.constant(op.layer, _constant_array(op, {"value": value, "dtype": "int64" if like.integer else "float32"}))


def _broadcast_shape(shapes: list[tuple[int | None, ...]], op: Op) -> tuple[int | None, ...]:
    """NumPy's broadcasting of Keras shapes (None: unknown size)."""
    rank = max(len(s) for s in shapes)
    padded = [(1,) * (rank - len(s)) + tuple(s) for s in shapes]
    result: list[int | None] = []
    for sizes in zip(*padded, strict=True):
        known = {d for d in sizes if d is not None and d != 1}
        if len(known) > 1:
            raise _bad(op, "operand shapes", shapes, "shapes that broadcast")
        result.append(known.pop() if known else None if None in sizes else 1)
    return tuple(result)


def _reduce(kind: str, x: Value, axis: Any, keepdims: Any, op: Op, em: Emitter) -> Value:
    if not isinstance(keepdims, bool):
        raise _bad(op, "keepdims", keepdims, "true or false")
    if axis is None:
        return em.let(op.layer.name, x.ref.m(_REDUCE[kind]), x, shape=(), layout="keras")
    axes = _axes(axis, x.rank, op)
    dims = tuple(x.torch_axis(a) for a in axes)  # no transpose: the axes are translated instead
    if keepdims:
        shape = tuple(1 if i in axes else d for i, d in enumerate(x.shape))
        return em.let(op.layer.name, x.ref.m(_REDUCE[kind], dim=dims, keepdim=True), x, shape=shape)
    shape = tuple(d for i, d in enumerate(x.shape) if i not in axes)
    layout = "cf" if x.channels_first and (x.rank - 1) not in axes and len(shape) >= 3 else "keras"
    expr = x.ref.m(_REDUCE[kind], dim=dims if len(dims) > 1 else dims[0])
    return em.let(op.layer.name, expr, x, shape=shape, layout=layout)


def _reshape(x: Value, shape: Any, op: Op, em: Emitter) -> Value:
    x = em.to_layout(x, "keras")
    if not isinstance(shape, list | tuple) or not shape or len(shape) > 16 or not all(
            s is None or (isinstance(s, int) and not isinstance(s, bool) and (0 < s <= MAX_DIMENSION or s == -1))
            for s in shape) or sum(s in (None, -1) for s in shape) > 1:
        raise _bad(op, "new shape", shape, "positive sizes with at most one -1")
    target = [-1 if s is None else int(s) for s in shape]
    return em.let(op.layer.name, x.ref.m("reshape", *target), x, shape=tuple(None if s == -1 else s for s in target))


def _transpose(x: Value, axes: Any, op: Op, em: Emitter) -> Value:
    x = em.to_layout(x, "keras")
    order = list(range(x.rank))[::-1] if axes is None else _axes(axes, x.rank, op)
    if sorted(order) != list(range(x.rank)):
        raise _bad(op, "axes", axes, f"a permutation of 0..{x.rank - 1}")
    return em.let(op.layer.name, x.ref.m("permute", *order), x, shape=tuple(x.shape[a] for a in order))


def _expand(x: Value, axis: Any, op: Op, em: Emitter) -> Value:
    x = em.to_layout(x, "keras")
    position = _axis(axis, x.rank + 1, op)
    shape = (*x.shape[:position], 1, *x.shape[position:])
    return em.let(op.layer.name, x.ref.m("unsqueeze", position), x, shape=shape)


def _squeeze(x: Value, axis: Any, op: Op, em: Emitter) -> Value:
    x = em.to_layout(x, "keras")
    axes = [i for i, d in enumerate(x.shape) if d == 1] if axis is None else _axes(axis, x.rank, op)
    if not axes:
        return x
    shape = tuple(d for i, d in enumerate(x.shape) if i not in axes)
    return em.let(op.layer.name, x.ref.m("squeeze", tuple(axes) if len(axes) > 1 else axes[0]), x, shape=shape)


def _concat(values: Any, axis: Any, op: Op, em: Emitter) -> Value:
    if not isinstance(values, list) or not values or not all(isinstance(v, Value) for v in values):
        raise _bad(op, "operands", values, "a list of tensors")
    values = em.align(values)
    index = _axis(axis, values[0].rank, op)
    shape = list(values[0].shape)
    sizes = [v.shape[index] for v in values]
    shape[index] = None if None in sizes else sum(s for s in sizes if s is not None)
    return em.let(op.layer.name, torch.cat([v.ref for v in values], dim=values[0].torch_axis(index)), values[0],
                  shape=tuple(shape))


def _pad(x: Value, pad_width: Any, op: Op, em: Emitter) -> Value:
    """TensorFlow's ``Pad`` on a Keras-layout tensor: ``pad_width`` lists (before, after) per axis."""
    ok = lambda v: isinstance(v, int) and not isinstance(v, bool) and 0 <= v <= MAX_DIMENSION  # noqa: E731
    if not isinstance(pad_width, list | tuple) or len(pad_width) != x.rank or not all(
            isinstance(p, list | tuple) and len(p) == 2 and ok(p[0]) and ok(p[1]) for p in pad_width):
        raise _bad(op, "pad_width", pad_width, f"{x.rank} (before, after) pairs of non-negative integers")
    pairs = [(int(a), int(b)) for a, b in pad_width]
    if x.channels_first and pairs[0] == (0, 0) and pairs[-1] == (0, 0):
        order = [pairs[0], pairs[-1], *pairs[1:-1]]  # spatial padding only: pad the channels-first tensor as is
    else:
        x, order = em.to_layout(x, "keras"), pairs
    flat = [v for pair in reversed(order) for v in pair]
    while len(flat) > 2 and flat[-2:] == [0, 0]:
        flat = flat[:-2]
    shape = tuple(None if d is None else d + a + b for d, (a, b) in zip(x.shape, pairs, strict=True))
    return em.let(op.layer.name, F.pad(x, tuple(flat)), x, shape=shape)


def _softmax(x: Value, axis: Any, op: Op, em: Emitter) -> Value:
    axes = _axes(axis, x.rank, op)
    if len(axes) != 1:
        raise refuse(op.layer, f"takes a softmax over axes {axes}", "only one axis is converted")
    return em.let(op.layer.name, F.softmax(x, dim=x.torch_axis(axes[0])), x)


def _clip(x: Value, low: Any, high: Any, op: Op, em: Emitter) -> Value:
    return em.let(op.layer.name, torch.clamp(x, _operand(low, op), _operand(high, op)), x)


def _gelu(x: Value, approximate: Any, op: Op, em: Emitter) -> Value:
    """``keras.ops.gelu`` defaults to the tanh approximation (the layer activation "gelu" does not)."""
    if not isinstance(approximate, bool):
        raise _bad(op, "approximate", approximate, "true or false")
    return em.let(op.layer.name, F.gelu(x, approximate="tanh") if approximate else F.gelu(x), x)


_FLOAT_TYPES = ("float32", "float64")
_INTEGER_TYPES = ("int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64")


def _cast(x: Value, dtype: Any, op: Op, em: Emitter) -> Value:
    """A cast to float32/64 keeps the module's float type; to an integer type it truncates toward zero as Keras does."""
    name = dtype.get("config", {}).get("name") if isinstance(dtype, Mapping) else dtype
    if name is None:
        return x
    if name in _FLOAT_TYPES:  # the module's own float type: float64 when converted so
        return em.let(op.layer.name, x.ref.m("to", em.float_type), x, integer=False) if x.integer else x
    if name in _INTEGER_TYPES:
        return em.let(op.layer.name, x.ref.m("to", torch.int64), x, integer=True)
    if name == "bool":
        return em.let(op.layer.name, x.ref.m("ne", 0), x, integer=True)
    raise refuse(op.layer, f"casts to {quoted(name, 30)}", "casts to float32/64, integers and bool are converted")


_COMPARISONS = {"not_equal": "!=", "equal": "==", "greater": ">", "greater_equal": ">=", "less": "<",
                "less_equal": "<="}


def _comparison(kind: str, a: Any, b: Any, op: Op, em: Emitter) -> Value:
    """An element-wise comparison: a boolean tensor (Keras 3 records a mask this way: ``NotEqual``)."""
    tensors = em.align([v for v in (a, b) if isinstance(v, Value)])
    if not tensors:
        raise refuse(op.layer, "compares two constants", "a node of the graph takes at least one tensor")
    aligned = iter(tensors)
    a, b = (next(aligned) if isinstance(v, Value) else v for v in (a, b))
    like = max(tensors, key=lambda v: v.rank)
    return em.let(op.layer.name, compare(_COMPARISONS[kind], _operand(a, op), _operand(b, op)), like, integer=True)


def _logical(kind: str, values: list[Any], op: Op, em: Emitter) -> Value:
    tensors = [_tensor(v, op) for v in values]
    tensors = em.align(tensors)
    if kind == "logical_not":
        return em.let(op.layer.name, torch.logical_not(tensors[0]), tensors[0], integer=True)
    function = torch.logical_and if kind == "logical_and" else torch.logical_or
    return em.let(op.layer.name, function(tensors[0], tensors[1]), max(tensors, key=lambda v: v.rank), integer=True)


def _any_all(kind: str, x: Value, axis: Any, keepdims: Any, op: Op, em: Emitter) -> Value:
    if not isinstance(keepdims, bool):
        raise _bad(op, "keepdims", keepdims, "true or false")
    if axis is None:
        return em.let(op.layer.name, x.ref.m(kind), x, shape=(), layout="keras", integer=True)
    axes = _axes(axis, x.rank, op)
    expr: Expr = x.ref
    for dim in sorted((x.torch_axis(a) for a in axes), reverse=True):  # one axis at a time: any torch version
        expr = expr.m(kind, dim=dim, keepdim=keepdims)
    shape = tuple(1 if i in axes else d for i, d in enumerate(x.shape)) if keepdims else \
        tuple(d for i, d in enumerate(x.shape) if i not in axes)
    layout = x.layout if keepdims or (x.channels_first and (x.rank - 1) not in axes and len(shape) >= 3) else "keras"
    return em.let(op.layer.name, expr, x, shape=shape, layout=layout, integer=True)


def _where(condition: Any, a: Any, b: Any, op: Op, em: Emitter) -> Value:
    tensors = em.align([v for v in (condition, a, b) if isinstance(v, Value)])
    aligned = iter(tensors)
    condition, a, b = (next(aligned) if isinstance(v, Value) else v for v in (condition, a, b))
    condition = _tensor(condition, op, "condition")
    like = max((v for v in (a, b) if isinstance(v, Value)), key=lambda v: v.rank, default=condition)
    cond = condition.ref if condition.integer else compare("!=", condition, 0)
    return em.let(op.layer.name, torch.where(cond, _operand(a, op), _operand(b, op)), like.with_(integer=False))


def _einsum(a: list[Any], k: Mapping[str, Any], op: Op, em: Emitter) -> Value:
    """``keras.ops.einsum`` / ``tf.einsum``: the equation is checked (letters, commas, one arrow), operands Keras-laid."""
    from ._rules_attention import check_equation

    strings = [v for v in a if isinstance(v, str)]
    equation = check_equation(op.layer, k.get("subscripts", k.get("equation", strings[0] if strings else None)))
    operands = [em.to_layout(v, "keras") for v in (*(v for v in a if isinstance(v, Value)),
                                                    *(v for v in k.get("inputs", []) if isinstance(v, Value)))]
    if not operands or len(operands) != len(equation.split("->")[0].split(",")):
        raise refuse(op.layer, f"takes {len(operands)} tensors for the equation {equation!r}")
    if "." in equation:
        raise refuse(op.layer, f"uses an ellipsis in {equation!r}", "not converted yet")
    letters: dict[str, int | None] = {}
    for term, value in zip(equation.split("->")[0].split(","), operands, strict=True):
        if len(term) != value.rank:
            raise _bad(op, "equation", equation, f"one letter per axis of its operands ({[v.rank for v in operands]})")
        letters.update(zip(term, value.shape, strict=True))
    shape = tuple(letters.get(letter) for letter in equation.split("->")[1])
    return em.let(op.layer.name, torch.einsum(equation, *operands), operands[0], shape=shape)


def _get_item(x: Value, key: Any, op: Op, em: Emitter) -> Value:
    """``x[key]``: integers, slices, one ``...`` and ``None`` (a new axis), as NumPy reads them."""
    x = em.to_layout(x, "keras")
    items = list(key) if isinstance(key, list | tuple) else [key]
    ok = lambda i: i is None or i is Ellipsis or isinstance(i, slice) or (  # noqa: E731
        isinstance(i, int) and not isinstance(i, bool))
    if not items or not all(ok(i) for i in items) or sum(i is Ellipsis for i in items) > 1:
        raise _bad(op, "index", key, "integers, slices, one ellipsis and None")
    explicit = sum(1 for i in items if i is not None and i is not Ellipsis)
    if explicit > x.rank:
        raise _bad(op, "index", key, f"at most {x.rank} indices for a rank-{x.rank} tensor")
    expanded: list[Any] = []
    for item in items:
        expanded += [slice(None)] * (x.rank - explicit) if item is Ellipsis else [item]
    expanded += [slice(None)] * (x.rank - sum(1 for i in expanded if i is not None))
    shape: list[int | None] = []
    axis = 0
    for item in expanded:
        if item is None:
            shape.append(1)
            continue
        size = x.shape[axis]
        if isinstance(item, slice):
            shape.append(None if size is None else len(range(*item.indices(size))))
        elif size is not None and not -size <= item < size:
            raise _bad(op, "index", item, f"an index inside an axis of size {size}")
        if isinstance(item, int) and axis == 0 and size is None:  # a sized first axis: tf.shape's vector
            raise refuse(op.layer, "indexes the batch axis", "not converted")
        axis += 1
    return em.let(op.layer.name, x.ref[tuple(items)], x, shape=tuple(shape))


def _stack(values: Any, axis: Any, op: Op, em: Emitter) -> Value:
    if not isinstance(values, list) or not values or not all(isinstance(v, Value) for v in values):
        raise _bad(op, "operands", values, "a list of tensors")
    values = [em.to_layout(v, "keras") for v in values]
    position = _axis(axis, values[0].rank + 1, op)
    shape = (*values[0].shape[:position], len(values), *values[0].shape[position:])
    return em.let(op.layer.name, torch.stack([v.ref for v in values], dim=position), values[0], shape=shape)


def _split(x: Value, sections: Any, axis: Any, op: Op, em: Emitter) -> list[Value]:
    """``keras.ops.split``: equal sections (which must divide the axis) or split points."""
    x = em.to_layout(x, "keras")
    dim = _axis(axis, x.rank, op)
    size = x.shape[dim]
    if isinstance(sections, int) and not isinstance(sections, bool) and sections > 0:
        if size is not None and size % sections:
            raise _bad(op, "sections", sections, f"a number that divides the axis size {size}")
        points = [size // sections * i for i in range(1, sections)] if size is not None else None
        count = sections
    elif isinstance(sections, list) and all(isinstance(i, int) and not isinstance(i, bool) for i in sections):
        points, count = list(sections), len(sections) + 1
    else:
        raise _bad(op, "indices_or_sections", sections, "a positive integer or a list of split points")
    if points is None or size is None:
        raise refuse(op.layer, "splits an axis of unknown size", "give the Keras Input a fixed shape")
    bounds: list[int] = [0, *points, size]
    names = em.unpack(x.ref.m("tensor_split", points, dim=dim), [f"{op.layer.name}_{i}" for i in range(count)])
    return [x.with_(name=name, shape=(*x.shape[:dim], b - a, *x.shape[dim + 1:]))
            for name, a, b in zip(names, bounds[:-1], bounds[1:], strict=True)]


def _cumulative(kind: str, x: Value, axis: Any, op: Op, em: Emitter) -> Value:
    x = em.to_layout(x, "keras")
    if axis is None:
        return em.let(op.layer.name, x.ref.m("flatten", 1).m(kind, dim=1), x, shape=(x.shape[0], None))
    return em.let(op.layer.name, x.ref.m(kind, dim=_axis(axis, x.rank, op)), x)


def _indices(value: Any, op: Op, em: Emitter) -> Value:
    """Integer indices: a tensor of the graph or a constant (a buffer)."""
    if isinstance(value, Value):
        return value if value.integer else em.let(op.layer.name + "_indices", value.ref.m("long"), value, integer=True)
    array = np.asarray(value) if isinstance(value, int | list) and not isinstance(value, bool) else None
    if array is None or array.dtype.kind not in "iu" or array.size > 1_000_000:
        raise _bad(op, "indices", value, "a tensor or integer constants")
    return em.constant(op.layer, array.astype(np.int64))


def _take(x: Value, indices: Any, axis: Any, op: Op, em: Emitter) -> Value:
    """``take``: ``x`` indexed by ``indices`` along ``axis`` (the output holds the indices' axes there);
    negative indices count from the end, as TensorFlow's backend wraps them."""
    x = em.to_layout(x, "keras")
    index = _indices(indices, op, em)
    if axis is None:
        flat = em.let(op.layer.name + "_flat", x.ref.m("flatten"), x, shape=(None,))
        return em.let(op.layer.name, flat.ref[index.ref], index, integer=x.integer)
    dim = _axis(axis, x.rank, op)
    key = (*([slice(None)] * dim), index.ref)
    return em.let(op.layer.name, x.ref[key], x, shape=(*x.shape[:dim], *index.shape, *x.shape[dim + 1:]))


def _one_hot(x: Value, classes: Any, axis: Any, op: Op, em: Emitter) -> Value:
    """``one_hot`` along the last axis: ids outside [0, classes) give a zero row, as ``tf.one_hot`` does."""
    if not isinstance(classes, int) or isinstance(classes, bool) or not 0 < classes <= 1_000_000:
        raise _bad(op, "num_classes", classes, "a positive integer")
    if axis not in (-1, None):
        raise refuse(op.layer, f"encodes along axis {axis}", "only the last axis is converted")
    ids = _indices(x, op, em)
    hits = compare("==", ids.ref.m("unsqueeze", -1), em.constant(op.layer, np.arange(classes, dtype=np.int64)).ref)
    return em.let(op.layer.name, hits.m("to", em.float_type), ids, shape=(*ids.shape, classes), integer=False)


def _tile(x: Value, repeats: Any, op: Op, em: Emitter) -> Value:
    x = em.to_layout(x, "keras")
    counts = [repeats] if isinstance(repeats, int) else repeats
    if not isinstance(counts, list | tuple) or not counts or \
            not all(isinstance(r, int) and not isinstance(r, bool) and 0 < r <= 65536 for r in counts):
        raise _bad(op, "repeats", repeats, "positive integers")
    full = [1] * max(0, x.rank - len(counts)) + list(counts)
    if len(full) != x.rank:
        raise refuse(op.layer, f"tiles a rank-{x.rank} tensor {len(counts)} times over", "not converted")
    shape = tuple(None if d is None else d * r for d, r in zip(x.shape, full, strict=True))
    return em.let(op.layer.name, torch.tile(x.ref, tuple(full)), x, shape=shape)


def _repeat(x: Value, repeats: Any, axis: Any, op: Op, em: Emitter) -> Value:
    x = em.to_layout(x, "keras")
    if not isinstance(repeats, int) or isinstance(repeats, bool) or not 0 < repeats <= 65536:
        raise _bad(op, "repeats", repeats, "a positive integer")
    if axis is None:
        return em.let(op.layer.name, x.ref.m("flatten").m("repeat_interleave", repeats), x, shape=(None,))
    dim = _axis(axis, x.rank, op)
    shape = tuple(None if d is None else d * repeats if i == dim else d for i, d in enumerate(x.shape))
    return em.let(op.layer.name, x.ref.m("repeat_interleave", repeats, dim=dim), x, shape=shape)


def _norm(x: Value, order: Any, axis: Any, keepdims: Any, op: Op, em: Emitter) -> Value:
    """Vector norms (order None/2, 1, ±inf) over one axis or, for order None, several (Frobenius)."""
    x = em.to_layout(x, "keras")
    if not isinstance(keepdims, bool):
        raise _bad(op, "keepdims", keepdims, "true or false")
    axes = list(range(x.rank)) if axis is None else _axes(axis, x.rank, op)
    if len(axes) > 1 and order is not None:
        raise refuse(op.layer, f"takes a matrix norm of order {shown(order)}", "only the Frobenius norm is converted")
    dims = tuple(axes) if len(axes) > 1 else axes[0]
    inf = float("inf")
    if order in (None, 2, 2.0):
        expr = x.ref.m("square").m("sum", dim=dims, keepdim=keepdims).m("sqrt")
    elif order in (1, 1.0):
        expr = x.ref.m("abs").m("sum", dim=dims, keepdim=keepdims)
    elif order in (inf, -inf, "inf", "-inf"):
        expr = x.ref.m("abs").m("amax" if order in (inf, "inf") else "amin", dim=dims, keepdim=keepdims)
    else:
        raise refuse(op.layer, f"takes a norm of order {shown(order)}", "orders None, 1, 2 and ±inf are converted")
    shape = tuple(1 if i in axes else d for i, d in enumerate(x.shape)) if keepdims else \
        tuple(d for i, d in enumerate(x.shape) if i not in axes)
    return em.let(op.layer.name, expr, x, shape=shape)


def _top_k(x: Value, k: Any, ordered: Any, op: Op, em: Emitter) -> list[Value]:
    """``top_k`` over the last axis: the k largest values and their indices, largest first."""
    x = em.to_layout(x, "keras")
    width = x.shape[-1]
    if not isinstance(k, int) or isinstance(k, bool) or k < 1 or (width is not None and k > width):
        raise _bad(op, "k", k, f"a positive integer at most the last axis's size {width}")
    if ordered is not True:
        raise refuse(op.layer, "asks for top_k unsorted", "TensorFlow's unsorted order is its kernel's; not converted")
    values, indices = em.unpack(torch.topk(x.ref, k, dim=-1), [op.layer.name + "_values", op.layer.name + "_indices"])
    shape = (*x.shape[:-1], k)
    return [x.with_(name=values, shape=shape), x.with_(name=indices, shape=shape, integer=True)]


def _logsumexp(x: Value, axis: Any, keepdims: Any, op: Op, em: Emitter) -> Value:
    x = em.to_layout(x, "keras")
    if not isinstance(keepdims, bool):
        raise _bad(op, "keepdims", keepdims, "true or false")
    axes = list(range(x.rank)) if axis is None else _axes(axis, x.rank, op)
    shape = tuple(1 if i in axes else d for i, d in enumerate(x.shape)) if keepdims else \
        tuple(d for i, d in enumerate(x.shape) if i not in axes)
    dims = tuple(axes) if len(axes) > 1 else axes[0]
    return em.let(op.layer.name, torch.logsumexp(x, dim=dims, keepdim=keepdims), x, shape=shape)


def _arg_reduce(kind: str, x: Value, axis: Any, keepdims: Any, op: Op, em: Emitter) -> Value:
    x = em.to_layout(x, "keras")
    if axis is None or not isinstance(keepdims, bool):
        raise _bad(op, "axis", axis, "an axis (and keepdims true or false)")
    dim = _axis(axis, x.rank, op)
    shape = tuple(1 if i == dim else d for i, d in enumerate(x.shape)) if keepdims else \
        tuple(d for i, d in enumerate(x.shape) if i != dim)
    return em.let(op.layer.name, x.ref.m(kind, dim=dim, keepdim=keepdims), x, shape=shape, integer=True)


def _arg(args: list[Any], kwargs: Mapping[str, Any], index: int, name: str, default: Any = None) -> Any:
    if len(args) > index:
        return args[index]
    return kwargs.get(name, default)


OpEmit = Callable[[list[Any], Mapping[str, Any], Op, Emitter], Value]


def _binary_emitter(kind: str) -> OpEmit:
    def emit(a: list[Any], k: Mapping[str, Any], op: Op, em: Emitter) -> Value:
        return _binary(kind, _arg(a, k, 0, "x1", _arg(a, k, 0, "x")), _arg(a, k, 1, "x2", _arg(a, k, 1, "y")), op, em)

    return emit


def _unary_emitter(function: Callable[[Expr], Expr]) -> OpEmit:
    def emit(a: list[Any], k: Mapping[str, Any], op: Op, em: Emitter) -> Value:
        x = _tensor(_arg(a, k, 0, "x"), op)
        return em.let(op.layer.name, function(x.ref), x)

    return emit


def _reduce_emitter(kind: str) -> OpEmit:
    def emit(a: list[Any], k: Mapping[str, Any], op: Op, em: Emitter) -> Value:
        return _reduce(kind, _tensor(_arg(a, k, 0, "x"), op), _arg(a, k, 1, "axis"), _arg(a, k, 2, "keepdims", False),
                       op, em)

    return emit


def _comparison_emitter(kind: str) -> OpEmit:
    def emit(a: list[Any], k: Mapping[str, Any], op: Op, em: Emitter) -> Value:
        return _comparison(kind, _arg(a, k, 0, "x1", _arg(a, k, 0, "x")), _arg(a, k, 1, "x2", _arg(a, k, 1, "y")), op,
                           em)

    return emit


def _logical_emitter(kind: str) -> OpEmit:
    def emit(a: list[Any], k: Mapping[str, Any], op: Op, em: Emitter) -> Value:
        operands = [_arg(a, k, 0, "x")] if kind == "logical_not" else [_arg(a, k, 0, "x1"), _arg(a, k, 1, "x2")]
        return _logical(kind, operands, op, em)

    return emit


def _any_all_emitter(kind: str) -> OpEmit:
    def emit(a: list[Any], k: Mapping[str, Any], op: Op, em: Emitter) -> Value:
        return _any_all(kind, _tensor(_arg(a, k, 0, "x"), op), _arg(a, k, 1, "axis"), _arg(a, k, 2, "keepdims", False),
                        op, em)

    return emit


def _table() -> dict[str, OpEmit]:
    table: dict[str, OpEmit] = {}
    for kind in _BINARY:
        table[kind] = _binary_emitter(kind)
    for kind, function in _UNARY.items():
        table[kind] = _unary_emitter(function)
    for kind in _REDUCE:
        table[kind] = _reduce_emitter(kind)
    t = lambda a, k, op: _tensor(_arg(a, k, 0, "x"), op)  # noqa: E731
    table["reshape"] = lambda a, k, op, em: _reshape(t(a, k, op), _arg(a, k, 1, "newshape", k.get("new_shape")), op, em)
    table["transpose"] = lambda a, k, op, em: _transpose(t(a, k, op), _arg(a, k, 1, "axes"), op, em)
    table["expand_dims"] = lambda a, k, op, em: _expand(t(a, k, op), _arg(a, k, 1, "axis"), op, em)
    table["squeeze"] = lambda a, k, op, em: _squeeze(t(a, k, op), _arg(a, k, 1, "axis"), op, em)
    table["concatenate"] = lambda a, k, op, em: _concat(_arg(a, k, 0, "xs"), _arg(a, k, 1, "axis", 0), op, em)
    table["softmax"] = lambda a, k, op, em: _softmax(t(a, k, op), _arg(a, k, 1, "axis", -1), op, em)
    table["pad"] = lambda a, k, op, em: _pad(t(a, k, op), _arg(a, k, 1, "pad_width"), op, em)
    table["clip"] = lambda a, k, op, em: _clip(t(a, k, op), _arg(a, k, 1, "x_min"), _arg(a, k, 2, "x_max"), op, em)
    table["gelu"] = lambda a, k, op, em: _gelu(t(a, k, op), _arg(a, k, 1, "approximate", True), op, em)
    table["cast"] = lambda a, k, op, em: _cast(t(a, k, op), _arg(a, k, 1, "dtype"), op, em)
    for kind in _COMPARISONS:
        table[kind] = _comparison_emitter(kind)
    for kind in ("logical_and", "logical_or", "logical_not"):
        table[kind] = _logical_emitter(kind)
    for kind in ("any", "all"):
        table[kind] = _any_all_emitter(kind)
    table["einsum"] = _einsum
    table["zeros_like"] = lambda a, k, op, em: em.let(op.layer.name, torch.zeros_like(t(a, k, op)), t(a, k, op))
    table["ones_like"] = lambda a, k, op, em: em.let(op.layer.name, torch.ones_like(t(a, k, op)), t(a, k, op))
    table["get_item"] = lambda a, k, op, em: _get_item(t(a, k, op), _arg(a, k, 1, "key"), op, em)
    table["stack"] = lambda a, k, op, em: _stack(_arg(a, k, 0, "x"), _arg(a, k, 1, "axis", 0), op, em)
    table["cumsum"] = lambda a, k, op, em: _cumulative("cumsum", t(a, k, op), _arg(a, k, 1, "axis"), op, em)
    table["cumprod"] = lambda a, k, op, em: _cumulative("cumprod", t(a, k, op), _arg(a, k, 1, "axis"), op, em)
    table["argmax"] = lambda a, k, op, em: _arg_reduce("argmax", t(a, k, op), _arg(a, k, 1, "axis"),
                                                       _arg(a, k, 2, "keepdims", False), op, em)
    table["argmin"] = lambda a, k, op, em: _arg_reduce("argmin", t(a, k, op), _arg(a, k, 1, "axis"),
                                                       _arg(a, k, 2, "keepdims", False), op, em)
    table["logsumexp"] = lambda a, k, op, em: _logsumexp(t(a, k, op), _arg(a, k, 1, "axis"),
                                                         _arg(a, k, 2, "keepdims", False), op, em)
    table["take"] = lambda a, k, op, em: _take(t(a, k, op), _arg(a, k, 1, "indices"), _arg(a, k, 2, "axis"), op, em)
    table["one_hot"] = lambda a, k, op, em: _one_hot(_arg(a, k, 0, "x"), _arg(a, k, 1, "num_classes"),
                                                     _arg(a, k, 2, "axis", -1), op, em)
    table["tile"] = lambda a, k, op, em: _tile(t(a, k, op), _arg(a, k, 1, "repeats"), op, em)
    table["repeat"] = lambda a, k, op, em: _repeat(t(a, k, op), _arg(a, k, 1, "repeats"), _arg(a, k, 2, "axis"), op,
                                                   em)
    table["norm"] = lambda a, k, op, em: _norm(t(a, k, op), _arg(a, k, 1, "ord"), _arg(a, k, 2, "axis"),
                                               _arg(a, k, 3, "keepdims", False), op, em)
    table["convert_to_tensor"] = lambda a, k, op, em: _cast(t(a, k, op), k.get("dtype"), op, em)
    table["where"] = lambda a, k, op, em: _where(_arg(a, k, 0, "condition"), _arg(a, k, 1, "x1"), _arg(a, k, 2, "x2"),
                                                 op, em)
    return table


KERAS_OPS = _table()
"""Keras 3 operation (snake-cased class name) → emitter."""

_KERAS_OP_NAMES = {"ZerosLike": "zeros_like", "OnesLike": "ones_like", "GetItem": "get_item",
                   "LogSumExp": "logsumexp", "Logsumexp": "logsumexp",
                   "ConvertToTensor": "convert_to_tensor", "NotEqual": "not_equal", "GreaterEqual": "greater_equal",
                   "LessEqual": "less_equal",
                   "LogicalAnd": "logical_and", "LogicalOr": "logical_or", "LogicalNot": "logical_not",
                   "TrueDivide": "divide", "Divide": "divide", "Matmul": "matmul", "ExpandDims": "expand_dims",
                   "HardSigmoid": "hard_sigmoid", "HardSilu": "hard_silu", "Relu6": "relu6", "StopGradient":
                   "stop_gradient", "Concatenate": "concatenate", "Amax": "max", "Amin": "min", "Absolute": "abs",
                   "OneHot": "one_hot", "TopK": "top_k"}


MULTI_OUTPUT = ("split", "top_k")
"""Operations returning several tensors (their number is read from the config by the graph reader)."""


def is_operation(layer: Layer) -> bool:
    """A keras.ops call rather than a layer: its module says so, or (legacy .h5 configs drop the module)
    its config holds nothing but a name, where every layer's config also records ``trainable``."""
    if layer.module.startswith("keras.src.ops"):
        return True
    return not layer.module and "trainable" not in layer.config and \
        _KERAS_OP_NAMES.get(layer.class_name, layer.class_name.lower()) in (*KERAS_OPS, *MULTI_OUTPUT)


def emit_keras_op(op: Op, inputs: list[Value], em: Emitter) -> list[Value]:
    name = _KERAS_OP_NAMES.get(op.layer.class_name, op.layer.class_name.lower())
    if name not in KERAS_OPS and name not in MULTI_OUTPUT:
        raise refuse(op.layer, f"is the keras.ops operation {quoted(op.layer.class_name, 40)} "
                     f"({quoted(op.layer.module, 40)}), which has no conversion",
                     f"converted operations: {', '.join(sorted(KERAS_OPS))}")
    args, kwargs = _bind(op, inputs, em)
    config = {k: v for k, v in op.layer.config.items() if k not in ("name", "trainable", "dtype")}
    if name == "cast":
        config["dtype"] = op.layer.config.get("dtype")
    merged = {**config, **kwargs}
    if name == "split":
        return _split(_tensor(_arg(args, merged, 0, "x"), op), _arg(args, merged, 1, "indices_or_sections"),
                      _arg(args, merged, 2, "axis", 0), op, em)
    if name == "top_k":
        return _top_k(_tensor(_arg(args, merged, 0, "x"), op), _arg(args, merged, 1, "k"),
                      _arg(args, merged, 2, "sorted", True), op, em)
    return [KERAS_OPS[name](args, merged, op, em)]


TF_FUNCTIONS = {
    "__operators__.add": "add", "math.add": "add", "math.add_n": "add", "__operators__.sub": "subtract",
    "math.subtract": "subtract", "math.multiply": "multiply", "__operators__.mul": "multiply",
    "math.truediv": "divide", "__operators__.truediv": "divide", "math.divide": "divide", "math.pow": "power",
    "math.maximum": "maximum", "math.minimum": "minimum", "linalg.matmul": "matmul", "matmul": "matmul",
    "math.negative": "negative", "math.abs": "abs", "math.sqrt": "sqrt", "math.square": "square", "math.exp": "exp",
    "math.log": "log", "math.tanh": "tanh", "math.sigmoid": "sigmoid", "nn.relu": "relu", "nn.relu6": "relu6",
    "nn.silu": "silu", "nn.swish": "silu", "nn.gelu": "gelu", "math.softplus": "softplus", "math.erf": "erf",
    "math.rsqrt": "rsqrt", "math.reduce_mean": "mean", "math.reduce_sum": "sum", "math.reduce_max": "max",
    "math.reduce_min": "min", "reshape": "reshape", "transpose": "transpose", "compat.v1.transpose": "transpose",
    "expand_dims": "expand_dims", "compat.v1.expand_dims": "expand_dims", "squeeze": "squeeze",
    "compat.v1.squeeze": "squeeze", "concat": "concatenate", "nn.softmax": "softmax", "clip_by_value": "clip",
    "identity": "identity", "cast": "cast", "einsum": "einsum", "linalg.einsum": "einsum",
    "gather": "take", "compat.v1.gather": "take", "one_hot": "one_hot", "tile": "tile",
}
"""tf.keras ``TFOpLambda`` function → operation of ``KERAS_OPS``."""

_TF_ARGUMENT_NAMES = {"reshape": ("tensor", "shape"), "expand_dims": ("input", "_", "axis"),
                      "squeeze": ("input", "_", "axis"), "softmax": ("logits", "_", "axis")}


def _slice_spec(item: Any, op: Op) -> Any:
    """One entry of a tf.keras ``SlicingOpLambda``'s ``slice_spec``: an int, None (a new axis), an ellipsis
    (``{"class_name": "__ellipsis__"}``) or a slice (``{"start", "stop", "step"}``)."""
    if item is None or (isinstance(item, int) and not isinstance(item, bool)):
        return item
    if item is Ellipsis or (isinstance(item, Mapping) and item.get("class_name") == "__ellipsis__"):
        return Ellipsis
    if isinstance(item, Mapping) and set(item) == {"start", "stop", "step"}:
        bounds = [item[k] for k in ("start", "stop", "step")]
        if all(b is None or (isinstance(b, int) and not isinstance(b, bool)) for b in bounds) and bounds[2] != 0:
            if bounds[2] is not None and bounds[2] < 0:
                raise refuse(op.layer, "slices with a negative step", "not converted")
            return slice(*bounds)
    raise _bad(op, "slice_spec", item, "integers, None, an ellipsis and slices of integers")


def emit_tf_op(op: Op, inputs: list[Value], em: Emitter) -> list[Value]:
    function = op.layer.config.get("function", "")
    if function == "__operators__.getitem":
        args, kwargs = _bind(op, inputs, em)
        spec = kwargs.get("slice_spec", args[1] if len(args) > 1 else None)
        items = spec if isinstance(spec, list) else [spec]
        return [_get_item(_tensor(args[0] if args else None, op), tuple(_slice_spec(i, op) for i in items), op, em)]
    if function in ("shape", "compat.v1.shape", "range"):
        args, kwargs = _bind(op, inputs, em)
        return [(_tf_shape if function != "range" else _tf_range)(args, kwargs, op, em)]
    name = TF_FUNCTIONS.get(function) if isinstance(function, str) else None
    if name is None:
        raise refuse(op.layer, f"calls the TensorFlow function {quoted(function, 60)}, which has no conversion",
                     f"converted: {', '.join(sorted('tf.' + f for f in TF_FUNCTIONS))}")
    args, kwargs = _bind(op, inputs, em)
    kwargs = {k: v for k, v in kwargs.items() if k != "name"}
    renamed = dict(zip(("x1", "x2") if name in _BINARY else ("xs",) if name == "concatenate" else ("x",), args,
                       strict=False))
    for keras_name, tf_name in zip(("x", "newshape", "axis"), _TF_ARGUMENT_NAMES.get(name, ()), strict=False):
        if tf_name in kwargs:
            kwargs[keras_name] = kwargs.pop(tf_name)
    if name in _BINARY and "y" in kwargs:
        renamed["x2"] = kwargs.pop("y")
    if name == "concatenate" and "values" in kwargs:
        renamed["xs"] = kwargs.pop("values")
    if name == "transpose" and "perm" in kwargs:
        kwargs["axes"] = kwargs.pop("perm")
    if name == "clip":
        kwargs["x_min"], kwargs["x_max"] = kwargs.pop("clip_value_min", None), kwargs.pop("clip_value_max", None)
    if name == "gelu":
        kwargs.setdefault("approximate", False)  # tf.nn.gelu's default, unlike keras.ops.gelu
    if name == "take":  # tf.gather(params, indices, axis=0, batch_dims=0)
        if kwargs.pop("batch_dims", 0) != 0:
            raise refuse(op.layer, "gathers with batch_dims", "not converted")
        renamed["x"] = kwargs.pop("params", renamed.get("x"))
        kwargs = {"indices": args[1] if len(args) > 1 else kwargs.get("indices"),
                  "axis": args[2] if len(args) > 2 else kwargs.get("axis", 0)}
    if name == "one_hot":  # tf.one_hot(indices, depth, on_value, off_value, axis)
        if any(kwargs.get(k) not in (None, d) for k, d in (("on_value", 1), ("off_value", 0))):
            raise refuse(op.layer, "sets on_value/off_value", "not converted")
        renamed["x"] = kwargs.pop("indices", renamed.get("x"))
        kwargs = {"num_classes": args[1] if len(args) > 1 else kwargs.get("depth"), "axis": kwargs.get("axis", -1)}
    if name == "tile":  # tf.tile(input, multiples)
        renamed["x"] = kwargs.pop("input", renamed.get("x"))
        kwargs = {"repeats": args[1] if len(args) > 1 else kwargs.get("multiples")}
    return [KERAS_OPS[name]([], {**renamed, **kwargs}, op, em)]


def _tf_shape(args: list[Any], kwargs: dict[str, Any], op: Op, em: Emitter) -> Value:
    """``tf.shape(x)``: the sizes in Keras's axis order, as an integer tensor (positions computed from a free
    sequence length)."""
    x = em.to_layout(_tensor(kwargs.get("input", args[0] if args else None), op, "input"), "keras")
    if kwargs.get("out_type") not in (None, "int32", "int64"):
        raise _bad(op, "out_type", kwargs.get("out_type"), "int32 or int64")
    return em.let(op.layer.name, torch.tensor(Attr(x.ref, "shape"), device=Attr(x.ref, "device")), x,
                  shape=(x.rank,), integer=True)


def _tf_range(args: list[Any], kwargs: dict[str, Any], op: Op, em: Emitter) -> Value:
    """``tf.range(start, limit=None, delta=1)``: ``torch.arange``; a bound may be a tensor (a size read with
    ``tf.shape``), a single bound is the limit, as in Python's ``range``."""
    named = dict(zip(("start", "limit", "delta"), args, strict=False)) | \
        {k: v for k, v in kwargs.items() if k in ("start", "limit", "delta")}
    if kwargs.get("dtype") not in (None, "int32", "int64"):
        raise refuse(op.layer, f"makes a range of dtype {shown(kwargs.get('dtype'))}", "integer ranges are converted")
    bounds = [named.get("start", 0), named.get("limit"), named.get("delta", 1)]
    for bound in bounds:
        if bound is not None and not isinstance(bound, Value) and (
                not isinstance(bound, int) or isinstance(bound, bool)):
            raise _bad(op, "range bound", bound, "integers or integer scalar tensors")
        if isinstance(bound, Value) and (bound.rank != 0 or not bound.integer):
            raise _bad(op, "range bound", bound.name, "an integer scalar")
    start, limit, delta = bounds
    if limit is None:
        start, limit = 0, start
    given = (start, limit, delta) if (start, delta) != (0, 1) else (limit,)
    parts = [b.ref if isinstance(b, Value) else _number(b) for b in given]
    like = next((b for b in bounds if isinstance(b, Value)), None)
    device = {"device": Attr(like.ref, "device")} if like is not None else {}  # where the sizes were read
    return em.let(op.layer.name, torch.arange(*parts, **device), like or Value("range", ()), shape=(None,),
                  integer=True, layout="keras")


TF_RAW_OPS = {
    "Add": "add", "AddV2": "add", "Sub": "subtract", "Mul": "multiply", "RealDiv": "divide", "Maximum": "maximum",
    "Minimum": "minimum", "Pow": "power", "MatMul": "matmul", "BatchMatMulV2": "matmul", "Neg": "negative",
    "Abs": "abs", "Sqrt": "sqrt", "Square": "square", "Rsqrt": "rsqrt", "Exp": "exp", "Log": "log", "Tanh": "tanh",
    "Sigmoid": "sigmoid", "Relu": "relu", "Relu6": "relu6", "Softmax": "softmax", "Mean": "mean", "Sum": "sum",
    "Max": "max", "Min": "min", "Prod": "prod", "Reshape": "reshape", "Transpose": "transpose",
    "ExpandDims": "expand_dims", "Squeeze": "squeeze", "ConcatV2": "concatenate", "Pad": "pad", "Identity": "identity",
}
"""TensorFlow op of a ``TensorFlowOpLayer`` (tf.keras 2.0–2.3) → operation of ``KERAS_OPS``."""


def emit_tf_op_layer(op: Op, inputs: list[Value], em: Emitter) -> list[Value]:
    """A ``TensorFlowOpLayer``: a raw TensorFlow NodeDef, its tensors from the node, constants by input index."""
    node = op.layer.config.get("node_def")
    node = node if isinstance(node, Mapping) else {}
    raw = node.get("op", "")
    name = TF_RAW_OPS.get(raw) if isinstance(raw, str) else None
    if name is None:
        raise refuse(op.layer, f"wraps the raw TensorFlow op {quoted(raw, 40)}, which has no conversion",
                     f"converted: {', '.join(sorted(TF_RAW_OPS))}")
    attrs = node.get("attr")
    attrs = attrs if isinstance(attrs, Mapping) else {}
    flag = lambda key: isinstance(attrs.get(key), Mapping) and attrs[key].get("b") is True  # noqa: E731
    if raw in ("MatMul", "BatchMatMulV2") and any(flag(k) for k in ("transpose_a", "transpose_b", "adj_x", "adj_y")):
        raise refuse(op.layer, f"uses {raw} with a transposed operand", "not converted yet")
    args: list[Any] = list(inputs)
    constants = op.layer.config.get("constants") or {}
    if not isinstance(constants, Mapping):
        raise _bad(op, "constants", constants, "a mapping of input index to value")
    for key, value in sorted(constants.items(), key=lambda item: str(item[0])):
        try:
            index = int(key)
        except (TypeError, ValueError):
            raise _bad(op, "constant index", key, "an integer") from None
        if not 0 <= index <= len(args):
            raise _bad(op, "constant index", key, f"an index up to {len(args)}")
        args.insert(index, value)
    if raw == "ConcatV2":
        return [KERAS_OPS[name]([args[:-1], args[-1]], {}, op, em)]
    if raw == "Squeeze":
        dims = attrs.get("squeeze_dims")
        listed = dims.get("list", {}).get("i") if isinstance(dims, Mapping) and isinstance(dims.get("list"), Mapping) \
            else None
        return [KERAS_OPS[name]([args[0], list(listed) if listed else None], {}, op, em)]
    if name in _REDUCE:
        keep = attrs.get("keep_dims")
        return [KERAS_OPS[name]([args[0], args[1] if len(args) > 1 else None,
                                 bool(isinstance(keep, Mapping) and keep.get("b") is True)], {}, op, em)]
    if raw == "Softmax":
        return [KERAS_OPS[name]([args[0], -1], {}, op, em)]
    return [KERAS_OPS[name](args, {}, op, em)]
