"""A ``ModelIR`` → Python's ``ast`` → source (``ast.unparse``, then ``ruff format``), or a built module.

Nothing from a file reaches the tree except as an ``ast.Constant`` or a name from the
``NameTable``; ``check_tree`` proves it on every tree before it is compiled or written
(only the generator's vocabulary, generated names, and constants), and the formatted
text is parsed back and compared with the tree, so the file on disk is that tree.
"""

from __future__ import annotations

import ast
import builtins
import inspect
import math
import subprocess
import sys
import textwrap
import types
from collections.abc import Callable, Iterable, Mapping
from dataclasses import replace
from typing import Any

import numpy as np

from .._errors import PortError
from ._ir import (
    ELLIPSIS,
    Attr,
    BinOp,
    BlockClass,
    BoolOp,
    Call,
    Compare,
    Const,
    Expr,
    Global,
    Helper,
    IfExp,
    Index,
    ModelIR,
    ModuleSpec,
    Name,
    Port,
    Repeat,
    Seq,
    Slice,
    Step,
    Submodule,
    TupleTarget,
    UnaryOp,
    Value,
    evaluate,
    free_names,
    rewrite,
    vocabulary_error,
)
from ._names import module_name_for
from ._vocabulary import F_FUNCTIONS, FUNCTIONAL_MODULES, NN_CLASSES, TENSOR_METHODS, TORCH_FUNCTIONS, allowed_global

__all__ = ["RUNTIME_MODULES", "build_module", "check_tree", "discard_unused", "helper_definitions", "is_generator_local",
           "ordered_calls", "printable", "recycle_names", "render", "render_source", "run_interface", "runtime_helper",
           "sequential_chain", "statement", "structured_steps", "submodule_ir", "submodule_runs", "submodule_steps",
           "through_paths"]

_BINARY = {"+": ast.Add, "-": ast.Sub, "*": ast.Mult, "/": ast.Div, "**": ast.Pow, "@": ast.MatMult, "//": ast.FloorDiv,
           "%": ast.Mod, "&": ast.BitAnd, "|": ast.BitOr}
_UNARY = {"-": ast.USub, "not": ast.Not, "~": ast.Invert}
_BOOLEAN = {"and": ast.And, "or": ast.Or}
_COMPARE = {"<": ast.Lt, "<=": ast.LtE, ">": ast.Gt, ">=": ast.GtE, "==": ast.Eq, "!=": ast.NotEq}

_FILE_GLOBALS = frozenset({"torch", "nn", "F", "OrderedDict"})
_FIXED_ATTRIBUTES = frozenset({"__init__", "to", "Tensor", "float64", "float32", "int64", "linalg", "norm",
                               "forward_features", "forward_head", "device",
                               "vector_norm", "inf", "pi", "weight"})


LINE_LENGTH = 120
"""Columns of the generated source: torchvision's black line length (its pyproject)."""
_INDENT = 4


def printable(text: str, limit: int = 120) -> str:
    """File text shown in a docstring: ASCII, escapes visible, one line, bounded."""
    shown = ascii(str(text))[1:-1]
    return shown if len(shown) <= limit else shown[:limit - 3] + "..."


# --------------------------------------------------------------------------- expressions


def _const(value: Any) -> ast.expr:
    if isinstance(value, tuple):
        return ast.Tuple([_const(v) for v in value], ast.Load())
    if isinstance(value, float) and math.isinf(value):
        node: ast.expr = ast.Call(ast.Name("float", ast.Load()), [ast.Constant("inf")], [])
        return ast.UnaryOp(ast.USub(), node) if value < 0 else node
    if isinstance(value, int | float) and not isinstance(value, bool) and (value < 0 or math.copysign(1, value) < 0):
        return ast.UnaryOp(ast.USub(), ast.Constant(-value))
    return ast.Constant(value)


_KEYWORD_ORDER = {name: index for index, name in enumerate((
    "kernel_size", "stride", "padding", "output_padding", "dilation", "groups", "bias", "padding_mode", "ceil_mode",
    "count_include_pad"))}
"""Keywords of ``nn`` constructors (and the runtime's convolutions) in the order torch's signatures list them
(``nn.Conv2d(..., kernel_size=3, stride=stride, padding=1, groups=width, bias=False)``), whatever built them;
others keep their place after these."""
_HELPER_CONVS = frozenset({"SeparableConv1d", "SeparableConv2d"})


def _expr(expr: Expr | Slice) -> ast.expr:
    if isinstance(expr, Const):
        return _const(expr.value)
    if isinstance(expr, Name):
        return ast.Name(expr.id, ast.Load())
    if isinstance(expr, Global):
        node: ast.expr = ast.Name(expr.path[0], ast.Load())
        for part in expr.path[1:]:
            node = ast.Attribute(node, part, ast.Load())
        return node
    if isinstance(expr, Attr):
        return ast.Attribute(_expr(expr.value), expr.name, ast.Load())
    if isinstance(expr, Call):
        kwargs = expr.kwargs
        if isinstance(expr.func, Global) and (expr.func.path[0] == "nn" or expr.func.path[-1] in _HELPER_CONVS):
            kwargs = tuple(sorted(kwargs, key=lambda item: _KEYWORD_ORDER.get(item[0], len(_KEYWORD_ORDER))))
        return ast.Call(_expr(expr.func), [_expr(a) for a in expr.args], [ast.keyword(k, _expr(v)) for k, v in kwargs])
    if isinstance(expr, BinOp):
        return ast.BinOp(_expr(expr.left), _BINARY[expr.op](), _expr(expr.right))
    if isinstance(expr, UnaryOp):
        return ast.UnaryOp(_UNARY[expr.op](), _expr(expr.operand))
    if isinstance(expr, Compare):
        return ast.Compare(_expr(expr.left), [_COMPARE[expr.op]()], [_expr(expr.right)])
    if isinstance(expr, BoolOp):
        return ast.BoolOp(_BOOLEAN[expr.op](), [_expr(v) for v in expr.values])
    if isinstance(expr, Index):
        items = [_slice(i) for i in expr.items]
        return ast.Subscript(_expr(expr.value), items[0] if len(items) == 1 else ast.Tuple(items, ast.Load()),
                             ast.Load())
    if isinstance(expr, Seq):
        items = [_expr(i) for i in expr.items]
        return ast.List(items, ast.Load()) if expr.kind == "list" else ast.Tuple(items, ast.Load())
    if isinstance(expr, IfExp):
        return ast.IfExp(_expr(expr.test), _expr(expr.body), _expr(expr.orelse))
    if isinstance(expr, Repeat):
        if type(expr.count) is not int or expr.count < 2:
            raise vocabulary_error(f"a repeat count of {expr.count!r}")
        loop = ast.comprehension(ast.Name("i" if expr.counted else "_", ast.Store()), ast.Call(ast.Name("range", ast.Load()),
                                                                      [ast.Constant(expr.count)], []), [], 0)
        return ast.Starred(ast.GeneratorExp(_expr(expr.item), [loop]), ast.Load())
    raise vocabulary_error(f"unknown expression {type(expr).__name__}")


def _slice(item: Expr | Slice) -> ast.expr:
    if item is ELLIPSIS:
        return ast.Constant(Ellipsis)
    if isinstance(item, Slice):
        bound = lambda v: None if v is None else _const(int(v))  # noqa: E731
        return ast.Slice(bound(item.start), bound(item.stop), bound(item.step))
    return _expr(item)


def _target(target: Name | TupleTarget | None) -> ast.expr:
    if target is None:
        return ast.Name("_", ast.Store())
    if isinstance(target, Name):
        return ast.Name(target.id, ast.Store())
    return ast.Tuple([_target(t) for t in target.items], ast.Store())


# --------------------------------------------------------------------------- decisions on the representation


def discard_unused(ir: ModelIR) -> list[Step]:
    """Unpacked names nothing later reads become ``_`` (a recurrent layer's unused final states); a step that
    calls no module and whose value nothing reads is dropped (an unused state's selection)."""
    read: set[str] = {port.value.name for port in ir.outputs}
    steps: list[Step] = []
    for step in reversed(ir.steps):
        if isinstance(step.target, TupleTarget):
            step = Step(_pruned(step.target, read), step.value, step.keras_layer)
        elif step.target.id not in read and not _calls_a_module(step.value):
            continue
        read.update(free_names(step.value))
        steps.append(step)
    return steps[::-1]


def _calls_a_module(expr: Expr | Slice | None) -> bool:
    if isinstance(expr, Call):
        if isinstance(expr.func, Attr) and expr.func.value == Name("self"):
            return True
        return any(_calls_a_module(part) for part in (expr.func, *expr.args, *(v for _, v in expr.kwargs)))
    if isinstance(expr, Attr):
        return _calls_a_module(expr.value)
    if isinstance(expr, BinOp | Compare):
        return _calls_a_module(expr.left) or _calls_a_module(expr.right)
    if isinstance(expr, UnaryOp):
        return _calls_a_module(expr.operand)
    if isinstance(expr, Index):
        return _calls_a_module(expr.value) or any(_calls_a_module(i) for i in expr.items)
    if isinstance(expr, Seq):
        return any(_calls_a_module(i) for i in expr.items)
    return False


def _pruned(target: TupleTarget, read: set[str]) -> TupleTarget:
    items: list[Name | TupleTarget | None] = []
    for item in target.items:
        if isinstance(item, Name):
            items.append(item if item.id in read else None)
        elif isinstance(item, TupleTarget):
            inner = _pruned(item, read)
            items.append(None if all(i is None for i in inner.items) else inner)
        else:
            items.append(None)
    return TupleTarget(tuple(items))


def submodule_runs(steps: list[Step], keras_model: str) -> list[list[int]]:
    """The step indices of each call of the nested Keras model ``keras_model``, one list per call, in order."""
    runs: dict[int, list[int]] = {}
    for index, step in enumerate(steps):
        if step.nested_call is not None and step.nested_call[1] == keras_model:
            runs.setdefault(step.nested_call[0], []).append(index)
    return list(runs.values())


def run_interface(steps: list[Step], run: list[int], outputs: Iterable[str]) -> tuple[list[str], list[str]]:
    """(inputs, outputs) of a run of steps: the locals it reads that it does not bind, in reading order; the
    locals it binds that a later step or the model's outputs read, in binding order."""
    bound = [name for i in run for name in steps[i].bound]
    reads = [n for i in run for n in free_names(steps[i].value)]
    inputs = list(dict.fromkeys(n for n in reads if n not in bound))
    later = {n for step in steps[run[-1] + 1:] for n in free_names(step.value)} | set(outputs)
    return inputs, [n for n in dict.fromkeys(bound) if n in later]


def structured_steps(ir: ModelIR) -> list[Step]:
    """``forward``'s steps with each call of a nested model replaced by one call of its submodule and each stage
    of repeated blocks by one call of its ``nn.Sequential``."""
    steps = submodule_steps(ir)
    if not ir.stages:
        return steps
    out: list[Step] = []
    stages = {stage.start: stage for stage in ir.stages}
    index = 0
    while index < len(steps):
        stage = stages.get(index)
        if stage is None:
            out.append(steps[index])
            index += 1
            continue
        inputs, results = run_interface(steps, list(range(stage.start, stage.end + 1)),
                                        [p.value.name for p in ir.outputs])
        arguments = tuple(Name(name) for name in stage.inputs or inputs[:1])
        out.append(Step(Name(results[-1]), Call(Attr(Name("self"), stage.attr), arguments), stage.attr))
        index = stage.end + 1
    return out


def submodule_steps(ir: ModelIR) -> list[Step]:
    """``forward``'s steps with each call of a nested model replaced by one call of its submodule."""
    steps = discard_unused(ir)
    replaced: dict[int, Step | None] = {}
    outputs = [p.value.name for p in ir.outputs]
    for sub in ir.submodules:
        for run in submodule_runs(steps, sub.keras_model):
            inputs, results = run_interface(steps, run, outputs)
            target: Name | TupleTarget = Name(results[0]) if len(results) == 1 else \
                TupleTarget(tuple(Name(r) for r in results))
            call = Call(Attr(Name("self"), sub.attr), tuple(Name(n) for n in inputs))
            replaced[run[0]] = Step(target, call, sub.keras_model)
            replaced.update({i: None for i in run[1:]})
    kept: list[Step] = []
    for index, step in enumerate(steps):
        new = replaced.get(index, step)
        if new is not None:
            kept.append(new)
    return kept


def statement(step: Step) -> ast.stmt:
    """One step as the statement ``forward`` holds."""
    return ast.Assign([_target(step.target)], _expr(step.value))


def submodule_ir(ir: ModelIR, sub: Submodule) -> ModelIR:
    """The class of a nested model: its modules under their inner names, the steps of its first call."""
    steps = discard_unused(ir)
    run = submodule_runs(steps, sub.keras_model)[0]
    inputs, results = run_interface(steps, run, [p.value.name for p in ir.outputs])
    inner = dict(sub.attrs)
    modules = [replace(m, attr=inner[m.attr], owner="") for m in ir.modules if m.attr in inner]
    calls = len(submodule_runs(steps, sub.keras_model))
    doc = (f"{sub.class_name}: the nested Keras model {printable(sub.keras_model, 60)}"
           + (f", called {calls} times with the same weights." if calls > 1 else ".") + "\n")
    paths = {flat: (name,) for flat, name in sub.attrs}
    body = [replace(steps[i], value=through_paths(steps[i].value, paths), nested_call=None) for i in run]
    return ModelIR(sub.class_name, [Port(n, Value(n, ())) for n in inputs], modules, body,
                   [Port(n, Value(n, ())) for n in results], doc=doc)


def sequential_chain(ir: ModelIR) -> list[tuple[str, ast.expr]] | None:
    """(child name, constructor) per step when ``forward`` is a chain of one-tensor module calls; else None.

    A Keras Sequential whose every step is a module (or an activation with a module form)
    becomes an ``nn.Sequential``: what a PyTorch engineer would write for it.
    """
    if not ir.sequential or len(ir.inputs) != 1 or len(ir.outputs) != 1:
        return None
    modules = {m.attr: m for m in ir.modules}
    current, chain, taken = ir.inputs[0].value.name, [], set(modules)
    for step in ir.steps:
        value = step.value
        if not isinstance(step.target, Name) or not isinstance(value, Call):
            return None
        func = value.func
        if isinstance(func, Attr) and func.value == Name("self") and func.name in modules and \
                value.args == (Name(current),) and not value.kwargs:
            spec = modules.pop(func.name)
            chain.append((spec.attr, _constructor(spec)))
        elif isinstance(func, Global) and func.path in FUNCTIONAL_MODULES and value.args[:1] == (Name(current),):
            module = Global(("nn", FUNCTIONAL_MODULES[func.path]))
            name = _child_name(step.target.id, module.path[-1], taken)
            chain.append((name, _expr(Call(module, value.args[1:], value.kwargs))))
        elif isinstance(func, Attr) and func.name == "flatten" and func.value == Name(current) and \
                value.args == (Const(1),) and not value.kwargs:
            chain.append((_child_name(step.target.id, "Flatten", taken), _expr(Call(Global(("nn", "Flatten"))))))
        else:
            return None
        current = step.target.id
    return chain if current == ir.outputs[0].value.name and not modules else None


def _child_name(preferred: str, kind: str, taken: set[str]) -> str:
    name = preferred if preferred not in taken else f"{preferred}_{kind.lower()}"
    count = 2
    while name in taken:
        name, count = f"{preferred}_{kind.lower()}_{count}", count + 1
    taken.add(name)
    return name


def _constructor(spec: ModuleSpec) -> ast.expr:
    return _expr(Call(spec.constructor, spec.args, spec.kwargs))


# --------------------------------------------------------------------------- helpers


_BUILTINS = frozenset(vars(builtins))

RUNTIME_MODULES = ("weights_port.torch_modules", "weights_port._padding")
"""Modules whose functions and classes generated files may copy (plus a plugin's own module)."""


def runtime_helper(name: str) -> Any:
    """A helper of ``weights_port.torch_modules`` by name (imported only when a file is rendered: it imports torch)."""
    import importlib

    runtime = importlib.import_module(RUNTIME_MODULES[0])
    if name not in runtime.__all__:
        raise vocabulary_error(f"{name!r} is not a helper of {RUNTIME_MODULES[0]}")
    return getattr(runtime, name)


def helper_definitions(helpers: Iterable[Helper]) -> list[ast.stmt]:
    """The helpers' own definitions (``inspect.getsource``), dependencies first, each once.

    A helper may use ``torch``, ``nn``, ``F``, builtins and other helpers of its module (or of
    the runtime modules); anything else would fail when the generated file runs, so it is
    refused here.
    """
    ordered: list[tuple[str, ast.stmt]] = []
    seen: set[str] = set()

    def add(name: str, obj: Any) -> None:
        if name in seen:
            return
        seen.add(name)
        node = _definition(name, obj)
        module = sys.modules.get(getattr(obj, "__module__", ""), None)
        names = vars(module) if module is not None else {}
        for used in sorted(_globals_used(node)):
            if used in _FILE_GLOBALS or used in _BUILTINS or used == name:
                continue
            dependency = names.get(used)
            home = getattr(dependency, "__module__", None)
            if dependency is None or not (inspect.isfunction(dependency) or inspect.isclass(dependency)) or \
                    (home != getattr(obj, "__module__", None) and home not in RUNTIME_MODULES):
                raise vocabulary_error(f"helper {name} uses {used!r}, which a generated file does not define")
            add(used, dependency)
        ordered.append((name, node))

    for helper in helpers:
        add(helper.name, helper.obj if helper.obj is not None else runtime_helper(helper.name))
    return [node for _, node in ordered]


def _definition(name: str, obj: Any) -> ast.stmt:
    try:
        text = textwrap.dedent(inspect.getsource(obj))
    except (OSError, TypeError) as exc:
        raise vocabulary_error(f"helper {name} has no source ({exc})") from None
    tree = ast.parse(text)
    if len(tree.body) != 1 or not isinstance(tree.body[0], ast.FunctionDef | ast.ClassDef) or tree.body[0].name != name:
        raise vocabulary_error(f"helper {name} is not one function or class definition")
    return tree.body[0]


def _globals_used(node: ast.stmt) -> set[str]:
    """Names a definition reads that it does not bind itself (a rough free-variable analysis)."""
    bound: set[str] = set()
    used: set[str] = set()
    for child in ast.walk(node):
        if isinstance(child, ast.Name):
            (bound if isinstance(child.ctx, ast.Store | ast.Del) else used).add(child.id)
        elif isinstance(child, ast.arg):
            bound.add(child.arg)
        elif isinstance(child, ast.FunctionDef | ast.ClassDef | ast.Lambda) and child is not node:
            if not isinstance(child, ast.Lambda):
                bound.add(child.name)
        elif isinstance(child, ast.comprehension):
            for target in ast.walk(child.target):
                if isinstance(target, ast.Name):
                    bound.add(target.id)
    return used - bound


# --------------------------------------------------------------------------- the module


def render(ir: ModelIR, keep_intermediates: bool = False) -> ast.Module:
    """The whole generated file as a tree, checked by ``check_tree``.

    ``forward`` releases each intermediate after its last use (``keep_intermediates`` keeps
    every layer's value under its own name until ``forward`` returns, for finding where a
    conversion diverges).
    """
    chain = sequential_chain(ir) if not (ir.submodules or ir.stages or ir.head) else None
    if chain is not None:
        model = _sequential_class(ir, chain)
    elif keep_intermediates:  # every value in forward's one frame; nested modules reached through their parents
        model = _module_class(ir, discard_unused(ir), keep_intermediates)
    else:
        model = _module_class(ir, structured_steps(ir))
    shared = {block.class_name for block in ir.blocks}  # nested models of one structure: a block class
    sub_irs = [submodule_ir(ir, sub) for sub in ir.submodules if sub.class_name not in shared]
    nested = [_module_class(sub_ir, discard_unused(sub_ir)) for sub_ir in sub_irs]
    nested += [_block_class_def(block, _instances(ir, block)) for block in ir.blocks]
    helpers = helper_definitions(ir.helpers)
    uses = {n.id for n in ast.walk(ast.Module([*helpers, *nested, model], [])) if isinstance(n, ast.Name)}
    imports: list[ast.stmt] = [ast.ImportFrom("__future__", [ast.alias("annotations")], 0)]
    if "OrderedDict" in uses:
        imports.append(ast.ImportFrom("collections", [ast.alias("OrderedDict")], 0))
    imports.append(ast.Import([ast.alias("torch")]))
    if "F" in uses:
        imports.append(ast.Import([ast.alias("torch.nn.functional", "F")]))
    imports.append(ast.ImportFrom("torch", [ast.alias("nn")], 0))
    stem = module_name_for(ir.class_name)
    doc = (f"PyTorch module converted from the Keras model {printable(ir.source_file)} by keras-torch-zoo.\n\n"
           f"Depends on torch alone; load the weights with\n    model = {ir.class_name}()\n"
           f"    model.load_state_dict(safetensors.torch.load_file(\"{stem}.safetensors\"))\n")
    tree = ast.Module([ast.Expr(ast.Constant(doc)), *imports, *helpers, *nested, model], [])
    ast.fix_missing_locations(tree)
    check_tree(tree, ir)
    for sub_ir in sub_irs:
        check_tree(tree, sub_ir)
    for block in ir.blocks:
        check_tree(tree, block_ir(block))
    return tree


def _instances(ir: ModelIR, block: BlockClass) -> list[dict[str, Expr]]:
    """The keyword arguments of every instance of a block class: in the stages, and inside other blocks (a
    SqueezeExcite inside each MBConv, its arguments read through the MBConv instance's)."""
    found = [dict(arguments) for stage in ir.stages for name, arguments in stage.blocks if name == block.class_name]
    found += [dict(sub.arguments) for sub in ir.submodules if sub.class_name == block.class_name]
    for outer in ir.blocks:
        for _, constructor, _, kwargs in outer.modules:
            if constructor.path == (block.class_name,):
                for instance in _instances(ir, outer):
                    values = {**dict(outer.defaults), **instance}
                    for name, rule in outer.computed:
                        values[name] = evaluate(rule, values) or rule
                    found.append({k: evaluate(v, values) or v for k, v in kwargs})
    return found


def block_ir(block: BlockClass) -> ModelIR:
    """A block class as a representation ``check_tree`` can prove (its modules by kind; arguments are the
    class's own parameters or constants)."""
    modules = [ModuleSpec(attr, constructor) for attr, constructor, _, _ in block.modules]
    modules += [ModuleSpec(attr, Global(("nn", "Sequential"))) for attr, _, _ in block.optional]
    return ModelIR(block.class_name, [Port(name, Value(name, ())) for name in (block.input, *block.extra_inputs)],
                   modules, list(block.steps),
                   [Port(block.output, Value(block.output, ()))],
                   parameters=block.parameters + tuple(flag for flag, _ in block.derived) +  # self.<flag> is read
                   tuple(name for name, _ in block.computed))


def _block_class_def(block: BlockClass, instances: list[dict[str, Expr]]) -> ast.ClassDef:
    """``class Bottleneck(nn.Module)`` with keyword parameters for what differs between its instances."""

    defaults = dict(block.defaults)

    def annotation(parameter: str) -> ast.expr | None:
        values = [i[parameter] for i in instances if parameter in i] + \
            ([defaults[parameter]] if parameter in defaults else [])
        for kind in (bool, int):
            if values and all(isinstance(v, Const) and type(v.value) is kind for v in values):
                return ast.Name(kind.__name__, ast.Load())
        if values and all(isinstance(v, Const) and (v.value is None or (isinstance(v.value, tuple) and all(
                type(i) is int for i in v.value))) for v in values):  # pad amounts, None where there is no pad
            sized = ast.Subscript(ast.Name("tuple", ast.Load()), ast.Tuple([ast.Name("int", ast.Load()),
                                                                             ast.Constant(Ellipsis)], ast.Load()),
                                  ast.Load())
            return ast.BinOp(sized, ast.BitOr(), ast.Constant(None))
        return None

    def assign(attr: str, value: Expr) -> ast.stmt:
        return ast.Assign([ast.Attribute(ast.Name("self", ast.Load()), attr, ast.Store())], _expr(value))

    built: dict[str, Expr] = {attr: Call(constructor, args, kwargs) for attr, constructor, args, kwargs in block.modules}
    rules = dict(block.derived)
    for attr, flag, parts in block.optional:
        made = [Call(constructor, args, kwargs) for constructor, args, kwargs in parts]
        present = made[0] if len(made) == 1 else Call(Global(("nn", "Sequential")), tuple(made))
        built[attr] = IfExp(rules.get(flag, Name(flag)), present, Call(Global(("nn", "Identity"))))
    called = [attr for step in block.steps for attr in ordered_calls(step.value)]
    order = {attr: index for index, attr in enumerate(dict.fromkeys(called))}
    init_body: list[ast.stmt] = [ast.Assign([ast.Name(name, ast.Store())], _expr(rule)) for name, rule in block.computed]
    init_body += [assign(attr, built[attr]) for attr in sorted(built, key=lambda a: order.get(a, len(order)))]
    if block.residual:
        init_body.append(assign(block.residual, rules.get(block.residual, Name(block.residual))))
    init = _init(init_body, [], False)
    init.args.kwonlyargs = [ast.arg(p, annotation(p)) for p in block.parameters]
    init.args.kw_defaults = [_expr(defaults[p]) if p in defaults else None for p in block.parameters]
    if block.residual:  # the sum only where the instance adds its input: ``if self.residual: y = y + x``
        *steps, total = block.steps
        main = next(n for n in free_names(total.value) if n != block.input)
        arguments, body, (kept, source) = recycle_names([block.input], _assigns(steps), [main, block.input],
                                                        generic=True)
        renamed = {main: kept, block.input: source}
        total_value = _expr(total.value)
        for node in ast.walk(total_value):
            if isinstance(node, ast.Name) and node.id in renamed:
                node.id = renamed[node.id]
        test = ast.Attribute(ast.Name("self", ast.Load()), block.residual, ast.Load())
        body += [ast.If(test, [ast.Assign([ast.Name(kept, ast.Store())], total_value)], []),
                 ast.Return(ast.Name(kept, ast.Load()))]
    else:
        arguments, body, results = recycle_names([block.input, *block.extra_inputs], _assigns(list(block.steps)),
                                                 [block.output], generic=True)
        body = _returning(body, ast.Name(results[0], ast.Load()))
    forward = ast.FunctionDef("forward", _arguments(arguments), body, [], _tensor_annotation(), None)
    doc = (printable(block.doc) if block.doc else f"{block.class_name}: a block the Keras model repeats, one instance "
           "per repetition.") + "\n"
    return ast.ClassDef(block.class_name, [_expr(Global(("nn", "Module")))], [],
                        [ast.Expr(ast.Constant(doc)), init, forward], [])


def _docstring(ir: ModelIR) -> str:
    def line(port: Any) -> str:
        value = port.value
        permutation = tuple(value.permutation)
        moved = "" if permutation == tuple(range(len(permutation))) else f", from Keras's {_shape_text(value.shape)} " \
            f"by transpose{permutation}"
        return f"    {printable(port.keras_name, 60)}: {_shape_text(value.torch_shape)}{moved}"

    count = f"{ir.layer_count} layer" + ("s" if ir.layer_count != 1 else "")
    return "\n".join([
        f"{ir.class_name}: converted from {printable(ir.source_file)} (Keras {printable(ir.keras_version, 40)}, "
        f"{count}).", "",
        "Inputs, in Keras's order (torch_array = keras_array.transpose(...) where a layout differs):",
        *(line(p) for p in ir.inputs), "Outputs:", *(line(p) for p in ir.outputs), ""])


def _shape_text(shape: tuple[int | None, ...]) -> str:
    return "(" + ", ".join("N" if i == 0 else ("?" if s is None else str(s)) for i, s in enumerate(shape)) + ")"


def _tensor_annotation() -> ast.expr:
    return ast.Attribute(ast.Name("torch", ast.Load()), "Tensor", ast.Load())


def _self_call(attr: str, *args: ast.expr) -> ast.expr:
    return ast.Call(ast.Attribute(ast.Name("self", ast.Load()), attr, ast.Load()), list(args), [])


def _init(body: list[ast.stmt], super_args: list[ast.expr], float64: bool) -> ast.FunctionDef:
    start = ast.Expr(ast.Call(ast.Attribute(ast.Call(ast.Name("super", ast.Load()), [], []), "__init__", ast.Load()),
                              super_args, []))
    tail = [ast.Expr(_self_call("to", _expr(Global(("torch", "float64")))))] if float64 else []
    return ast.FunctionDef("__init__", _arguments([]), [start, *body, *tail], [], ast.Constant(None), None)


def _arguments(names: list[str]) -> ast.arguments:
    args = [ast.arg("self")] + [ast.arg(n, _tensor_annotation()) for n in names]
    return ast.arguments([], args, None, [], [], None, [])


def _module_class(ir: ModelIR, steps: list[Step], keep_intermediates: bool = False) -> ast.ClassDef:
    owned: dict[str, tuple[str | int, ...]] = {flat: (sub.attr, inner) for sub in ir.submodules
                                               for flat, inner in sub.attrs}
    owned.update({flat: (stage.attr, *path) for stage in ir.stages for flat, path in stage.paths})
    constructors: dict[str, ast.expr] = {}
    for spec in ir.modules:
        if spec.attr not in owned:
            constructors[spec.attr] = _constructor(spec)
            continue
        parent = str(owned[spec.attr][0])
        if parent in constructors:
            continue
        sub = next((s for s in ir.submodules if s.attr == parent), None)
        if sub is not None:
            constructors[parent] = _expr(Call(Global((sub.class_name,)), (), sub.arguments))
        else:
            stage = next(s for s in ir.stages if s.attr == parent)
            blocks = tuple(Call(Global((name,)), (), arguments) for name, arguments in stage.blocks)
            constructors[parent] = _expr(blocks[0] if stage.single else
                                         Call(Global(("nn", "Sequential")), _runs_repeated(blocks)))
    init_body: list[ast.stmt] = [
        ast.Assign([ast.Attribute(ast.Name("self", ast.Load()), attr, ast.Store())], constructor)
        for attr, constructor in constructors.items()]
    if owned and keep_intermediates:
        steps = [replace(step, value=through_paths(step.value, owned)) for step in steps]
    if ir.head is not None and not keep_intermediates:  # one forward keeps every value in one frame
        functions = _split_forward(ir, steps, keep_intermediates)
        body = [ast.Expr(ast.Constant(_docstring(ir))), _init(init_body, [], ir.float64), *functions]
        return ast.ClassDef(ir.class_name, [_expr(Global(("nn", "Module")))], [], body, [])
    forward_body: list[ast.stmt] = [ast.Assign([_target(step.target)], _expr(step.value)) for step in steps]
    arguments = [p.value.name for p in ir.inputs]
    results = [p.value.name for p in ir.outputs]
    if not keep_intermediates:
        arguments, forward_body, results = recycle_names(arguments, forward_body, results)
    returned: list[ast.expr] = [ast.Name(name, ast.Load()) for name in results]
    value = returned[0] if len(returned) == 1 else ast.Tuple(returned, ast.Load())
    forward_body = [*forward_body, ast.Return(value)] if keep_intermediates else _returning(forward_body, value)
    returns: ast.expr = _tensor_annotation() if len(returned) == 1 else ast.Subscript(
        ast.Name("tuple", ast.Load()), ast.Tuple([_tensor_annotation()] * len(returned), ast.Load()), ast.Load())
    forward = ast.FunctionDef("forward", _arguments(arguments), forward_body, [], returns, None)
    body = [ast.Expr(ast.Constant(ir.doc or _docstring(ir))), _init(init_body, [], ir.float64), forward]
    return ast.ClassDef(ir.class_name, [_expr(Global(("nn", "Module")))], [], body, [])


def _runs_repeated(blocks: tuple[Expr, ...], shortest: int = 3) -> tuple[Expr, ...]:
    """Each run of at least ``shortest`` block constructions that are equal, or whose integer arguments step by a
    fixed amount (DenseNet's widths grow by 32 a layer), as one ``Repeat`` where it fits on one line of
    ``nn.Sequential(...)`` (two stay two lines; a repeat the formatter would break over five lines is no shorter);
    a run of equal blocks is taken whole before a stepping one."""
    grouped: list[Expr] = []
    index = 0
    while index < len(blocks):
        end = index + 1
        while end < len(blocks) and blocks[end] == blocks[index]:
            end += 1
        repeat: Repeat | None = Repeat(blocks[index], end - index)
        if end - index < shortest:
            end, repeat = _stepping_run(blocks, index)
        if repeat is not None and end - index >= shortest and \
                _INDENT * 3 + len(ast.unparse(_expr(repeat))) + 1 <= LINE_LENGTH:
            grouped.append(repeat)
        else:
            grouped += blocks[index:end]
        index = end
    return tuple(grouped)


def _stepping_run(blocks: tuple[Expr, ...], index: int) -> tuple[int, Repeat | None]:
    """(end, the run as one counted ``Repeat``) for the blocks from ``index`` on that differ only in integer
    keyword arguments stepping by a fixed amount from one block to the next; (index + 1, None) where none step."""
    first = blocks[index]
    if index + 1 >= len(blocks) or not isinstance(first, Call):
        return index + 1, None

    def steps_of(a: Expr, b: Expr) -> dict[str, int] | None:
        if not (isinstance(a, Call) and isinstance(b, Call) and a.func == b.func and a.args == b.args and
                [k for k, _ in a.kwargs] == [k for k, _ in b.kwargs]):
            return None
        steps = {}
        for (key, x), (_, y) in zip(a.kwargs, b.kwargs, strict=True):
            if x == y:
                continue
            if not (isinstance(x, Const) and isinstance(y, Const) and type(x.value) is int and type(y.value) is int):
                return None
            steps[key] = y.value - x.value
        return steps

    step = steps_of(first, blocks[index + 1])
    if not step:
        return index + 1, None
    end = index + 2
    while end < len(blocks) and steps_of(blocks[end - 1], blocks[end]) == step:
        end += 1
    counted = tuple((key, BinOp("+", value, BinOp("*", Const(step[key]), Name("i"))) if key in step else value)
                    for key, value in first.kwargs)
    return end, Repeat(replace(first, kwargs=counted), end - index, counted=True)


def through_paths(expr: Any, owned: Mapping[str, tuple[str | int, ...]]) -> Any:
    """``self.<flat>`` → ``self.<submodule>.<inner>`` (or any path) throughout an expression."""

    def path(node: Any) -> Expr | None:
        if not (isinstance(node, Attr) and node.value == Name("self") and node.name in owned):
            return None
        target: Expr = Name("self")
        for part in owned[node.name]:
            target = Index(target, (Const(part),)) if isinstance(part, int) else Attr(target, part)
        return target

    return rewrite(expr, path)


def ordered_calls(expr: Expr) -> list[str]:
    """The module attributes an expression calls (``self.<attr>``), in reading order."""
    tree = statement(Step(Name("_"), expr))
    return [n.attr for n in ast.walk(tree) if isinstance(n, ast.Attribute) and isinstance(n.value, ast.Name)
            and n.value.id == "self"]


def _split_forward(ir: ModelIR, steps: list[Step], keep_intermediates: bool) -> list[ast.FunctionDef]:
    """``forward_features``, ``forward_head(x, pre_logits=False)`` ending in ``self.head``, and ``forward``, which
    applies the output activation after the head (``_structure.split_head``)."""
    split = ir.head
    inputs = [p.value.name for p in ir.inputs]

    def function(name: str, arguments: list[str], body: list[ast.stmt], results: list[str],
                 tail: Callable[[str], list[ast.stmt]] | None = None) -> ast.FunctionDef:
        if not keep_intermediates:
            arguments, body, results = recycle_names(arguments, body, results)
        returned: list[ast.expr] = [ast.Name(r, ast.Load()) for r in results]
        args = _arguments(arguments)
        if tail is not None:
            args.args.append(ast.arg("pre_logits", ast.Name("bool", ast.Load())))
            args.defaults.append(ast.Constant(False))
        if tail is not None:
            body = [*body, *tail(results[0])]
        else:
            body = _returning(body, returned[0] if len(returned) == 1 else ast.Tuple(returned, ast.Load()))
        return ast.FunctionDef(name, args, body, [], _tensor_annotation(), None)

    def head_tail(name: str) -> list[ast.stmt]:
        logits = _expr(Call(Attr(Name("self"), "head"), (Name(name),)))
        return [ast.If(ast.Name("pre_logits", ast.Load()), [ast.Return(ast.Name(name, ast.Load()))], []),
                ast.Return(logits)]

    head_step = steps[split.head_step]
    assert isinstance(head_step.target, Name)
    features = function("forward_features", inputs, _assigns(steps[:split.features_end]), [split.features])
    head = function("forward_head", [split.features], _assigns(steps[split.features_end:split.head_step]),
                    [split.pre_logits], head_tail)
    body: list[ast.stmt] = [
        ast.Assign([ast.Name(split.features, ast.Store())],
                   _self_call("forward_features", *(ast.Name(n, ast.Load()) for n in inputs))),
        ast.Assign([ast.Name(head_step.target.id, ast.Store())],
                   _self_call("forward_head", ast.Name(split.features, ast.Load()))),
        *_assigns(steps[split.head_step + 1:])]
    forward = function("forward", inputs, body, [ir.outputs[0].value.name])
    return [features, head, forward]


def _returning(body: list[ast.stmt], value: ast.expr) -> list[ast.stmt]:
    """``body`` ending in ``return value``, as one writes it by hand: no ``del`` just before returning (the frame
    frees its locals anyway), and ``x = f(x)`` then ``return x`` as ``return f(x)``."""
    body = list(body)
    while body and isinstance(body[-1], ast.Delete):
        body.pop()
    if body and isinstance(value, ast.Name) and isinstance(body[-1], ast.Assign) and len(body[-1].targets) == 1 \
            and isinstance(body[-1].targets[0], ast.Name) and body[-1].targets[0].id == value.id:
        return [*body[:-1], ast.Return(body[-1].value)]
    return [*body, ast.Return(value)]


def _assigns(steps: list[Step]) -> list[ast.stmt]:
    return [statement(step) for step in steps]


_GENERIC_NAMES = ("x", "y", "z", "u", "v", "w")


def is_generator_local(name: str, generated: set[str] | frozenset[str]) -> bool:
    """A local the renderer names itself, with no file text in it: a variable carrying several values (``x``,
    ``y_2``), a rebinding of a ``generated`` local (``dense__2``), or ``forward_head``'s ``pre_logits``."""
    stem, _, number = name.partition("_")
    if stem in _GENERIC_NAMES and (not number or (number.isdigit() and number.isascii() and number[0] != "0")):
        return True
    base, _, count = name.rpartition("__")
    return name == "pre_logits" or (base in generated and count.isdigit() and count.isascii())


def recycle_names(arguments: list[str], body: list[ast.stmt], results: list[str], generic: bool = False
                  ) -> tuple[list[str], list[ast.stmt], list[str]]:
    """``forward`` holding each intermediate only until its last use, as a hand-written module does.

    After ``_single_assignment`` every local is assigned once, so its last reader is known. A
    step whose operand dies there takes that operand's variable (``x = self.conv(x)``; of
    several, the oldest, so a residual sum stays on the trunk); an operand that dies without
    being taken is released with ``del`` and its name is free for the next branch. A name
    that carries one value keeps it (the Keras layer's); one that carries several gets a
    short name (``x`` for a single input's trunk, then ``y``, ``z``...). Several inputs keep
    their names while each branch is its own; the value that merges them starts a new one.
    With ``generic`` every local gets a short name: a block class's Keras names are one instance's.
    """
    body, results = _single_assignment(body, results)
    local = set(arguments)
    for statement in body:
        local.update(n.id for n in ast.walk(statement) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store)
                     and n.id != "_")
    reads_of = [list(dict.fromkeys(n.id for n in ast.walk(statement.value if isinstance(statement, ast.Assign)
                                                          else statement)
                                   if isinstance(n, ast.Name) and n.id in local)) for statement in body]
    last_use = {name: index for index, reads in enumerate(reads_of) for name in reads}
    last_use.update({name: len(body) for name in results})
    slot_of: dict[str, int] = {}  # local -> the variable (slot) holding it; slots are numbered by age
    carried: list[list[str]] = []
    free: list[int] = []

    def new_slot(name: str) -> None:
        slot = free.pop(0) if free else len(carried)
        if slot == len(carried):
            carried.append([])
        slot_of[name] = slot
        carried[slot].append(name)

    for name in arguments:
        new_slot(name)
    inputs_of: dict[str, set[str]] = {name: {name} for name in arguments}  # the inputs each value derives from
    released_after: list[list[int]] = []
    for index, statement in enumerate(body):
        dying = sorted({slot_of[n] for n in reads_of[index] if last_use[n] == index})
        written = [n.id for n in ast.walk(statement) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store)
                   and n.id != "_"]
        sources: set[str] = set().union(*(inputs_of.get(n, set()) for n in reads_of[index]))
        inputs_of.update({name: sources for name in written})
        merges_inputs = len(arguments) > 1 and len(sources) > 1 and bool(dying) and dying[0] < len(arguments)
        if len(written) == 1 and isinstance(statement, ast.Assign) and \
                isinstance(statement.targets[0], (ast.Name, ast.Tuple)) and dying and not merges_inputs:
            # one value written (``x, _ = self.lstm(x)`` too); one built from two inputs is neither: a new name
            slot_of[written[0]] = dying[0]
            carried[dying[0]].append(written[0])
            released = dying[1:]
        else:
            released = dying
            for name in written:
                new_slot(name)
        released += [slot_of[n] for n in written if n not in last_use and slot_of[n] not in released]
        free.extend(slot for slot in released if slot >= len(arguments) or len(arguments) == 1)
        free.sort()
        released_after.append(released)
    taken = {n.id for statement in body for n in ast.walk(statement) if isinstance(n, ast.Name)} | set(arguments)
    names: list[str] = []
    for slot, values in enumerate(carried):
        if slot == 0 and len(arguments) == 1 and "x" not in taken:
            names.append("x")  # a single input is the trunk: ``forward(self, x)``
        elif (len(values) == 1 and not generic) or (slot < len(arguments) and len(arguments) > 1):
            names.append(values[0])
        else:
            names.append(next(n for n in _generic_names() if n not in taken and n not in names))
    renamed = {local_name: names[slot] for local_name, slot in slot_of.items()}

    class Rename(ast.NodeTransformer):
        def visit_Name(self, node: ast.Name) -> ast.Name:
            return ast.Name(renamed.get(node.id, node.id), node.ctx)

    out: list[ast.stmt] = []
    for statement, released in zip(body, released_after, strict=True):
        out.append(Rename().visit(statement))
        if released:
            out.append(ast.Delete([ast.Name(names[slot], ast.Del()) for slot in released]))
    return [renamed[a] for a in arguments], out, [renamed[r] for r in results]


def _generic_names() -> Iterable[str]:
    yield from _GENERIC_NAMES
    for number in range(2, 10**6):
        yield from (f"{g}_{number}" for g in _GENERIC_NAMES)


def _single_assignment(body: list[ast.stmt], results: list[str]) -> tuple[list[ast.stmt], list[str]]:
    """Each local assigned once: a rebinding (a fused activation, ``a = f(a)``) gets a new name ``a__2``."""
    current: dict[str, str] = {}
    counts: dict[str, int] = {}

    class Reads(ast.NodeTransformer):
        def visit_Name(self, node: ast.Name) -> ast.Name:
            return ast.Name(current.get(node.id, node.id), node.ctx) if isinstance(node.ctx, ast.Load) else node

    class Writes(ast.NodeTransformer):
        def visit_Name(self, node: ast.Name) -> ast.Name:
            if not isinstance(node.ctx, ast.Store) or node.id == "_":
                return node
            counts[node.id] = counts.get(node.id, 0) + 1
            current[node.id] = node.id if counts[node.id] == 1 else f"{node.id}__{counts[node.id]}"
            return ast.Name(current[node.id], node.ctx)

    out: list[ast.stmt] = []
    for statement in body:
        if isinstance(statement, ast.Assign):
            value = Reads().visit(statement.value)
            targets = [Writes().visit(t) for t in statement.targets]
            out.append(ast.Assign(targets, value))
        else:
            out.append(Reads().visit(statement))
    return out, [current.get(r, r) for r in results]


def _sequential_class(ir: ModelIR, chain: list[tuple[str, ast.expr]]) -> ast.ClassDef:
    entries: list[ast.expr] = [ast.Tuple([ast.Constant(name), constructor], ast.Load()) for name, constructor in chain]
    ordered = ast.Call(ast.Name("OrderedDict", ast.Load()), [ast.List(entries, ast.Load())], [])
    body = [ast.Expr(ast.Constant(_docstring(ir))), _init([], [ordered], ir.float64)]
    return ast.ClassDef(ir.class_name, [_expr(Global(("nn", "Sequential")))], [], body, [])


# --------------------------------------------------------------------------- the proof


_ALLOWED_NODES = (ast.Module, ast.ClassDef, ast.FunctionDef, ast.arguments, ast.arg, ast.Assign, ast.Return,
                  ast.Delete, ast.Del, ast.If, ast.IfExp, ast.Starred, ast.GeneratorExp, ast.comprehension,
                  ast.BoolOp, ast.boolop,
                  ast.Expr, ast.Call, ast.Attribute, ast.Name, ast.Constant, ast.BinOp, ast.UnaryOp, ast.Compare,
                  ast.Subscript, ast.Slice, ast.Tuple, ast.List, ast.keyword, ast.Load, ast.Store, ast.operator,
                  ast.unaryop, ast.cmpop, ast.ImportFrom, ast.Import, ast.alias)


def check_tree(tree: ast.Module, ir: ModelIR) -> None:
    """Prove the model class uses only the vocabulary, generated names and constants.

    Helper definitions are the runtime module's own source (checked to be exactly that);
    every other node is checked here. A failure is a generator bug and nothing is written.
    """
    helpers = {h.name for h in ir.helpers}
    locals_ = {p.value.name for p in ir.inputs} | {n for s in ir.steps for n in s.bound} | {"self", "_", "i"} | \
        set(ir.parameters)
    attributes = {m.attr for m in ir.modules} | {s.attr for s in ir.submodules} | \
        {inner for s in ir.submodules for _, inner in s.attrs} | {s.attr for s in ir.stages} | \
        {part for s in ir.stages for _, path in s.paths for part in path if isinstance(part, str)} | \
        set(ir.parameters) | \
        TORCH_FUNCTIONS | F_FUNCTIONS | NN_CLASSES | \
        TENSOR_METHODS | _FIXED_ATTRIBUTES
    all_helpers = helpers | {n.name for n in tree.body if isinstance(n, ast.FunctionDef | ast.ClassDef)
                             and n.name != ir.class_name}
    locals_ |= {n.arg if isinstance(n, ast.arg) else n.id for n in ast.walk(tree)
                if isinstance(n, ast.Name | ast.arg) and is_generator_local(n.arg if isinstance(n, ast.arg) else n.id,
                                                                            locals_)}
    names = locals_ | _FILE_GLOBALS | all_helpers | {"super", "float", "tuple", "bool", "int", "range"}
    model = [n for n in tree.body if isinstance(n, ast.ClassDef) and n.name == ir.class_name]
    if len(model) != 1:
        raise vocabulary_error("the generated file does not hold exactly one model class")
    for node in ast.walk(model[0]):
        if not isinstance(node, _ALLOWED_NODES) or isinstance(node, ast.Import | ast.ImportFrom):
            raise vocabulary_error(f"the model class holds a {type(node).__name__} node")
        if isinstance(node, ast.Name) and node.id not in names:
            raise vocabulary_error(f"the model class reads the name {node.id!r}")
        if isinstance(node, ast.Attribute) and node.attr not in attributes:
            raise vocabulary_error(f"the model class reads the attribute {node.attr!r}")
        if isinstance(node, ast.arg) and node.arg not in locals_:
            raise vocabulary_error(f"the model class takes the argument {node.arg!r}")
        if isinstance(node, ast.FunctionDef) and node.name not in ("__init__", "forward", "forward_features",
                                                                     "forward_head"):
            raise vocabulary_error(f"the model class defines {node.name!r}")
    for node in ast.walk(model[0]):
        if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id in ("torch", "F", "nn"):
            if not allowed_global((node.value.id, node.attr), all_helpers):
                raise vocabulary_error(f"the model class uses {node.value.id}.{node.attr}")
    for node in tree.body:
        if isinstance(node, ast.Import | ast.ImportFrom):
            modules = {"__future__", "collections", "torch", "torch.nn.functional"}
            if (node.module if isinstance(node, ast.ImportFrom) else node.names[0].name) not in modules:
                raise vocabulary_error("the generated file imports something else than torch")


def render_source(ir: ModelIR) -> str:
    """The file's text: the checked tree unparsed, formatted by ruff, and proven to be the same tree.

    The docstring, each import group and the definitions are unparsed separately and
    joined with blank lines (isort's grouping); the text is then parsed back and compared.
    """
    tree = render(ir)
    body = tree.body
    groups: list[list[ast.stmt]] = [[body[0]], [], [], []]
    for node in body[1:]:
        if isinstance(node, ast.ImportFrom) and node.module == "__future__":
            groups[1].append(node)
        elif isinstance(node, ast.Import | ast.ImportFrom):
            groups[2 if (node.module if isinstance(node, ast.ImportFrom) else node.names[0].name) == "collections"
                   else 3].append(node)
    definitions = [n for n in body if not isinstance(n, ast.Import | ast.ImportFrom | ast.Expr)]
    header = "\n\n".join(ast.unparse(ast.Module(group, [])) for group in groups if group)
    text = _formatted("\n\n\n".join([header, *(ast.unparse(ast.Module([node], [])) for node in definitions)]) + "\n")
    if _normalised(ast.parse(text)) != _normalised(tree):
        raise PortError("formatting the generated source changed its meaning; please report it")
    return text


def _normalised(tree: ast.Module) -> str:
    """The tree as text for comparison, docstrings as ``inspect.cleandoc`` sees them (ruff re-indents them)."""
    copy = ast.parse(ast.unparse(tree))
    for node in ast.walk(copy):
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef) and node.body and \
                isinstance(node.body[0], ast.Expr) and isinstance(node.body[0].value, ast.Constant) and \
                isinstance(node.body[0].value.value, str):
            node.body[0].value.value = "\n".join(
                line.rstrip() for line in inspect.cleandoc(node.body[0].value.value).splitlines()).strip()
    return ast.dump(copy, include_attributes=False)


def _formatted(source: str) -> str:
    """``source`` through ``ruff format`` at 120 columns (torchvision's line length), ignoring any user config.

    ruff is a dependency, so the same tree always gives the same bytes for one ruff version.
    """
    result = subprocess.run([sys.executable, "-m", "ruff", "format", "--isolated", "--line-length", str(LINE_LENGTH), "--quiet",
                             "-"], input=source,
                            capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise PortError(f"formatting the generated source failed ({result.stderr.strip()[:300]}); please report it")
    return result.stdout


def build_module(ir: ModelIR, state: Mapping[str, np.ndarray], keep_intermediates: bool = False) -> Any:
    """The generated class built from the checked tree (never from text), its state loaded strictly, in eval mode."""
    import torch

    tree = render(ir, keep_intermediates)
    namespace: dict[str, Any] = {"__name__": f"converted_{ir.class_name}"}
    module = types.ModuleType(namespace["__name__"])
    module.__dict__.update(namespace)
    exec(compile(tree, f"<converted {ir.class_name}>", "exec"), module.__dict__)
    net = module.__dict__[ir.class_name]()
    net.load_state_dict({k: torch.from_numpy(np.array(v, order="C")) for k, v in state.items()}, strict=True)
    return net.eval()
