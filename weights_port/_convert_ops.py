"""Operation nodes: Keras 3 ``keras.ops`` calls and tf.keras ``TFOpLambda`` layers in a functional config.

Keras 3 records ``x + 3.0`` or ``keras.ops.mean(x, axis=1)`` on symbolic tensors as nodes
whose class is the operation ("Add" from ``keras.src.ops.numpy``) and whose ``args`` mix
tensors and constants. tf.keras records ``tf.*`` calls as ``TFOpLambda`` layers naming the
function ("__operators__.add", "math.reduce_mean") with the other arguments in the
node's kwargs. Both map onto one table of operations; anything else is refused by name.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from ._codegen import Emitter, Value, fmt, refuse
from ._graph import Op, TensorRef

__all__ = ["KERAS_OPS", "TF_FUNCTIONS", "TF_RAW_OPS", "emit_keras_op", "emit_tf_op", "emit_tf_op_layer", "is_operation"]

_BINARY = {"add": "{a} + {b}", "subtract": "{a} - {b}", "multiply": "{a} * {b}", "divide": "{a} / {b}",
           "power": "{a} ** {b}", "maximum": "torch.maximum({a}, {b})", "minimum": "torch.minimum({a}, {b})",
           "matmul": "{a} @ {b}"}
_UNARY = {"negative": "-{x}", "abs": "torch.abs({x})", "sqrt": "torch.sqrt({x})", "square": "torch.square({x})",
          "exp": "torch.exp({x})", "log": "torch.log({x})", "tanh": "torch.tanh({x})", "sigmoid": "torch.sigmoid({x})",
          "relu": "F.relu({x})", "relu6": "F.relu6({x})", "silu": "F.silu({x})", "gelu": "F.gelu({x})",
          "softplus": "F.softplus({x})", "erf": "torch.erf({x})", "rsqrt": "torch.rsqrt({x})", "sin": "torch.sin({x})",
          "cos": "torch.cos({x})", "floor": "torch.floor({x})", "sign": "torch.sign({x})",
          "reciprocal": "torch.reciprocal({x})", "hard_sigmoid": "F.hardsigmoid({x})", "hard_silu": "F.hardswish({x})",
          "elu": "F.elu({x})", "selu": "F.selu({x})", "identity": "{x}", "stop_gradient": "{x}", "cast": "{x}"}
_REDUCE = {"mean": "mean", "sum": "sum", "max": "amax", "min": "amin", "prod": "prod"}


def _bind(op: Op, inputs: list[Value]) -> tuple[list[Any], dict[str, Any]]:
    """The call's args and kwargs with each TensorRef replaced by its Value."""
    queue = iter(inputs)

    def swap(value: Any) -> Any:
        if isinstance(value, TensorRef):
            return next(queue)
        if isinstance(value, list):
            return [swap(v) for v in value]
        if isinstance(value, dict):
            return {k: swap(v) for k, v in value.items()}
        return value

    return swap(op.args), swap(op.kwargs)


def _operand(value: Any, op: Op) -> str:
    if isinstance(value, Value):
        return value.name
    if isinstance(value, bool | int | float):
        return fmt(float(value)) if isinstance(value, float) else fmt(value)
    raise refuse(op.layer, f"takes a constant operand {str(value)[:60]!r}", "only scalar constants are converted")


def _binary(kind: str, a: Any, b: Any, op: Op, em: Emitter) -> Value:
    tensors = em.align([v for v in (a, b) if isinstance(v, Value)])
    aligned = iter(tensors)
    a, b = (next(aligned) if isinstance(v, Value) else v for v in (a, b))
    like = max(tensors, key=lambda v: v.rank)
    if kind in ("maximum", "minimum") and not all(isinstance(v, Value) for v in (a, b)):
        tensor, constant = (a, b) if isinstance(a, Value) else (b, a)
        bound = "min" if kind == "maximum" else "max"
        return em.let(op.layer.name, f"torch.clamp({tensor.name}, {bound}={_operand(constant, op)})", like)
    if kind == "matmul":
        a, b = (em.to_layout(v, "keras") if isinstance(v, Value) else v for v in (a, b))
        like = em.to_layout(like, "keras")
    return em.let(op.layer.name, _BINARY[kind].format(a=_operand(a, op), b=_operand(b, op)), like)


def _reduce(kind: str, x: Value, axis: Any, keepdims: bool, op: Op, em: Emitter) -> Value:
    if axis is None:
        return em.let(op.layer.name, f"{x.name}.{_REDUCE[kind]}()", x, shape=(), layout="keras")
    axes = [int(a) % x.rank for a in (axis if isinstance(axis, list | tuple) else [axis])]
    if keepdims:
        dims = tuple(x.torch_axis(a) for a in axes)
        shape = tuple(1 if i in axes else s for i, s in enumerate(x.shape))
        return em.let(op.layer.name, f"{x.name}.{_REDUCE[kind]}(dim={fmt(dims)}, keepdim=True)", x, shape=shape)
    dims = tuple(x.torch_axis(a) for a in axes)  # no transpose: the axes are translated instead
    shape = tuple(s for i, s in enumerate(x.shape) if i not in axes)
    layout = "cf" if x.channels_first and (x.rank - 1) not in axes and len(shape) >= 3 else "keras"
    expr = f"{x.name}.{_REDUCE[kind]}(dim={fmt(dims) if len(dims) > 1 else dims[0]})"
    return em.let(op.layer.name, expr, x, shape=shape, layout=layout)


def _reshape(x: Value, shape: Any, op: Op, em: Emitter) -> Value:
    x = em.to_layout(x, "keras")
    target = [int(s) if s is not None else -1 for s in shape]
    return em.let(op.layer.name, f"{x.name}.reshape({', '.join(map(str, target))})", x,
                  shape=tuple(None if s == -1 else s for s in target))


def _transpose(x: Value, axes: Any, op: Op, em: Emitter) -> Value:
    x = em.to_layout(x, "keras")
    order = list(range(x.rank))[::-1] if axes is None else [int(a) for a in axes]
    return em.let(op.layer.name, f"{x.name}.permute({', '.join(map(str, order))})", x,
                  shape=tuple(x.shape[a] for a in order))


def _expand(x: Value, axis: int, op: Op, em: Emitter) -> Value:
    x = em.to_layout(x, "keras")
    axis = int(axis) % (x.rank + 1)
    shape = (*x.shape[:axis], 1, *x.shape[axis:])
    return em.let(op.layer.name, f"{x.name}.unsqueeze({axis})", x, shape=shape)


def _squeeze(x: Value, axis: Any, op: Op, em: Emitter) -> Value:
    x = em.to_layout(x, "keras")
    axes = [i for i, s in enumerate(x.shape) if s == 1] if axis is None else \
        [int(a) % x.rank for a in (axis if isinstance(axis, list | tuple) else [axis])]
    shape = tuple(s for i, s in enumerate(x.shape) if i not in axes)
    return em.let(op.layer.name, f"{x.name}.squeeze({fmt(tuple(axes)) if len(axes) > 1 else axes[0]})", x, shape=shape)


def _concat(values: list[Value], axis: int, op: Op, em: Emitter) -> Value:
    values = em.align(values)
    axis = int(axis) % values[0].rank
    shape = list(values[0].shape)
    sizes = [v.shape[axis] for v in values]
    shape[axis] = None if None in sizes else sum(s for s in sizes if s is not None)
    names = ", ".join(v.name for v in values)
    return em.let(op.layer.name, f"torch.cat([{names}], dim={values[0].torch_axis(axis)})", values[0], shape=tuple(shape))


def _pad(x: Value, pad_width: Any, op: Op, em: Emitter) -> Value:
    """TensorFlow's ``Pad`` on a Keras-layout tensor: ``pad_width`` lists (before, after) per axis."""
    pairs = [(int(a), int(b)) for a, b in pad_width]
    if x.channels_first and pairs[0] == (0, 0) and pairs[-1] == (0, 0):
        order = [pairs[0], pairs[-1], *pairs[1:-1]]  # spatial padding only: pad the channels-first tensor as is
    else:
        x, order = em.to_layout(x, "keras"), pairs
    flat = [v for pair in reversed(order) for v in pair]
    while len(flat) > 2 and flat[-2:] == [0, 0]:
        flat = flat[:-2]
    shape = tuple(None if s is None else s + a + b for s, (a, b) in zip(x.shape, pairs, strict=True))
    return em.let(op.layer.name, f"F.pad({x.name}, ({', '.join(map(str, flat))}))", x, shape=shape)


def _softmax(x: Value, axis: int, op: Op, em: Emitter) -> Value:
    return em.let(op.layer.name, f"F.softmax({x.name}, dim={x.torch_axis(int(axis))})", x)


def _clip(x: Value, low: Any, high: Any, op: Op, em: Emitter) -> Value:
    return em.let(op.layer.name, f"torch.clamp({x.name}, {_operand(low, op)}, {_operand(high, op)})", x)


def _arg(args: list[Any], kwargs: Mapping[str, Any], index: int, name: str, default: Any = None) -> Any:
    if len(args) > index:
        return args[index]
    return kwargs.get(name, default)


OpEmit = Callable[[list[Any], Mapping[str, Any], Op, Emitter], Value]


def _binary_emitter(kind: str) -> OpEmit:
    def emit(a: list[Any], k: Mapping[str, Any], op: Op, em: Emitter) -> Value:
        return _binary(kind, _arg(a, k, 0, "x1", _arg(a, k, 0, "x")), _arg(a, k, 1, "x2", _arg(a, k, 1, "y")), op, em)

    return emit


def _unary_emitter(template: str) -> OpEmit:
    def emit(a: list[Any], k: Mapping[str, Any], op: Op, em: Emitter) -> Value:
        x = _arg(a, k, 0, "x")
        return em.let(op.layer.name, template.format(x=x.name), x)

    return emit


def _reduce_emitter(kind: str) -> OpEmit:
    def emit(a: list[Any], k: Mapping[str, Any], op: Op, em: Emitter) -> Value:
        return _reduce(kind, _arg(a, k, 0, "x"), _arg(a, k, 1, "axis"), bool(_arg(a, k, 2, "keepdims", False)), op, em)

    return emit


def _table() -> dict[str, OpEmit]:
    table: dict[str, OpEmit] = {}
    for kind in _BINARY:
        table[kind] = _binary_emitter(kind)
    for kind, template in _UNARY.items():
        table[kind] = _unary_emitter(template)
    for kind in _REDUCE:
        table[kind] = _reduce_emitter(kind)
    table["reshape"] = lambda a, k, op, em: _reshape(_arg(a, k, 0, "x"), _arg(a, k, 1, "newshape",
                                                                                k.get("new_shape")), op, em)
    table["transpose"] = lambda a, k, op, em: _transpose(_arg(a, k, 0, "x"), _arg(a, k, 1, "axes"), op, em)
    table["expand_dims"] = lambda a, k, op, em: _expand(_arg(a, k, 0, "x"), _arg(a, k, 1, "axis"), op, em)
    table["squeeze"] = lambda a, k, op, em: _squeeze(_arg(a, k, 0, "x"), _arg(a, k, 1, "axis"), op, em)
    table["concatenate"] = lambda a, k, op, em: _concat(list(_arg(a, k, 0, "xs")), _arg(a, k, 1, "axis", 0), op, em)
    table["softmax"] = lambda a, k, op, em: _softmax(_arg(a, k, 0, "x"), _arg(a, k, 1, "axis", -1), op, em)
    table["pad"] = lambda a, k, op, em: _pad(_arg(a, k, 0, "x"), _arg(a, k, 1, "pad_width"), op, em)
    table["clip"] = lambda a, k, op, em: _clip(_arg(a, k, 0, "x"), _arg(a, k, 1, "x_min"), _arg(a, k, 2, "x_max"), op, em)
    return table


KERAS_OPS = _table()
"""Keras 3 operation (snake-cased class name) → emitter."""

_KERAS_OP_NAMES = {"TrueDivide": "divide", "Divide": "divide", "Matmul": "matmul", "ExpandDims": "expand_dims",
                   "HardSigmoid": "hard_sigmoid", "HardSilu": "hard_silu", "Relu6": "relu6", "StopGradient":
                   "stop_gradient", "Concatenate": "concatenate", "Amax": "max", "Amin": "min", "Absolute": "abs"}


def is_operation(layer: Any) -> bool:
    """A keras.ops call rather than a layer: its module says so, or (legacy .h5 configs drop the module)
    its config holds nothing but a name, where every layer's config also records ``trainable``."""
    if layer.module.startswith("keras.src.ops"):
        return True
    return not layer.module and "trainable" not in layer.config and \
        _KERAS_OP_NAMES.get(layer.class_name, layer.class_name.lower()) in KERAS_OPS


def emit_keras_op(op: Op, inputs: list[Value], em: Emitter) -> list[Value]:
    name = _KERAS_OP_NAMES.get(op.layer.class_name, op.layer.class_name.lower())
    if name not in KERAS_OPS:
        raise refuse(op.layer, f"is the keras.ops operation {op.layer.class_name!r} ({op.layer.module}), which has no "
                     "conversion", f"converted operations: {', '.join(sorted(KERAS_OPS))}")
    args, kwargs = _bind(op, inputs)
    config_kwargs = {k: v for k, v in op.layer.config.items() if k not in ("name", "trainable", "dtype")}
    return [KERAS_OPS[name](args, {**config_kwargs, **kwargs}, op, em)]


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
    "identity": "identity", "cast": "cast",
}
"""tf.keras ``TFOpLambda`` function → operation of ``KERAS_OPS``."""

_TF_ARGUMENT_NAMES = {"reshape": ("tensor", "shape"), "expand_dims": ("input", "_", "axis"),
                      "squeeze": ("input", "_", "axis"), "softmax": ("logits", "_", "axis")}


def emit_tf_op(op: Op, inputs: list[Value], em: Emitter) -> list[Value]:
    function = str(op.layer.config.get("function", ""))
    name = TF_FUNCTIONS.get(function)
    if name is None:
        raise refuse(op.layer, f"calls the TensorFlow function tf.{function}, which has no conversion",
                     f"converted: {', '.join(sorted('tf.' + f for f in TF_FUNCTIONS))}")
    args, kwargs = _bind(op, inputs)
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
    return [KERAS_OPS[name]([], {**renamed, **kwargs}, op, em)]


TF_RAW_OPS = {
    "Add": "add", "AddV2": "add", "Sub": "subtract", "Mul": "multiply", "RealDiv": "divide", "Maximum": "maximum",
    "Minimum": "minimum", "Pow": "power", "MatMul": "matmul", "BatchMatMulV2": "matmul", "Neg": "negative",
    "Abs": "abs", "Sqrt": "sqrt", "Square": "square", "Rsqrt": "rsqrt", "Exp": "exp", "Log": "log", "Tanh": "tanh",
    "Sigmoid": "sigmoid", "Relu": "relu", "Relu6": "relu6", "Softmax": "softmax", "Mean": "mean", "Sum": "sum",
    "Max": "max", "Min": "min", "Prod": "prod", "Reshape": "reshape", "Transpose": "transpose",
    "ExpandDims": "expand_dims", "Squeeze": "squeeze", "ConcatV2": "concatenate", "Pad": "pad", "Identity": "identity",
    "Cast": "cast",
}
"""TensorFlow op of a ``TensorFlowOpLayer`` (tf.keras 2.0–2.3) → operation of ``KERAS_OPS``."""


def emit_tf_op_layer(op: Op, inputs: list[Value], em: Emitter) -> list[Value]:
    """A ``TensorFlowOpLayer``: a raw TensorFlow NodeDef, its tensors from the node, constants by input index."""
    node = op.layer.config.get("node_def") or {}
    raw = str(node.get("op", ""))
    name = TF_RAW_OPS.get(raw)
    if name is None:
        raise refuse(op.layer, f"wraps the raw TensorFlow op {raw!r}, which has no conversion",
                     f"converted: {', '.join(sorted(TF_RAW_OPS))}")
    attrs = node.get("attr") or {}
    if raw in ("MatMul", "BatchMatMulV2") and any((attrs.get(k) or {}).get("b") for k in
                                                   ("transpose_a", "transpose_b", "adj_x", "adj_y")):
        raise refuse(op.layer, f"uses {raw} with a transposed operand", "not converted yet")
    args: list[Any] = list(inputs)
    for index, value in sorted((int(k), v) for k, v in (op.layer.config.get("constants") or {}).items()):
        args.insert(index, value)
    if raw == "ConcatV2":
        return [KERAS_OPS[name]([args[:-1], args[-1]], {}, op, em)]
    if raw == "Squeeze":
        dims = (attrs.get("squeeze_dims") or {}).get("list", {}).get("i")
        return [KERAS_OPS[name]([args[0], [int(d) for d in dims] if dims else None], {}, op, em)]
    if name in _REDUCE:
        keep = bool((attrs.get("keep_dims") or {}).get("b", False))
        return [KERAS_OPS[name]([args[0], args[1], keep], {}, op, em)]
    if raw == "Softmax":
        return [KERAS_OPS[name]([args[0], -1], {}, op, em)]
    return [KERAS_OPS[name](args, {}, op, em)]
