"""Repeated blocks found in a converted model: one ``nn.Module`` class per block kind, in ``nn.Sequential`` stages.

A block is a span of ``forward`` between two points where one tensor alone flows on that
holds a branch (a residual block). Spans of one structure are one class whose differing
constructor arguments are keyword parameters; a block that also holds a part the others
lack (ResNet's projection shortcut) gets it as an optional submodule.
"""

from __future__ import annotations

import ast
from collections.abc import Mapping
from dataclasses import dataclass, fields, is_dataclass, replace
from itertools import pairwise
from typing import Any

import numpy as np

from ._ir import SELF, Attr, BinOp, BlockClass, Call, Const, Expr, ModelIR, Name, Stage, Step, free_names
from ._names import NameTable, snake_identifier
from ._render import run_interface, statement, submodule_steps, through_paths
from ._structure import free_attribute, live_after, ordered_calls, rename_state

__all__ = ["extract_stages"]

_SHORT_NAMES = {"Conv1d": "conv", "Conv2d": "conv", "Conv3d": "conv", "BatchNorm1d": "bn", "BatchNorm2d": "bn",
                "BatchNorm3d": "bn", "Linear": "fc", "Dropout": "drop", "LayerNorm": "norm", "GroupNorm": "norm"}
_ARGUMENT_NAMES = {"Conv1d": ("in_channels", "out_channels"), "Conv2d": ("in_channels", "out_channels"),
                   "Conv3d": ("in_channels", "out_channels"), "Linear": ("in_features", "out_features"),
                   "BatchNorm1d": ("num_features",), "BatchNorm2d": ("num_features",),
                   "BatchNorm3d": ("num_features",), "GroupNorm": ("num_groups", "num_channels")}


def extract_stages(ir: ModelIR, state: dict[str, np.ndarray], manifest: dict[str, Any]) -> ModelIR:
    """Repeated blocks as classes: the spans of ``forward`` between two points where one tensor alone flows on
    that hold a branch (a residual block), grouped by structure (the same steps and module kinds; constructor
    arguments may differ and become keyword parameters); adjacent blocks form ``nn.Sequential`` stages, a new
    stage starting at each block of the kind that opens the run (ResNet's projection block)."""
    if len(ir.inputs) != 1 or ir.stages:
        return ir
    steps = submodule_steps(ir)
    modules = {m.attr: m for m in ir.modules}
    keyed = {(start, end): key for start, end in _segments(ir, steps)
             if (key := _block_key(steps, start, end, modules)) is not None}
    kinds: dict[str, list[tuple[int, int]]] = {}
    for segment, key in keyed.items():
        kinds.setdefault(key, []).append(segment)
    shortcuts = _optional_shortcuts(steps, keyed, modules)
    for segment, (_cut, reduced) in shortcuts.items():  # ResNet's projection block joins the plain Bottleneck
        kinds[keyed[segment]].remove(segment)
        kinds[reduced].append(segment)
    taken = {m.attr for m in ir.modules} | {s.attr for s in ir.submodules}
    class_names = NameTable()
    class_names.reserve(ir.class_name, *(h.name for h in ir.helpers), *(s.class_name for s in ir.submodules))
    kind_of: dict[tuple[int, int], _Member] = {}
    blocks: list[BlockClass] = []
    for members in kinds.values():
        if len(members) < 2:
            continue
        members.sort()
        cuts = {m: shortcuts[m][0] for m in members if m in shortcuts}
        block, placed = _block_class(steps, members, modules, class_names, cuts)
        blocks.append(block)
        kind_of.update(placed)
    if not kind_of:
        return ir
    attributes_table = NameTable()
    attributes_table.reserve(*taken)
    stages: list[Stage] = []
    for run in _stage_runs(sorted(kind_of), {segment: kind_of[segment].block.class_name for segment in kind_of},
                           {segment for segment in kind_of if kind_of[segment].opens}):
        if len(run) == 1:  # one block is an attribute named after its Keras layers (block2a_se), not a stage
            prefix = _common_prefix([flat for flat, _ in kind_of[run[0]].paths])
            hint = prefix if len(prefix) >= 3 else kind_of[run[0]].block.class_name
        else:
            hint = f"stage{sum(not stage.single for stage in stages) + 1}"
        stages.append(_stage(attributes_table.allocate(hint, "block"), run, kind_of))
    rename_state(state, manifest, {flat: ".".join(str(p) for p in (stage.attr, *path))
                                    for stage in stages for flat, path in stage.paths})
    manifest["names"]["class"].update({b.class_name: b.class_name for b in blocks})
    attributes = manifest["names"]["attributes"]
    for stage in stages:
        attributes[stage.attr] = stage.attr
        for flat, path in stage.paths:
            inner = [part for part in path if isinstance(part, str)]
            if len(inner) == 1:
                attributes[inner[0]] = attributes.get(flat, flat)
            else:  # a part of an optional branch (downsample.0): the branch is named by structure
                attributes[inner[0]] = inner[0]
    return replace(ir, blocks=blocks, stages=stages)


@dataclass(frozen=True)
class _Shortcut:
    """A block's shortcut: module calls on its input alone (``steps``, in order), ending at an operand of its last
    sum (step ``merge``)."""

    steps: tuple[int, ...]
    merge: int
    operand: str
    input: str


@dataclass(frozen=True)
class _Member:
    """One instance of a block class: its keyword arguments, the path of each of its flat modules inside the block,
    and whether it opens a stage (it holds the optional shortcut)."""

    block: BlockClass
    arguments: tuple[tuple[str, Expr], ...]
    paths: tuple[tuple[str, tuple[str | int, ...]], ...]
    opens: bool


def _optional_shortcuts(steps: list[Step], keyed: Mapping[tuple[int, int], str], modules: Mapping[str, Any]
                        ) -> dict[tuple[int, int], tuple[_Shortcut, str]]:
    """Blocks whose shortcut is a chain of modules (a projection) where other blocks of the same structure add
    their input itself: each such block with its shortcut and the plain blocks' key."""
    plain = set(keyed.values())
    found: dict[tuple[int, int], tuple[_Shortcut, str]] = {}
    for segment, key in keyed.items():
        for cut in _shortcut_chains(steps, *segment):
            reduced = _body_key(_without(steps, segment, cut), modules)
            if reduced is not None and reduced != key and reduced in plain:
                found[segment] = (cut, reduced)
                break
    return found


def _shortcut_chains(steps: list[Step], start: int, end: int) -> list[_Shortcut]:
    """For each operand of the span's last sum: the chain of single-input module calls leading to it from the
    span's input, each value read once, when there is one."""
    first = free_names(steps[start].value)
    merges = [i for i in range(start, end + 1) if _is_sum(steps[i].value)]
    if not first or not merges:
        return []
    source, merge = first[0], merges[-1]
    value = steps[merge].value
    assert isinstance(value, BinOp)
    reads = [n for i in range(start, end + 1) for n in free_names(steps[i].value)]
    producer = {steps[i].bound[0]: i for i in range(start, merge) if isinstance(steps[i].target, Name)}
    chains = []
    for operand in (value.left, value.right):
        if not isinstance(operand, Name):
            continue
        chain: list[int] = []
        name = operand.id
        while name != source and name in producer and reads.count(name) == 1:
            call_ = steps[producer[name]].value
            if not (isinstance(call_, Call) and isinstance(call_.func, Attr) and call_.func.value == SELF and
                    len(call_.args) == 1 and isinstance(call_.args[0], Name) and not call_.kwargs):
                break
            chain.insert(0, producer[name])
            name = call_.args[0].id
        if chain and name == source:
            chains.append(_Shortcut(tuple(chain), merge, operand.id, source))
    return chains


def _is_sum(expr: Expr) -> bool:
    return isinstance(expr, BinOp) and expr.op == "+"


def _without(steps: list[Step], segment: tuple[int, int], cut: _Shortcut) -> list[Step]:
    """The span with its shortcut removed: the sum adds the span's input itself."""
    out = []
    for index in range(segment[0], segment[1] + 1):
        if index in cut.steps:
            continue
        step = steps[index]
        if index == cut.merge:
            step = replace(step, value=_renamed(step.value, cut.operand, cut.input))
        out.append(step)
    return out


def _renamed(expr: Any, old: str, new: str) -> Any:
    """``expr`` reading the local ``new`` where it read ``old``."""
    if isinstance(expr, Name):
        return Name(new) if expr.id == old else expr
    if is_dataclass(expr) and not isinstance(expr, type):
        changes = {}
        for f in fields(expr):
            value = getattr(expr, f.name)
            new_value = tuple(_renamed(v, old, new) for v in value) if isinstance(value, tuple) else \
                _renamed(value, old, new)
            if new_value != value:
                changes[f.name] = new_value
        return replace(expr, **changes) if changes else expr
    return expr


def _stage_runs(segments: list[tuple[int, int]], kind: Mapping[tuple[int, int], str],
                opening: set[tuple[int, int]]) -> list[list[tuple[int, int]]]:
    """Adjacent blocks of one kind form a stage, a new one at each block that holds its optional shortcut
    (ResNet's projection); a kind that never repeats back to back joins the run after it."""
    runs: list[list[tuple[int, int]]] = []
    for segment in segments:
        if runs and runs[-1][-1][1] + 1 == segment[0] and kind[runs[-1][-1]] == kind[segment] and \
                segment not in opening:
            runs[-1].append(segment)
        else:
            runs.append([segment])
    lengths: dict[str, list[int]] = {}
    for run in runs:
        lengths.setdefault(kind[run[0]], []).append(len(run))
    transition = {k for k, sizes in lengths.items() if all(n == 1 for n in sizes)}
    merged: list[list[tuple[int, int]]] = []
    for run in runs:
        previous = merged[-1] if merged else None
        if previous is not None and len(previous) == 1 and kind[previous[0]] in transition and \
                previous[0][1] + 1 == run[0][0] and kind[run[0]] not in transition:
            previous.extend(run)
        else:
            merged.append(list(run))
    return merged


def _segments(ir: ModelIR, steps: list[Step]) -> list[tuple[int, int]]:
    """(start, end) of each span between consecutive points where one value alone is live, spans of more than one
    step (a chain of single steps has a cut after every step)."""
    live = live_after(ir, steps)
    cuts = [-1] + [i for i, step in enumerate(steps)
                   if isinstance(step.target, Name) and live[i] == {step.target.id}]
    spans = [(a + 1, b) for a, b in pairwise(cuts)]
    merged: list[tuple[int, int]] = []
    absorbed = False
    for start, end in spans:  # a block keeps the function steps after its merge (the relu after a residual sum)
        single_function = start == end and not ordered_calls(steps[start].value)
        if merged and single_function and merged[-1][1] == start - 1 and merged[-1][1] > merged[-1][0] and \
                not absorbed:
            merged[-1] = (merged[-1][0], end)
            absorbed = True
        else:
            merged.append((start, end))
            absorbed = False
    return [(start, end) for start, end in merged if end - start >= 2 and _branches(steps, start, end)]


def _branches(steps: list[Step], start: int, end: int) -> bool:
    """The span's input is read by more than one step (it forks), so the span is not a plain chain."""
    first = free_names(steps[start].value)
    return bool(first) and sum(first[0] in free_names(steps[i].value) for i in range(start, end + 1)) > 1


def _module_calls(steps: list[Step], start: int, end: int) -> list[str]:
    return list(dict.fromkeys(attr for i in range(start, end + 1) for attr in ordered_calls(steps[i].value)))


def _block_key(steps: list[Step], start: int, end: int, modules: Mapping[str, Any]) -> str | None:
    """The structure of a span (``_body_key``); None when a module it calls is called outside it or is a
    submodule."""
    calls = _module_calls(steps, start, end)
    if any(c not in modules for c in calls):
        return None
    outside = {a for i, step in enumerate(steps) if not start <= i <= end for a in ordered_calls(step.value)}
    if outside & set(calls):
        return None
    return _body_key(steps[start:end + 1], modules)


def _body_key(body: list[Step], modules: Mapping[str, Any]) -> str | None:
    """Steps with locals and module attributes renamed by order of appearance, and the kind, argument count and
    keyword names of each module; None when they call fewer than two modules."""
    calls = list(dict.fromkeys(attr for step in body for attr in ordered_calls(step.value)))
    if len(calls) < 2:
        return None
    order: dict[str, str] = {}
    renamed = {attr: f"m{k}" for k, attr in enumerate(calls)}

    class Canon(ast.NodeTransformer):
        def visit_Name(self, node: ast.Name) -> ast.Name:
            if node.id in ("self", "torch", "nn", "F"):
                return node
            return ast.Name(order.setdefault(node.id, f"v{len(order)}"), node.ctx)

        def visit_Attribute(self, node: ast.Attribute) -> ast.Attribute:
            self.generic_visit(node)
            if isinstance(node.value, ast.Name) and node.value.id == "self" and node.attr in renamed:
                return ast.Attribute(node.value, renamed[node.attr], node.ctx)
            return node

    text = ast.dump(ast.Module([Canon().visit(statement(step)) for step in body], []))
    kinds = [(modules[c].constructor.path, len(modules[c].args),
              tuple(sorted({k for k, _ in modules[c].kwargs} | set(_defaults(modules[c])))))
             for c in calls]
    return text + repr(kinds)


_KEYWORD_DEFAULTS: dict[str, dict[str, Any]] = {
    **{f"Conv{n}d": {"stride": 1, "padding": 0, "dilation": 1, "groups": 1, "bias": True} for n in (1, 2, 3)},
    **{f"ConvTranspose{n}d": {"stride": 1, "padding": 0, "output_padding": 0, "dilation": 1, "groups": 1,
                               "bias": True} for n in (1, 2, 3)},
    "Linear": {"bias": True},
}
"""PyTorch's defaults of keywords the converter leaves out when they hold them: a block whose first instance
has ``stride=2`` and another the default (ResNet's first stage) is the same class with a ``stride`` parameter."""


def _defaults(spec: Any) -> dict[str, Const]:
    if spec.constructor.path[:1] != ("nn",):
        return {}
    return {k: Const(v) for k, v in _KEYWORD_DEFAULTS.get(spec.constructor.path[-1], {}).items()}


def _keywords(spec: Any, names: list[str]) -> dict[str, Any]:
    """``spec``'s keyword values over ``names``, PyTorch's default where it leaves one out."""
    given, defaults = dict(spec.kwargs), _defaults(spec)
    return {k: given[k] if k in given else defaults[k] for k in names if k in given or k in defaults}


def _block_class(steps: list[Step], members: list[tuple[int, int]], modules: Mapping[str, Any],
                 class_names: NameTable, cuts: Mapping[tuple[int, int], _Shortcut]
                 ) -> tuple[BlockClass, dict[tuple[int, int], _Member]]:
    """One class for structurally equal spans; the arguments that differ between them are its parameters. The
    spans in ``cuts`` also hold a shortcut chain the others lack: it becomes ``self.downsample``, built when the
    ``downsample`` flag is set (``nn.Identity()`` otherwise). When the chain's arguments are not the class's
    parameters or constants, those spans become a class of their own."""
    if cuts and (split := _shortcut_arguments(steps, members, modules, cuts)) is None:
        plain = [m for m in members if m not in cuts]
        block, placed = _block_class(steps, plain, modules, class_names, {}) if len(plain) >= 2 else (None, {})
        with_cut = [m for m in members if m in cuts]
        if len(with_cut) >= 2:
            placed.update(_block_class(steps, with_cut, modules, class_names, {})[1])
        assert placed, "a merge is tried only with plain blocks present"
        return next(iter(placed.values())).block, placed
    calls = [_main_calls(steps, m, cuts.get(m)) for m in members]
    inner = _inner_names([modules[attr] for attr in calls[0]])
    slots, keyword_names = _slots([[modules[a] for a in member_calls] for member_calls in calls])
    slot_parameter = _parameters(slots, [modules[a] for a in calls[0]])
    block_modules = []
    for position, attr in enumerate(calls[0]):
        spec = modules[attr]
        args = tuple(Name(slot_parameter[(position, str(i))]) if (position, str(i)) in slot_parameter else v
                     for i, v in enumerate(spec.args))
        kwargs = tuple((k, Name(slot_parameter[(position, k)]) if (position, k) in slot_parameter else v)
                       for k, v in _keywords(spec, keyword_names[position]).items()
                       if (position, k) in slot_parameter or v != _defaults(spec).get(k))
        block_modules.append((inner[position], spec.constructor, args, kwargs))
    reference = next(index for index, member in enumerate(members) if member not in cuts)
    start, end = members[reference]
    mapping = {attr: (name,) for attr, name in zip(calls[reference], inner, strict=True)}
    body = [replace(steps[i], value=through_paths(steps[i].value, mapping), nested_call=None)
            for i in range(start, end + 1)]
    inputs, outputs = run_interface(steps, list(range(start, end + 1)), [])
    source = inputs[0] if inputs else "x"
    name = _block_name(block_modules, tuple(body), calls)
    parameters = list(dict.fromkeys(slot_parameter.values()))
    defaults = _parameter_defaults(slot_parameter, [modules[a] for a in calls[0]])
    values = [{parameter: slots[slot][k] for slot, parameter in slot_parameter.items()} for k in range(len(members))]
    optional: tuple[Any, ...] = ()
    chain_paths: dict[tuple[int, int], list[tuple[str, tuple[str | int, ...]]]] = {}
    if cuts:
        attr, flag = free_attribute("downsample", set(inner)), free_attribute("downsample", set(parameters))
        parts, chain_calls = split(slot_parameter, slots)
        optional = ((attr, flag, parts),)
        parameters.append(flag)
        defaults[flag] = Const(False)
        for k, member in enumerate(members):
            values[k][flag] = Const(member in cuts)
            if member in cuts:
                chain = chain_calls[member]
                chain_paths[member] = [(flat, (attr,) if len(chain) == 1 else (attr, j)) for j, flat in enumerate(chain)]
        body = _with_optional(body, source, attr)
    parameters.sort(key=lambda p: p in defaults)  # the ones with a default last, as a hand-written signature
    block = BlockClass(class_names.allocate_class(name), tuple(parameters), tuple(block_modules), tuple(body),
                       source, outputs[-1] if outputs else body[-1].bound[0], tuple(defaults.items()), optional)
    placed = {}
    for k, member in enumerate(members):
        arguments = tuple((p, values[k][p]) for p in parameters if not (p in defaults and values[k][p] == defaults[p]))
        paths = [(flat, (name_,)) for flat, name_ in zip(calls[k], inner, strict=True)] + chain_paths.get(member, [])
        placed[member] = _Member(block, arguments, tuple(paths), member in cuts)
    return block, placed


def _main_calls(steps: list[Step], member: tuple[int, int], cut: _Shortcut | None) -> list[str]:
    """The modules a span calls, in order, its shortcut chain's left out."""
    calls = _module_calls(steps, *member)
    if cut is None:
        return calls
    chain = {attr for i in cut.steps for attr in ordered_calls(steps[i].value)}
    return [c for c in calls if c not in chain]


def _inner_names(specs: list[Any]) -> list[str]:
    """The block's attribute names by module kind, numbered (``conv1``, ``bn1``, ``conv2`` ...)."""
    counts: dict[str, int] = {}
    inner: list[str] = []
    for spec in specs:
        kind = spec.constructor.path[-1]
        short = _SHORT_NAMES.get(kind, snake_identifier(kind, "layer"))
        counts[short] = counts.get(short, 0) + 1
        inner.append(f"{short}{counts[short]}")
    return inner


def _slots(specs_per_member: list[list[Any]]) -> tuple[dict[tuple[int, str], list[Any]], list[list[str]]]:
    """Each constructor argument's value per instance, by (module position, argument index or keyword), and per
    position the keywords any instance gives, in first-given order."""
    slots: dict[tuple[int, str], list[Any]] = {}
    keyword_names: list[list[str]] = []
    for position in range(len(specs_per_member[0])):
        given = list(dict.fromkeys(k for specs in specs_per_member for k, _ in specs[position].kwargs))
        keyword_names.append(given)
        for specs in specs_per_member:
            spec = specs[position]
            for index, value in enumerate(spec.args):
                slots.setdefault((position, str(index)), []).append(value)
            for key, value in _keywords(spec, given).items():
                slots.setdefault((position, key), []).append(value)
    return slots, keyword_names


def _parameters(slots: Mapping[tuple[int, str], list[Any]], specs: list[Any]) -> dict[tuple[int, str], str]:
    """The parameter each differing argument becomes, one per distinct vector of values, named after the
    argument (``in_channels``; ``width`` for an inner size a later module reads)."""
    parameters: dict[tuple[Any, ...], str] = {}
    slot_parameter: dict[tuple[int, str], str] = {}
    read_as_input = {tuple(values) for (position, slot), values in slots.items() if position > 0 and slot == "0"
                     and specs[position].constructor.path[-1].startswith(("Conv", "Linear"))}
    for (position, slot), values in slots.items():
        if len(set(values)) == 1:
            continue
        vector = tuple(values)
        if vector not in parameters:
            names = _ARGUMENT_NAMES.get(specs[position].constructor.path[-1], ())
            base = names[int(slot)] if slot.isdigit() and int(slot) < len(names) else \
                slot if not slot.isdigit() else f"arg{slot}"
            if base.startswith("out_") and vector in read_as_input:
                base = "width"  # an inner width: a later module's input size
            name, count = base, 2
            while name in parameters.values():
                name, count = f"{base}_{count}", count + 1
            parameters[vector] = name
        slot_parameter[(position, slot)] = parameters[vector]
    return slot_parameter


def _parameter_defaults(slot_parameter: Mapping[tuple[int, str], str], specs: list[Any]) -> dict[str, Const]:
    """A parameter that only sets keywords PyTorch defaults alike (``stride``) takes that default."""
    found: dict[str, set[Any]] = {}
    for (position, slot), parameter in slot_parameter.items():
        found.setdefault(parameter, set()).add(None if slot.isdigit() else _defaults(specs[position]).get(slot))
    return {p: next(iter(d)) for p, d in found.items() if len(d) == 1 and None not in d}


def _shortcut_arguments(steps: list[Step], members: list[tuple[int, int]], modules: Mapping[str, Any],
                        cuts: Mapping[tuple[int, int], _Shortcut]) -> Any:
    """A function of the class's parameters giving the shortcut chain's modules, each argument a constant or a
    parameter holding the same values in every span that has the chain; None when an argument is neither."""
    with_cut = [k for k, m in enumerate(members) if m in cuts]
    chain_calls = {members[k]: [ordered_calls(steps[i].value)[0] for i in cuts[members[k]].steps] for k in with_cut}
    if len({len(c) for c in chain_calls.values()}) != 1:
        return None
    specs = [[modules[a] for a in chain_calls[members[k]]] for k in with_cut]
    chain_slots, keyword_names = _slots(specs)
    if any(len({(s.constructor, len(s.args)) for s in column}) != 1 for column in zip(*specs, strict=True)):
        return None

    def build(slot_parameter: Mapping[tuple[int, str], str], slots: Mapping[tuple[int, str], list[Any]]) -> Any:
        def expressed(values: list[Any]) -> Expr | None:
            """The first parameter holding these values (the block's input width is ``in_channels`` even where
            every projecting instance has the same), else the constant."""
            parameter = next((Name(parameter) for slot, parameter in slot_parameter.items()
                              if [slots[slot][k] for k in with_cut] == values), None)
            return parameter if parameter is not None else values[0] if len(set(values)) == 1 else None

        parts = []
        for position, spec in enumerate(specs[0]):
            args = tuple(expressed(chain_slots[(position, str(i))]) for i in range(len(spec.args)))
            kwargs = tuple((k, expressed(chain_slots[(position, k)]))
                           for k in _keywords(spec, keyword_names[position]) if (position, k) in chain_slots)
            if any(a is None for a in args) or any(v is None for _, v in kwargs):
                return None
            kwargs = tuple((k, v) for k, v in kwargs if not (isinstance(v, Const) and v == _defaults(spec).get(k)))
            parts.append((spec.constructor, args, kwargs))
        return tuple(parts), chain_calls

    # the chain's arguments are checked against the plain blocks' parameters before anything is built
    calls = [_main_calls(steps, m, cuts.get(m)) for m in members]
    slots, _ = _slots([[modules[a] for a in member_calls] for member_calls in calls])
    if build(_parameters(slots, [modules[a] for a in calls[0]]), slots) is None:
        return None
    return build


def _with_optional(body: list[Step], source: str, attr: str) -> list[Step]:
    """The plain block's steps with ``self.<attr>`` applied to its input just before the sum that adds it."""
    merge = max(i for i, step in enumerate(body) if _is_sum(step.value))
    taken = {n for step in body for n in step.bound} | {source}
    shortcut = free_attribute("shortcut", taken)
    step = Step(Name(shortcut), Call(Attr(SELF, attr), (Name(source),)), body[merge].keras_layer)
    return [*body[:merge], step, replace(body[merge], value=_renamed(body[merge].value, source, shortcut)),
            *body[merge + 1:]]


def _block_name(block_modules: list[Any], body: tuple[Step, ...], member_attrs: list[list[str]]) -> str:
    """After the structure where a known one fits (torchvision's names): a depthwise residual with a
    squeeze-excitation is an ``MBConv``, without one an ``InvertedResidual``; a residual of three convolutions,
    1×1 first and last, a ``Bottleneck`` (``Projection…`` when its shortcut is a convolution too); a span that
    concatenates its input with what it computes a ``DenseLayer``; one that scales its input by a gate computed from
    its mean a ``SqueezeExcite``. Otherwise the Keras names' common prefix
    (``block35_…`` → ``Block35``), else ``ResidualBlock`` or ``Block``."""
    text = "\n".join(ast.unparse(ast.fix_missing_locations(ast.Module([statement(step)], []))) for step in body)
    residual = any(isinstance(step.value, BinOp) and step.value.op == "+" for step in body)
    convs = [dict(kwargs) for _, ctor, _, kwargs in block_modules if ctor.path[-1].startswith("Conv")]
    depthwise = any("groups" in kwargs for kwargs in convs)
    excitation = ".mean(" in text and any(isinstance(step.value, BinOp) and step.value.op == "*" for step in body)
    first = free_names(body[0].value)
    projection = bool(first) and sum(first[0] in free_names(step.value) and bool(ordered_calls(step.value))
                                     for step in body) == 2
    main = convs[:-1] if projection else convs  # the shortcut convolution is created first-called last
    if residual and depthwise:
        return "MBConv" if excitation else "InvertedResidual"
    if residual and len(main) == 3 and main[0].get("kernel_size") == Const(1) and \
            main[-1].get("kernel_size") == Const(1) and not excitation:
        return ("Projection" if projection else "") + "Bottleneck"
    last = body[-1].value
    if excitation and not residual and first and isinstance(last, BinOp) and last.op == "*" and \
            Name(first[0]) in (last.left, last.right):
        return "SqueezeExcite"
    if "torch.cat(" in text and first and f"[{first[0]}," in text.replace(" ", ""):
        return "DenseLayer"
    prefix = _common_prefix([a for attrs in member_attrs for a in attrs])
    if len(prefix) >= 3:
        return prefix
    return "ResidualBlock" if residual else "Block"


def _common_prefix(names: list[str]) -> str:
    """The Keras naming pattern the instances share, up to a whole word (``block35_1_conv``, ``block35_2_…`` →
    ``block35``)."""
    if not names:
        return ""
    shortest, longest = min(names), max(names)
    size = 0
    while size < len(shortest) and shortest[size] == longest[size]:
        size += 1
    words = shortest[:size].split("_")
    whole = words if size < len(shortest) and shortest[size] == "_" else words[:-1]
    return "_".join(w for w in whole if w)


def _stage(attr: str, run: list[tuple[int, int]], kind_of: Mapping[tuple[int, int], _Member]) -> Stage:
    """Blocks in an ``nn.Sequential`` (paths ``stage1.0.conv1``), or one block alone (``block2a_se.conv1``)."""
    blocks, paths = [], []
    for index, member in enumerate(run):
        placed = kind_of[member]
        blocks.append((placed.block.class_name, placed.arguments))
        paths += [(flat, (index, *path) if len(run) > 1 else path) for flat, path in placed.paths]
    return Stage(attr, run[0][0], run[-1][1], tuple(blocks), tuple(paths), single=len(run) == 1)
