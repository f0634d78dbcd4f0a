"""The typed representation of a conversion, between the conversion rules and any source text.

A converted model is a ``ModelIR``: the modules (``ModuleSpec``: a constructor from the
generator's vocabulary and constant arguments), the steps of ``forward`` (a target bound
to an expression), the inputs and outputs with their layouts, and the helpers the file
needs. Expressions are small frozen trees. Their names are generated identifiers
(``Name``, ``Attr``) or the generator's own vocabulary (``Global``); every value that comes
from a file is a ``Const``. ``_render`` turns this into Python's ``ast``; nothing here is
ever a piece of text that becomes code.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, fields, is_dataclass, replace
from typing import Any

import numpy as np

from .._errors import PortError
from ._names import is_safe_identifier

__all__ = [
    "ELLIPSIS", "SELF", "TORCH", "Attr", "BinOp", "BlockClass", "BoolOp", "Call", "Compare", "Const", "Expr", "F", "Global",
    "IfExp", "Index", "ModelIR", "ModuleSpec", "Name", "Repeat", "Seq", "Slice", "Stage", "Step", "Submodule", "TupleTarget",
    "UnaryOp", "Value", "call", "const", "evaluate", "free_names", "lift", "method", "nn", "renamed", "rewrite", "torch",
    "vocabulary_error",
]

ConstValue = None | bool | int | float | str | tuple["ConstValue", ...]
Shape = tuple[int | None, ...]


def vocabulary_error(what: str) -> PortError:
    """A rule asked for something outside the generator's vocabulary: a bug in a rule, never a file's doing."""
    return PortError(f"conversion rule error: {what}; please report it")


class Expr:
    """An expression of the generated ``forward`` (operators build trees; ``==`` keeps its meaning)."""

    __slots__ = ()

    def __add__(self, other: Any) -> Expr:
        return BinOp("+", self, lift(other))

    def __radd__(self, other: Any) -> Expr:
        return BinOp("+", lift(other), self)

    def __sub__(self, other: Any) -> Expr:
        return BinOp("-", self, lift(other))

    def __rsub__(self, other: Any) -> Expr:
        return BinOp("-", lift(other), self)

    def __mul__(self, other: Any) -> Expr:
        return BinOp("*", self, lift(other))

    def __rmul__(self, other: Any) -> Expr:
        return BinOp("*", lift(other), self)

    def __truediv__(self, other: Any) -> Expr:
        return BinOp("/", self, lift(other))

    def __rtruediv__(self, other: Any) -> Expr:
        return BinOp("/", lift(other), self)

    def __pow__(self, other: Any) -> Expr:
        return BinOp("**", self, lift(other))

    def __matmul__(self, other: Any) -> Expr:
        return BinOp("@", self, lift(other))

    def __neg__(self) -> Expr:
        return UnaryOp("-", self)

    def __getitem__(self, items: Any) -> Expr:
        items = items if isinstance(items, tuple) else (items,)
        return Index(self, tuple(_index_item(i) for i in items))

    def m(self, name: str, *args: Any, **kwargs: Any) -> Call:
        """A tensor method call, ``x.m("reshape", -1, 4)`` → ``x.reshape(-1, 4)``."""
        return method(self, name, *args, **kwargs)


@dataclass(frozen=True)
class Name(Expr):
    """A generated local, argument or ``self``."""

    id: str

    def __post_init__(self) -> None:
        if not is_safe_identifier(self.id):
            raise vocabulary_error(f"{self.id!r} is not a generated identifier")


@dataclass(frozen=True)
class Const(Expr):
    """A literal: where every value read from a file ends up."""

    value: ConstValue

    def __post_init__(self) -> None:
        _check_const(self.value)


@dataclass(frozen=True)
class Global(Expr):
    """A name of the generated file's vocabulary: ``torch.cat``, ``nn.Conv2d``, ``F.pad``, a helper."""

    path: tuple[str, ...]

    def __post_init__(self) -> None:
        if not self.path or not all(is_safe_identifier(p) for p in self.path):
            raise vocabulary_error(f"{self.path!r} is not a dotted name")

    def __getattr__(self, name: str) -> Global:
        if name.startswith("__"):
            raise AttributeError(name)
        return Global((*self.path, name))

    def __call__(self, *args: Any, **kwargs: Any) -> Call:
        return call(self, *args, **kwargs)

    @property
    def dotted(self) -> str:
        return ".".join(self.path)


@dataclass(frozen=True)
class Attr(Expr):
    """``value.name`` where ``name`` is a generated attribute (``self.conv1``)."""

    value: Expr
    name: str

    def __post_init__(self) -> None:
        if not is_safe_identifier(self.name):
            raise vocabulary_error(f"{self.name!r} is not a generated attribute name")

    def __call__(self, *args: Any, **kwargs: Any) -> Call:
        return call(self, *args, **kwargs)


@dataclass(frozen=True)
class Call(Expr):
    func: Expr
    args: tuple[Expr, ...] = ()
    kwargs: tuple[tuple[str, Expr], ...] = ()


@dataclass(frozen=True)
class BinOp(Expr):
    op: str
    left: Expr
    right: Expr


@dataclass(frozen=True)
class UnaryOp(Expr):
    op: str
    operand: Expr


@dataclass(frozen=True)
class Compare(Expr):
    op: str
    left: Expr
    right: Expr


@dataclass(frozen=True)
class BoolOp(Expr):
    """``a and b`` / ``a or b``: a block's flag computed from its other parameters (``stride == 1 and
    in_channels == out_channels``)."""

    op: str
    values: tuple[Expr, ...]


@dataclass(frozen=True)
class Slice:
    start: int | None = None
    stop: int | None = None
    step: int | None = None


ELLIPSIS = Slice(-1, -1, -1)
"""``...`` in an index."""


@dataclass(frozen=True)
class Index(Expr):
    value: Expr
    items: tuple[Expr | Slice, ...]


@dataclass(frozen=True)
class IfExp(Expr):
    """``body if test else orelse``: a block's optional part, ``nn.Sequential(...) if downsample else
    nn.Identity()``."""

    test: Expr
    body: Expr
    orelse: Expr


@dataclass(frozen=True)
class Seq(Expr):
    """A tuple or list display of expressions."""

    items: tuple[Expr, ...]
    kind: str = "tuple"


@dataclass(frozen=True)
class Repeat(Expr):
    """``*(item for _ in range(count))`` inside a call's arguments: a stage's run of identical blocks, written
    once (as torchvision's ``_make_layer`` loops) instead of ``count`` equal lines; with ``counted``, the loop
    variable is ``i`` and the item reads it (DenseNet's ``DenseLayer(in_channels=64 + 32 * i)``)."""

    item: Expr
    count: int
    counted: bool = False


def _check_const(value: Any) -> None:
    if isinstance(value, tuple):
        for item in value:
            _check_const(item)
    elif isinstance(value, float):
        if math.isnan(value):
            raise vocabulary_error("a NaN constant")
    elif not (value is None or isinstance(value, bool | int | str)):
        raise vocabulary_error(f"constant of type {type(value).__name__}")


def const(value: Any) -> Const:
    """A literal from Python or NumPy scalars (and tuples/lists of them)."""
    if isinstance(value, np.bool_):
        return Const(bool(value))
    if isinstance(value, np.integer):
        return Const(int(value))
    if isinstance(value, np.floating):
        return Const(float(value))
    if isinstance(value, list | tuple):
        return Const(tuple(const(v).value for v in value))
    return Const(value)


def lift(value: Any) -> Expr:
    """An expression from a ``Value`` (its name), an ``Expr`` as is, or a constant."""
    if isinstance(value, Expr):
        return value
    if isinstance(value, Value):
        return value.ref
    if isinstance(value, list) and any(isinstance(v, Expr | Value) for v in value):
        return Seq(tuple(lift(v) for v in value), "list")
    if isinstance(value, tuple) and any(isinstance(v, Expr | Value) for v in value):
        return Seq(tuple(lift(v) for v in value))
    return const(value)


def _index_item(item: Any) -> Expr | Slice:
    if item is Ellipsis:
        return ELLIPSIS
    if isinstance(item, slice):
        return Slice(*(None if v is None else int(v) for v in (item.start, item.stop, item.step)))
    if isinstance(item, Slice):
        return item
    return lift(item)


def call(func: Expr, *args: Any, **kwargs: Any) -> Call:
    return Call(func, tuple(lift(a) for a in args), tuple((k, lift(v)) for k, v in kwargs.items()))


def method(obj: Any, name: str, *args: Any, **kwargs: Any) -> Call:
    """``obj.name(*args)`` for a tensor method of the vocabulary."""
    from ._vocabulary import TENSOR_METHODS

    if name not in TENSOR_METHODS:
        raise vocabulary_error(f"tensor method {name!r} is not in the vocabulary")
    return call(Attr(lift(obj), name), *args, **kwargs)


def compare(op: str, left: Any, right: Any) -> Compare:
    return Compare(op, lift(left), lift(right))


SELF = Name("self")
torch = Global(("torch",))
nn = Global(("nn",))
F = Global(("F",))
TORCH = torch


# --------------------------------------------------------------------------- values


@dataclass(frozen=True)
class Value:
    """A tensor of the generated ``forward``: its local's name, its Keras shape and how PyTorch holds it.

    Layouts: ``keras`` (Keras's own axes; vectors, batch-first sequences), ``cf`` (a
    channels-last Keras tensor held channels-first: (N, H, W, C) → (N, C, H, W)), and
    ``flat_cf`` (a vector flattened from a ``cf`` tensor, features in channels-first order;
    a Dense reading it gets its kernel rows permuted once, at conversion).
    """

    name: str
    shape: Shape
    layout: str = "keras"
    flat_from: tuple[int, ...] | None = None
    integer: bool = False

    @property
    def ref(self) -> Name:
        return Name(self.name)

    @property
    def rank(self) -> int:
        return len(self.shape)

    @property
    def channels_first(self) -> bool:
        return self.layout == "cf" and self.rank >= 3

    def torch_axis(self, keras_axis: int) -> int:
        """Where PyTorch holds Keras axis ``keras_axis`` of this tensor."""
        axis = keras_axis % self.rank
        if not self.channels_first or axis == 0:
            return axis
        return 1 if axis == self.rank - 1 else axis + 1

    @property
    def torch_shape(self) -> Shape:
        if self.channels_first:
            return (self.shape[0], self.shape[-1], *self.shape[1:-1])
        return self.shape

    @property
    def permutation(self) -> tuple[int, ...]:
        """Axes such that ``torch_array = keras_array.transpose(permutation)``."""
        if self.channels_first:
            return (0, self.rank - 1, *range(1, self.rank - 1))
        return tuple(range(self.rank))

    def with_(self, **changes: Any) -> Value:
        return replace(self, **changes)


# --------------------------------------------------------------------------- the model


@dataclass(frozen=True)
class ModuleSpec:
    """``self.<attr> = <constructor>(*args, **kwargs)`` for one Keras layer (or part of one)."""

    attr: str
    constructor: Global
    args: tuple[Expr, ...] = ()
    kwargs: tuple[tuple[str, Expr], ...] = ()
    keras_layer: str = ""
    owner: str = ""
    """The nested Keras model whose call created it ("" at the top level)."""

    def __post_init__(self) -> None:
        if not is_safe_identifier(self.attr):
            raise vocabulary_error(f"{self.attr!r} is not a generated attribute name")
        for value in (*self.args, *(v for _, v in self.kwargs)):
            if not _constant_tree(value):
                raise vocabulary_error(f"module {self.attr} takes a non-constant argument")

    @property
    def call(self) -> Attr:
        return Attr(SELF, self.attr)


def _constant_tree(value: Expr) -> bool:
    if isinstance(value, Const | Global):  # a literal, or a vocabulary name (torch.int64)
        return True
    if isinstance(value, Seq):
        return all(_constant_tree(v) for v in value.items)
    if isinstance(value, UnaryOp):
        return _constant_tree(value.operand)
    return False


@dataclass(frozen=True)
class TupleTarget:
    """An unpacking target, ``seq, (h, c) = ...``; an item ``None`` is discarded (``_``)."""

    items: tuple[Name | TupleTarget | None, ...]

    def names(self) -> list[str]:
        found: list[str] = []
        for item in self.items:
            if isinstance(item, Name):
                found.append(item.id)
            elif isinstance(item, TupleTarget):
                found += item.names()
        return found


Target = Name | TupleTarget


@dataclass(frozen=True)
class Step:
    """One statement of ``forward``: ``target = value``, computing (part of) ``keras_layer``."""

    target: Target
    value: Expr
    keras_layer: str = ""
    nested_call: tuple[int, str] | None = None
    """The top-level call of a nested Keras model this step computes part of (``Op.nested_call``)."""

    @property
    def bound(self) -> list[str]:
        return [self.target.id] if isinstance(self.target, Name) else self.target.names()


@dataclass(frozen=True)
class Helper:
    """A function or class of the runtime module (or a plugin's), copied into the file."""

    name: str
    obj: Any


@dataclass(frozen=True)
class Port:
    """A named input or output of the model: the Keras name and the generated value."""

    keras_name: str
    value: Value


@dataclass(frozen=True)
class Submodule:
    """A nested Keras model as ``self.<attr> = <class_name>()``: the flat modules it owns, each under its name
    inside the class; every call of the model in ``forward`` becomes one call of the submodule."""

    attr: str
    class_name: str
    keras_model: str
    attrs: tuple[tuple[str, str], ...]
    """(flat attribute, attribute inside the submodule) for each module the nested model owns."""
    arguments: tuple[tuple[str, Expr], ...] = ()
    """Keyword arguments of the class, where nested models of one structure share it (a ``BlockClass`` of the
    model's ``blocks``, ``_blocks.merge_alike_submodules``)."""


@dataclass(frozen=True)
class BlockClass:
    """A block that repeats (a residual span between two points where one tensor alone flows on), as one
    ``nn.Module`` class: its modules built from keyword ``parameters`` (``Name``s in their arguments)."""

    class_name: str
    parameters: tuple[str, ...]
    modules: tuple[tuple[str, Global, tuple[Expr, ...], tuple[tuple[str, Expr], ...]], ...]
    """(attribute, constructor, args, kwargs); an argument is a constant or a parameter's ``Name``."""
    steps: tuple[Step, ...]
    """``forward`` of an instance, its module calls renamed to the class's attributes."""
    input: str
    output: str
    defaults: tuple[tuple[str, Const], ...] = ()
    """Parameters with a default (``stride=1``, ``downsample=False``); instances leave them out when they hold it."""
    optional: tuple[tuple[str, str, tuple[tuple[Global, tuple[Expr, ...], tuple[tuple[str, Expr], ...]], ...]], ...] \
        = ()
    """(attribute, flag parameter, modules): ``self.<attribute> = nn.Sequential(<modules>) if <flag> else
    nn.Identity()`` — a part only some instances have (ResNet's projection shortcut)."""
    residual: str = ""
    """The flag parameter under which ``forward``'s last step (the residual sum) runs (``if self.residual:``);
    empty when every instance adds."""
    doc: str = ""
    """Which of the model's blocks the instances are (Keras names, made printable when rendered)."""
    derived: tuple[tuple[str, Expr], ...] = ()
    """(flag, rule): a flag that is no parameter but follows from the others on every instance, as torchvision
    computes ``use_res_connect`` (``stride == 1 and in_channels == out_channels``)."""
    computed: tuple[tuple[str, Expr], ...] = ()
    """(name, rule): a value no parameter holds, computed first thing in ``__init__`` from the parameters
    (``padding = kernel_size // 2 if stride == 1 else 0``) and read by the modules as a parameter would be."""
    extra_inputs: tuple[str, ...] = ()
    """``forward``'s inputs after ``input`` (a NASNet cell's second: the output of the cell before the last)."""


@dataclass(frozen=True)
class Stage:
    """``self.<attr> = nn.Sequential(Block(...), ...)``: adjacent blocks, replacing steps ``start..end`` of the
    structured ``forward`` (after submodules) with ``x = self.<attr>(x)``."""

    attr: str
    start: int
    end: int
    blocks: tuple[tuple[str, tuple[tuple[str, Expr], ...]], ...]
    """(class name, keyword arguments) per block."""
    paths: tuple[tuple[str, tuple[str | int, ...]], ...]
    """(flat attribute, path inside the stage: block index, attribute)."""
    single: bool = False
    """One block held as itself (``self.<attr> = Block(...)``), its paths without an index."""
    inputs: tuple[str, ...] = ()
    """The locals a block of several inputs is called with, in its ``forward``'s order (a NASNet cell's)."""


@dataclass
class ModelIR:
    """Everything a generated module is, with no text in it but constants."""

    class_name: str
    inputs: list[Port]
    modules: list[ModuleSpec]
    steps: list[Step]
    outputs: list[Port]
    helpers: list[Helper] = field(default_factory=list)
    float64: bool = False
    source_file: str = ""
    keras_version: str = ""
    layer_count: int = 0
    sequential: bool = False
    """The Keras model is a Sequential: a chain of modules may become an ``nn.Sequential``."""
    head: Any = None
    """A ``_structure.HeadSplit``: ``forward`` as ``forward_features``, ``forward_head`` and the output activation."""
    submodules: list[Submodule] = field(default_factory=list)
    """Nested Keras models rendered as their own ``nn.Module`` classes (``steps`` stay flat)."""
    doc: str = ""
    """The class docstring, where it is not the model's (a submodule's)."""
    blocks: list[BlockClass] = field(default_factory=list)
    stages: list[Stage] = field(default_factory=list)
    parameters: tuple[str, ...] = ()
    """Keyword parameters of ``__init__`` (a block class)."""

    def module_named(self, attr: str) -> ModuleSpec | None:
        return next((m for m in self.modules if m.attr == attr), None)


def free_names(expr: Expr | Slice | None) -> list[str]:
    """The generated locals an expression reads (``self`` excluded)."""
    if expr is None or isinstance(expr, Const | Global | Slice):
        return []
    if isinstance(expr, Name):
        return [] if expr.id == "self" else [expr.id]
    if isinstance(expr, Attr):
        return free_names(expr.value)
    if isinstance(expr, Call):
        return [n for part in (expr.func, *expr.args, *(v for _, v in expr.kwargs)) for n in free_names(part)]
    if isinstance(expr, BinOp | Compare):
        return free_names(expr.left) + free_names(expr.right)
    if isinstance(expr, UnaryOp):
        return free_names(expr.operand)
    if isinstance(expr, Index):
        return free_names(expr.value) + [n for item in expr.items for n in free_names(item)]
    if isinstance(expr, Seq):
        return [n for item in expr.items for n in free_names(item)]
    if isinstance(expr, IfExp):
        return free_names(expr.test) + free_names(expr.body) + free_names(expr.orelse)
    if isinstance(expr, BoolOp):
        return [n for value in expr.values for n in free_names(value)]
    if isinstance(expr, Repeat):
        return free_names(expr.item)
    raise vocabulary_error(f"unknown expression {type(expr).__name__}")


_INTEGER_OPS: dict[str, Callable[[Any, Any], Any]] = {
    "+": lambda a, b: a + b, "-": lambda a, b: a - b, "*": lambda a, b: a * b, "//": lambda a, b: a // b}


def evaluate(expr: Expr, values: Mapping[str, Expr]) -> Const | None:
    """The constant a block's constructor expression has for one instance's arguments (``in_channels // 4`` with
    ``in_channels=32`` is 8); None where it reads anything but integer, boolean, None and tuple constants."""
    if isinstance(expr, Const):
        return expr
    if isinstance(expr, Name):
        value = values.get(expr.id)
        return value if isinstance(value, Const) else None
    if isinstance(expr, Seq) and expr.kind == "tuple":
        items = [evaluate(item, values) for item in expr.items]
        return None if any(i is None for i in items) else Const(tuple(i.value for i in items if i is not None))
    if isinstance(expr, IfExp):
        test = evaluate(expr.test, values)
        return None if test is None else evaluate(expr.body if test.value else expr.orelse, values)
    if isinstance(expr, BoolOp):
        parts = [evaluate(value, values) for value in expr.values]
        if any(part is None or type(part.value) is not bool for part in parts):
            return None
        flags = [bool(part.value) for part in parts if part is not None]
        return Const(all(flags) if expr.op == "and" else any(flags))
    if isinstance(expr, Compare | BinOp):
        left, right = evaluate(expr.left, values), evaluate(expr.right, values)
        if left is None or right is None or type(right.value) is not int:
            return None
        if isinstance(expr, Compare) and type(left.value) is int and expr.op in ("==", "!="):
            return Const((left.value == right.value) == (expr.op == "=="))
        if isinstance(expr, BinOp) and expr.op in _INTEGER_OPS and (type(left.value) is int or (
                expr.op == "*" and isinstance(left.value, tuple))):
            return Const(_INTEGER_OPS[expr.op](left.value, right.value))
    return None


def rewrite(expr: Any, change: Callable[[Any], Any]) -> Any:
    """``expr`` with each node for which ``change`` gives something other than None replaced by it (the outermost
    first), through every field and tuple (keyword pairs included); unchanged parts stay the same objects."""
    changed = change(expr)
    if changed is not None:
        return changed
    if isinstance(expr, tuple):
        items = tuple(rewrite(item, change) for item in expr)
        return expr if all(new is old for new, old in zip(items, expr, strict=True)) else items
    if is_dataclass(expr) and not isinstance(expr, type):
        updates = {}
        for f in fields(expr):
            old = getattr(expr, f.name)
            new = rewrite(old, change)
            if new is not old:
                updates[f.name] = new
        return replace(expr, **updates) if updates else expr
    return expr


def renamed(expr: Any, old: str, new: str) -> Any:
    """``expr`` reading the local ``new`` wherever it read ``old``."""
    return rewrite(expr, lambda node: Name(new) if isinstance(node, Name) and node.id == old else None)


def shape_args(values: Sequence[int]) -> tuple[int, ...]:
    return tuple(int(v) for v in values)


def as_mapping(pairs: tuple[tuple[str, Expr], ...]) -> Mapping[str, Expr]:
    return dict(pairs)
