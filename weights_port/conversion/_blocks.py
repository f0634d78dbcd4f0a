"""Repeated blocks found in a converted model: one ``nn.Module`` class per block kind, in ``nn.Sequential`` stages.

A block is a span of ``forward`` between two points where one tensor alone flows on that
holds a branch (a residual block). Spans of one structure are one class whose differing
constructor arguments are keyword parameters; a block that also holds a part the others
lack (ResNet's projection shortcut) gets it as an optional submodule.
"""

from __future__ import annotations

import ast
import re
from bisect import bisect_left, bisect_right
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from itertools import pairwise
from typing import Any, TypeGuard

import numpy as np

from ._cells import Cell, cells_in_order
from ._ir import (
    SELF,
    Attr,
    BinOp,
    BlockClass,
    BoolOp,
    Call,
    Compare,
    Const,
    Expr,
    Global,
    IfExp,
    Index,
    ModelIR,
    ModuleSpec,
    Name,
    Seq,
    Slice,
    Stage,
    Step,
    Submodule,
    evaluate,
    free_names,
    renamed,
    rewrite,
)
from ._names import NameTable, common_prefix, common_suffix, snake_identifier
from ._render import (
    discard_unused,
    ordered_calls,
    run_interface,
    statement,
    submodule_runs,
    submodule_steps,
    through_paths,
)
from ._settings import named_by_keras
from ._structure import free_attribute, live_after, rename_state
from ._vocabulary import ELEMENTWISE_ACTIVATIONS, FUNCTIONAL_MODULES, SHORT_NAMES

__all__ = ["extract_stages", "merge_alike_submodules"]

_WEIGHTED = ("Conv", "Linear", "SeparableConv")
"""Module kinds that map one width to another (their first argument is an input width)."""
_ARGUMENT_NAMES = {"Conv1d": ("in_channels", "out_channels"), "Conv2d": ("in_channels", "out_channels"),
                   "Conv3d": ("in_channels", "out_channels"), "Linear": ("in_features", "out_features"),
                   "BatchNorm1d": ("num_features",), "BatchNorm2d": ("num_features",),
                   "BatchNorm3d": ("num_features",), "GroupNorm": ("num_groups", "num_channels"),
                   **{f"SeparableConv{n}d": ("in_channels", "out_channels") for n in (1, 2)}}


def extract_stages(ir: ModelIR, state: dict[str, np.ndarray], manifest: dict[str, Any]) -> ModelIR:
    """Repeated blocks as classes: the spans of ``forward`` between two points where one tensor alone flows on
    that hold a branch (a residual block), grouped by structure (the same steps and module kinds; constructor
    arguments may differ and become keyword parameters); adjacent blocks form ``nn.Sequential`` stages, a new
    stage starting at each block of the kind that opens the run (ResNet's projection block)."""
    if len(ir.inputs) != 1 or ir.stages:
        return ir
    steps = submodule_steps(ir)
    modules = {m.attr: m for m in ir.modules}
    ordered = cells_in_order(ir, steps) if not ir.submodules else None
    keys = Counter(key for cell in ordered[1] if (key := _block_key(ordered[0], cell.start, cell.end, modules))) \
        if ordered else Counter()
    if ordered is not None and max(keys.values(), default=0) >= 2:
        steps = ordered[0]  # each NASNet cell's steps together (Keras interleaves them); classes of them below
    else:
        ordered = None
    keyed = {(start, end): key for start, end in _with_trailing_norms(ir, steps, _segments(ir, steps), modules)
             if (key := _block_key(steps, start, end, modules)) is not None}
    keyed = _with_trailing_chains(ir, steps, _paired(steps, keyed, modules), modules)
    kinds: dict[str, list[tuple[int, int]]] = {}
    for segment, key in keyed.items():
        kinds.setdefault(key, []).append(segment)
    shortcuts = _optional_shortcuts(steps, keyed, modules)
    for segment, (_cut, reduced) in shortcuts.items():  # ResNet's projection block joins the plain Bottleneck
        kinds[keyed[segment]].remove(segment)
        kinds[reduced].append(segment)
    leadless = _leadless_members(steps, kinds, modules)
    taken = {m.attr for m in ir.modules} | {s.attr for s in ir.submodules}
    class_names = NameTable()
    class_names.reserve(*(h.name for h in ir.helpers), *(s.class_name for s in ir.submodules),
                        *(b.class_name for b in ir.blocks))
    kind_of: dict[tuple[int, int], _Member] = {}
    blocks: list[BlockClass] = []
    unsummed = _unsummed_blocks(ir, steps, kinds, shortcuts, modules)
    absorbed = [window for found in unsummed.values() for window, _ in found]
    for key, members in kinds.items():  # what a block without its sum holds (its squeeze-excitation) goes with it
        if key not in unsummed:
            members[:] = [m for m in members if not any(a[0] <= m[1] and m[0] <= a[1] for a in absorbed)]
    for key, members in kinds.items():
        if len(members) + len(unsummed.get(key, ())) < 2:
            continue
        members.sort()
        built = _optional_block_class(steps, members, unsummed[key], modules, class_names) if key in unsummed \
            else None
        if built is None and len(members) < 2:
            continue
        if built is None:
            cuts = {m: shortcuts[m][0] for m in members if m in shortcuts}
            built = _block_class(steps, members, modules, class_names, cuts, leadless)
        excitation, outer, placed = _nested_excitation(*built, class_names)
        blocks += [b for b in (excitation, outer) if b is not None]
        kind_of.update(placed)
    lone = _lone_excitations(steps, kinds, kind_of, blocks, modules)
    kind_of.update(lone)
    chains: dict[str, list[tuple[int, int]]] = {}
    steps, found = _named_chains(ir, steps, list(kind_of), modules)
    for span, key in found.items():
        chains.setdefault(key, []).append(span)
    repeated = _repeated_units(ir, steps, [*kind_of, *found], modules)
    recurring = _recurring_units(ir, steps, [*kind_of, *found, *repeated], modules)
    for span, key in {**repeated, **recurring}.items():
        chains.setdefault(key, []).append(span)
    for members in chains.values():
        block, placed = _block_class(steps, members, modules, class_names, {})
        blocks.append(block)
        kind_of.update(placed)
    if not kind_of and ordered is None:
        return ir
    blocks = _with_branches_in_order(_with_derived_values(blocks, kind_of), kind_of)
    blocks, cells = _cell_classes(ir, steps, ordered, blocks, kind_of, modules, class_names) if ordered \
        else (blocks, {})
    if not kind_of:
        return ir
    attributes_table = NameTable()
    attributes_table.reserve(*taken)
    stages: list[Stage] = []
    runs = _stage_runs(sorted(kind_of), {segment: kind_of[segment].block.class_name for segment in kind_of},
                       {segment for segment in kind_of if kind_of[segment].opens},
                       _linked(ir, steps, sorted(kind_of)), frozenset(lone))
    one_stage = sum(len(run) > 1 for run in runs) == 1  # a transformer's layers: ``self.blocks``, as timm's
    numbered: Counter[str] = Counter()
    for run in runs:
        if run[0] in cells:  # a cell: ``cell_0``, ``cell_reduce_4`` after the suffix NASNet's layer names share
            kind = snake_identifier(re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", kind_of[run[0]].block.class_name))
            numbered[kind] += 1
            hint = f"cell_{suffix}" if (suffix := _cell_suffix(steps, run[0])) else f"{kind}{numbered[kind]}"
        elif len(run) == 1:  # one block is an attribute named after its Keras layers (block2a_se), not a stage
            prefix = _span_name(steps, run[0])
            hint = prefix if len(prefix) >= 3 else kind_of[run[0]].block.class_name
            if _counted_only(steps, run[0]):  # Keras's counters name no part: conv_block1, conv_block2
                kind = snake_identifier(re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", kind_of[run[0]].block.class_name))
                numbered[kind] += 1
                hint = f"{kind}{numbered[kind]}"
        else:
            hint = "blocks" if one_stage else f"stage{sum(not stage.single for stage in stages) + 1}"
        stage = _stage(attributes_table.allocate(hint, "block"), run, kind_of)
        stages.append(replace(stage, inputs=cells[run[0]]) if run[0] in cells else stage)
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
    gathered = steps != submodule_steps(ir)  # chains moved together (only where no submodule is)
    return replace(ir, blocks=[*ir.blocks, *(_documented(block, steps, kind_of) for block in blocks)], stages=stages,
                   steps=steps if gathered else ir.steps)


def merge_alike_submodules(ir: ModelIR, state: dict[str, np.ndarray], manifest: dict[str, Any]) -> ModelIR:
    """``ir`` with nested Keras models of one structure, each called once on one tensor (ConvNeXt's downsampling
    blocks, one Keras model per stage), as one class whose differing constructor arguments are keyword
    parameters, as a repeated block's are; its modules named by what the models' own names for them share
    (``layernorm_0``, ``layernorm_1`` → ``layernorm``). State keys and the manifest follow the new names."""
    steps = discard_unused(ir)
    modules = {m.attr: m for m in ir.modules}
    outputs = [p.value.name for p in ir.outputs]
    groups: dict[str, list[tuple[Submodule, tuple[int, int]]]] = {}
    for sub in ir.submodules:
        runs = submodule_runs(steps, sub.keras_model)
        if len(runs) != 1:  # a twin called twice is one instance already
            continue
        inputs, results = run_interface(steps, runs[0], outputs)
        key = _block_key(steps, runs[0][0], runs[0][-1], modules) if len(inputs) == len(results) == 1 else None
        if key is not None:
            groups.setdefault(key, []).append((sub, (runs[0][0], runs[0][-1])))
    merged = {sub.attr for group in groups.values() if len(group) >= 2 for sub, _ in group}
    if not merged:
        return ir
    class_names = NameTable()
    class_names.reserve(*(h.name for h in ir.helpers), *(b.class_name for b in ir.blocks),
                        *(s.class_name for s in ir.submodules if s.attr not in merged))
    replaced: dict[str, Submodule] = {}
    blocks: list[BlockClass] = []
    paths: dict[str, str] = {}
    attributes = manifest["names"]["attributes"]
    for group in (g for g in groups.values() if len(g) >= 2):
        block, placed = _block_class(steps, [span for _, span in group], modules, NameTable(), {})
        stems = {re.sub(r"_?\d+$", "", sub.class_name) for sub, _ in group}  # DownsamplingBlock0 … 2
        stem = stems.pop() if len(stems) == 1 else ""
        block = replace(block, class_name=class_names.allocate_class(stem or block.class_name))
        flat_of = [{path: flat for flat, path in placed[span].paths} for _, span in group]
        inner = {attr: _shared_inner_name([dict(sub.attrs)[flats[(attr,)]] for (sub, _), flats in
                                           zip(group, flat_of, strict=True)]) for attr, *_ in block.modules}
        if len({n for n in inner.values() if n}) == len(inner) and not set(inner.values()) & set(block.parameters):
            block = _with_module_names(block, inner)
        else:
            inner = {attr: attr for attr, *_ in block.modules}
        names = [sub.keras_model for sub, _ in group]
        shared = common_prefix(names)  # ``block_0 to _2`` for ``block_0 to block_2``
        last = names[-1][len(shared):] if shared and names[-1].startswith(shared + "_") else names[-1]
        where = f"{names[0]} to {last}"
        blocks.append(replace(block, doc=f"{block.class_name}: the nested Keras models {where} ({len(names)} "
                                         "instances)."))
        manifest["names"]["class"][block.class_name] = where
        for sub, span in group:
            old = dict(sub.attrs)
            new = tuple((flat, inner[str(path[0])]) for flat, path in placed[span].paths)
            for flat, name in new:
                paths[f"{sub.attr}.{old[flat]}"] = f"{sub.attr}.{name}"
                attributes[name] = attributes.get(old[flat], name)
            manifest["names"]["class"].pop(sub.class_name, None)
            replaced[sub.attr] = replace(sub, class_name=block.class_name, attrs=new,
                                         arguments=placed[span].arguments)
    rename_state(state, manifest, paths)
    return replace(ir, submodules=[replaced.get(s.attr, s) for s in ir.submodules], blocks=[*ir.blocks, *blocks])


def _cell_classes(ir: ModelIR, steps: list[Step], ordered: tuple[list[Step], list[Cell]], blocks: list[BlockClass],
                  kind_of: dict[tuple[int, int], _Member], modules: Mapping[str, Any], class_names: NameTable
                  ) -> tuple[list[BlockClass], dict[tuple[int, int], tuple[str, str]]]:
    """NASNet's cells (``_cells``) of one structure, two or more, as one class whose ``forward(x, p)`` takes the
    last cell's output and the one before; the blocks a cell holds (its separable units) are its submodules, named
    as Keras names them in every cell (``left1``, ``right1``), their differing arguments its parameters. ``kind_of``
    gets each cell in place of the blocks it holds. Returns the classes added and each cell's inputs. ``ordered`` is
    the steps as the cells were found in, ``steps`` as they are now (chains gathered inside the cells)."""
    now = {id(step): index for index, step in enumerate(steps)}
    spans = []
    for cell in ordered[1]:
        indices = sorted(now[id(step)] for step in ordered[0][cell.start:cell.end + 1])
        if indices[-1] - indices[0] != cell.end - cell.start:
            return blocks, {}  # a cell's steps no longer together
        spans.append((indices[0], indices[-1]))
    crossed = {(s, e) for s, e in spans for m in kind_of if s <= m[1] and m[0] <= e and not s <= m[0] <= m[1] <= e}
    inside = {member: span for member in kind_of for span in spans
              if span not in crossed and span[0] <= member[0] and member[1] <= span[1]}
    collapsed = _collapsed(ir, steps, {member: kind_of[member] for member in inside}, modules)
    if collapsed is None:
        return blocks, {}
    short, position, held = collapsed
    every = {**modules, **{attr: spec for attr, (spec, _) in held.items()}}
    at = {span: (position[span[0]], position[span[1]]) for span in spans}
    inputs = {span: cell.inputs for span, cell in zip(spans, ordered[1], strict=True)}
    kinds: dict[str, list[tuple[int, int]]] = {}
    for span in (span for span in spans if span not in crossed):  # a cell a block crosses the edge of stays inline
        key = _block_key(short, *at[span], every)
        if key is not None:  # and which input it reads first, so that x and p have one role in every instance
            kinds.setdefault(key + repr(inputs[span].index(_first_read(short, at[span], inputs[span]))), []).append(span)
    kind_names = {key: _cell_name(steps, members) for key, members in kinds.items() if len(members) >= 2}
    kind_of_cell = {span: key for key, members in kinds.items() for span in members}
    for key, name in kind_names.items():  # a variant every instance of which follows a cell of another kind
        if list(kind_names.values()).count(name) > 1 and all(  # (NASNet's cell after a reduction): First…
                k == 0 or kind_of_cell.get(spans[k - 1]) != key for k, span in enumerate(spans) if span in kinds[key]):
            kind_names[key] = f"First{name}"
    classes: list[BlockClass] = []
    cells: dict[tuple[int, int], tuple[str, str]] = {}
    for key, name in kind_names.items():
        members = kinds[key]
        block, placed = _block_class(short, [at[m] for m in members], every, NameTable(), {})
        block = _cell_inputs_named(replace(block, input=inputs[members[0]][0], extra_inputs=inputs[members[0]][1:]))
        names = _cell_module_names(block, [placed[at[m]] for m in members], name, steps, held)
        block = _with_module_names(block, names)
        class_name = class_names.allocate_class(name)
        suffixes = [_cell_suffix(steps, m) for m in members]  # NASNet's block ids: cells 1 to 12
        where = f"the Keras model's cells {suffixes[0]} to {suffixes[-1]}" if all(suffixes) else "cells of the model"
        classes.append(block := replace(block, class_name=class_name,
                                        doc=f"{class_name}: {where} ({len(members)} instances)."))
        for member in members:
            paths: list[tuple[str, tuple[str | int, ...]]] = []
            for flat, (inner, *rest) in placed[at[member]].paths:
                attr = names[str(inner)]
                if flat in held:  # a held block's modules: through its attribute in the cell
                    paths += [(f, (attr, *p)) for f, p in kind_of.pop(held[flat][1]).paths]
                else:
                    paths.append((flat, (attr, *rest)))
            kind_of[member] = replace(placed[at[member]], block=block, paths=tuple(paths))
            cells[member] = inputs[member]
    return [*blocks, *classes], cells


def _cell_inputs_named(block: BlockClass) -> BlockClass:
    """The cell's ``forward(x, p)``, as timm's NASNet cells read them, where its body uses neither name."""
    used = {n for step in block.steps for n in (*step.bound, *free_names(step.value))}
    if {"x", "p"} & (used - {block.input, *block.extra_inputs}):
        return block
    rename = {block.input: "x", block.extra_inputs[0]: "p"}
    steps = []
    for step in block.steps:
        value = step.value
        for old, new in rename.items():
            value = renamed(value, old, new)
        target = step.target
        if isinstance(target, Name):
            target = Name(rename.get(target.id, target.id))
        steps.append(replace(step, target=target, value=value))
    return replace(block, steps=tuple(steps), input="x", extra_inputs=("p",),
                   output=rename.get(block.output, block.output))


def _cell_module_names(block: BlockClass, members: list[_Member], word: str, steps: list[Step],
                       held: Mapping[str, tuple[ModuleSpec, tuple[int, int]]]) -> dict[str, str]:
    """The cell's modules named as Keras names them in every cell, the cell's counter, the kind's word and any
    suffix all share left out (``normal_left1_0`` … ``normal_left1_12`` → ``left1``); the class's own names
    where that leaves two alike or none."""
    own = {attr: attr for attr, *_ in block.modules}
    named: dict[str, list[str]] = {}
    for member in members:
        for flat, path in member.paths:
            keras = _span_name(steps, held[flat][1]) if flat in held else flat
            named.setdefault(str(path[0]), []).append(keras)
    stems = {attr: _shared_inner_name(names) for attr, names in named.items()}
    lead = re.sub(r"(?<=[a-z])(?=[A-Z])", "_", word.removesuffix("Cell")).lower().removeprefix("first_") + "_"
    trail = common_suffix(list(stems.values()))  # ``reduce``
    short = {attr: stem.removesuffix(f"_{trail}" if trail else "").removeprefix(lead) for attr, stem in stems.items()}
    if any(not name or not name.isidentifier() or named_by_keras(name) for name in short.values()) or \
            len(set(short.values())) != len(short) or set(short.values()) & set(block.parameters) or \
            set(short) != set(own):
        return own
    return short


def _cell_suffix(steps: list[Step], span: tuple[int, int]) -> str:
    """What NASNet's layer names in a cell all end with (``0``, ``reduce_4``); empty where they share none that
    counts."""
    names = [snake_identifier(steps[i].keras_layer) for i in range(span[0], span[1] + 1)
             if steps[i].keras_layer and not named_by_keras(steps[i].keras_layer)]
    suffix = common_suffix(names)
    return suffix if any(c.isdigit() for c in suffix) else ""


def _first_read(steps: list[Step], span: tuple[int, int], names: tuple[str, str]) -> str:
    """Which of ``names`` the span reads first."""
    return next(n for i in range(span[0], span[1] + 1) for n in free_names(steps[i].value) if n in names)


def _collapsed(ir: ModelIR, steps: list[Step], held: Mapping[tuple[int, int], _Member], modules: Mapping[str, Any]
               ) -> tuple[list[Step], dict[int, int], dict[str, tuple[ModuleSpec, tuple[int, int]]]] | None:
    """``steps`` with each held block's span as one call of a module standing for it (its class, its instance's
    arguments): where each step went, and each stand-in's module and span. None where a span is not one value in,
    one out."""
    out: list[Step] = []
    position: dict[int, int] = {}
    stand_ins: dict[str, tuple[ModuleSpec, tuple[int, int]]] = {}
    starts = {span[0]: span for span in held}
    outputs = [port.value.name for port in ir.outputs]
    index = 0
    while index < len(steps):
        span = starts.get(index)
        if span is None:
            position[index] = len(out)
            out.append(steps[index])
            index += 1
            continue
        inputs, results = run_interface(steps, list(range(span[0], span[1] + 1)), outputs)
        if len(inputs) != 1 or len(results) != 1:
            return None
        attr = free_attribute(f"unit{span[0]}", set(modules) | set(stand_ins))
        member = held[span]
        stand_ins[attr] = (ModuleSpec(attr, Global((member.block.class_name,)), (), member.arguments), span)
        position.update({i: len(out) for i in range(span[0], span[1] + 1)})
        out.append(Step(Name(results[0]), Call(Attr(SELF, attr), (Name(inputs[0]),)), steps[span[0]].keras_layer))
        index = span[1] + 1
    return out, position, stand_ins


def _cell_name(steps: list[Step], spans: list[tuple[int, int]]) -> str:
    """``NormalCell``, ``ReductionCell``: the first word of the Keras name of the layer that ends each cell (its
    concatenation, ``normal_concat_0``), else ``Cell``."""
    words = {snake_identifier(steps[end].keras_layer).split("_")[0] for _, end in spans
             if steps[end].keras_layer and not named_by_keras(steps[end].keras_layer)}
    word = words.pop() if len(words) == 1 else ""
    return f"{word.capitalize()}Cell" if word.isalpha() else "Cell"


def _shared_inner_name(names: list[str]) -> str:
    """The name nested models' modules share but for an instance counter (``conv_0``, ``conv_1`` → ``conv``);
    empty when they differ otherwise."""
    stems = {re.sub(r"_?\d+$", "", name) for name in names}
    return stems.pop() if len(stems) == 1 else ""


def _with_module_names(block: BlockClass, names: Mapping[str, str]) -> BlockClass:
    """``block`` with its modules renamed (``names``: old attribute → new), in its constructor rows and
    ``forward``."""
    paths = {old: (new,) for old, new in names.items()}
    return replace(block, modules=tuple((names[attr], constructor, args, kwargs)
                                        for attr, constructor, args, kwargs in block.modules),
                   steps=tuple(replace(step, value=through_paths(step.value, paths)) for step in block.steps))


def _named_chains(ir: ModelIR, steps: list[Step], placed: list[tuple[int, int]], modules: Mapping[str, Any]
                  ) -> tuple[list[Step], dict[tuple[int, int], str]]:
    """Chains outside the blocks found (``placed``) that one Keras name prefix covers (``down0_conv1`` to
    ``down0_relu2``: one value flowing through modules the chain alone calls, two convolutions or more), where
    the same structure occurs again under another prefix: blocks too (a U-Net's double convolution, a VGG
    block). Keras's own counters (``conv2d_3``) name no chain, but an activation Keras named may sit inside one
    (NASNet's separable-convolution units: relu, convolution, norm, relu, convolution, norm). A chain whose
    steps Keras's order interleaves with other branches' (NASNet's cells) is gathered first, its steps moved
    after the others' (each reads only its predecessor, so the order computes the same); with nested models
    held as submodules, chains are taken only where they already are contiguous.
    Returns the steps (reordered) and the chains' spans with their structure keys."""
    claimed = {i for start, end in placed for i in range(start, end + 1)}
    readers = _readers(ir, steps)
    chains = [chain for chain in _chain_candidates(steps, claimed, readers, modules)
              if chain == list(range(chain[0], chain[-1] + 1)) or not ir.submodules]
    moved = list(steps)
    for chain in sorted(chains, key=lambda c: c[-1]):  # gathered in place: spans of later chains do not move
        gathered = _gathered([steps[i] for i in chain], moved, claimed)
        if gathered is not None:
            moved = gathered
    position = {id(step): index for index, step in enumerate(moved)}
    found: dict[tuple[int, int], str] = {}
    for chain in chains:
        at = sorted(position[id(steps[i])] for i in chain)
        if at == list(range(at[0], at[-1] + 1)) and (key := _block_key(moved, at[0], at[-1], modules)) is not None:
            found[(at[0], at[-1])] = key
    counts = Counter(found.values())
    return moved, {span: key for span, key in found.items()
                   if counts[key] >= (2 if len(_weighted_calls(moved, span, modules)) >= 2 else _FEWEST_LEAN)}


_NORMS = ("BatchNorm", "GroupNorm", "LayerNorm", "ChannelLayerNorm")
_POOLS = ("AvgPool", "MaxPool")
_FEWEST_LEAN = 3
"""A chain with one weighted module, a norm and a pooling (DenseNet's transition: norm, relu, 1×1 convolution,
pool) is a block where it occurs this often, as torchvision's ``_Transition``. A plain convolution, norm and
activation is not (NASNet's 1×1 units would be 27 instances of a three-line class, each needing a name)."""


def _weighted_calls(steps: list[Step], span: tuple[int, int], modules: Mapping[str, Any]) -> list[str]:
    """The weighted modules (convolutions, linear layers) the steps of ``span`` call."""
    return [a for i in range(span[0], span[1] + 1) for a in ordered_calls(steps[i].value)
            if a in modules and modules[a].constructor.path[-1].startswith(_WEIGHTED)]


_LONGEST_UNIT = 32
"""Steps a repeated unit of a chain may hold (bounds the search over a long Sequential)."""


def _repeated_units(ir: ModelIR, steps: list[Step], placed: list[tuple[int, int]], modules: Mapping[str, Any]
                    ) -> dict[tuple[int, int], str]:
    """Units a chain repeats back to back where no Keras name groups them (a Sequential's convolution, norm,
    relu, convolution, norm, relu, pool, dropout, three times at growing widths): spans each opening with a module,
    calling two weighted modules or more, of one structure and equal arguments but widths, twice or more in a
    row; a unit that is itself a repetition (four equal convolutions) is no unit. The longest cover wins, then the
    shortest unit."""
    segments, shapes = _chain_segments(ir, steps, placed, modules)
    found: dict[tuple[int, int], str] = {}
    for segment in segments:
        at, end = segment[0], segment[-1]
        while at < end:
            best: tuple[int, int] | None = None  # (steps covered, unit length)
            for length in range(2, min(_LONGEST_UNIT, (end - at + 1) // 2) + 1):
                unit = shapes[at:at + length]
                if not ordered_calls(steps[at].value) or _periodic(unit) or \
                        len(_weighted_calls(steps, (at, at + length - 1), modules)) < 2:
                    continue
                count = 1
                while at + (count + 1) * length - 1 <= end and \
                        shapes[at + count * length:at + (count + 1) * length] == unit:
                    count += 1
                if count >= 2 and (best is None or count * length > best[0]):
                    best = (count * length, length)
            if best is None:
                at += 1
                continue
            covered, length = best
            spans = [(start, start + length - 1) for start in range(at, at + covered, length)]
            keys = [_block_key(steps, start, stop, modules) for start, stop in spans]
            if keys[0] is not None and len(set(keys)) == 1:
                found.update(dict.fromkeys(spans, keys[0]))
            at += covered
    return found


_FEWEST_RECURRING = 3
"""How often a unit must recur apart (between branches) to be a block: a U-Net's double convolution recurs seven
times; twice could be chance."""


def _recurring_units(ir: ModelIR, steps: list[Step], placed: list[tuple[int, int]], modules: Mapping[str, Any]
                     ) -> dict[tuple[int, int], str]:
    """Units that recur in separate chains where no Keras name groups them (a U-Net's double convolution between
    its pools, skips and upsamplings, Keras's counters on every layer): spans opening with a weighted module,
    calling two or more, of one structure and equal arguments but widths, at least ``_FEWEST_RECURRING`` times
    without overlapping. The unit covering most steps is taken first, then the next among what is left."""
    segments, shapes = _chain_segments(ir, steps, placed, modules)
    occurrences: dict[tuple[str, ...], list[tuple[int, int]]] = {}
    for segment in segments:
        for index, start in enumerate(segment):
            calls = ordered_calls(steps[start].value)
            if not calls or calls[0] not in modules or not modules[calls[0]].constructor.path[-1].startswith(_WEIGHTED):
                continue
            for length in range(2, min(_LONGEST_UNIT, len(segment) - index) + 1):
                span = (start, start + length - 1)
                if len(_weighted_calls(steps, span, modules)) >= 2:
                    occurrences.setdefault(tuple(shapes[start:start + length]), []).append(span)
    taken: set[int] = set()
    found: dict[tuple[int, int], str] = {}
    while True:
        best: tuple[int, int, list[tuple[int, int]]] | None = None  # (steps covered, unit length, spans)
        for spans in occurrences.values():
            apart: list[tuple[int, int]] = []
            for span in sorted(spans):
                if not any(i in taken for i in range(span[0], span[1] + 1)) and (not apart or span[0] > apart[-1][1]):
                    apart.append(span)
            length = spans[0][1] - spans[0][0] + 1
            if len(apart) >= _FEWEST_RECURRING and (best is None or (len(apart) * length, length) > best[:2]):
                best = (len(apart) * length, length, apart)
        if best is None:
            return found
        keys = [_block_key(steps, start, end, modules) for start, end in best[2]]
        if keys[0] is not None and len(set(keys)) == 1:
            found.update(dict.fromkeys(best[2], keys[0]))
        taken.update(i for start, end in best[2] for i in range(start, end + 1))


def _chain_segments(ir: ModelIR, steps: list[Step], placed: list[tuple[int, int]], modules: Mapping[str, Any]
                    ) -> tuple[list[list[int]], list[str]]:
    """Runs of steps outside ``placed`` each reading the one value the step before binds, which nothing else
    reads; and each step's shape with its modules' arguments but widths (``_fixed_arguments``)."""
    claimed = {i for start, end in placed for i in range(start, end + 1)}
    readers = _readers(ir, steps)
    shapes = [_signature(step, modules) + repr([_fixed_arguments(modules[a]) for a in ordered_calls(step.value)
                                                if a in modules]) for step in steps]

    def follows(i: int) -> bool:
        before = steps[i - 1].target
        return isinstance(before, Name) and readers[i - 1] == [i] and free_names(steps[i].value) == [before.id]

    segments: list[list[int]] = []
    for i in range(len(steps)):
        if i in claimed:
            continue
        if segments and segments[-1][-1] == i - 1 and follows(i):
            segments[-1].append(i)
        else:
            segments.append([i])
    return segments, shapes


def _fixed_arguments(spec: Any) -> tuple[Any, ...]:
    """A module's arguments but its widths (kernel sizes, strides, paddings...): units a chain repeats without a
    Keras name to group them must agree in these, differing in widths alone (a VGG stage's blocks), or they are
    not one block a person would write (Inception's stem: a 3×3 unit, then a 1×1 one)."""
    widths = _ARGUMENT_NAMES.get(spec.constructor.path[-1], ())
    return tuple(value for index, value in enumerate(spec.args) if index >= len(widths)), spec.kwargs


def _periodic(shapes: list[str]) -> bool:
    """Whether a sequence is a shorter one repeated (``conv, relu, conv, relu``)."""
    size = len(shapes)
    return any(size % period == 0 and shapes == shapes[:period] * (size // period) for period in range(1, size // 2 + 1))


def _chain_candidates(steps: list[Step], claimed: set[int], readers: list[list[int]], modules: Mapping[str, Any]
                      ) -> list[list[int]]:
    """Runs of steps each the one reader of the one before (not necessarily adjacent), named as one unit (a Keras
    prefix and a numbered word they share; Keras-named activations calling no module allowed inside), calling two
    weighted modules or more, or one with a norm and a pooling."""
    names = [snake_identifier(step.keras_layer) if step.keras_layer else "" for step in steps]

    def named(i: int) -> bool:
        return bool(names[i]) and not named_by_keras(names[i])

    def passive(i: int) -> bool:  # an activation Keras named, inside a chain
        return bool(names[i]) and named_by_keras(names[i]) and not ordered_calls(steps[i].value)

    def follows(i: int) -> int | None:  # the one step that reads step i's value, reading nothing else
        target = steps[i].target
        if len(readers[i]) != 1 or (j := readers[i][0]) == len(steps) or j in claimed or \
                not isinstance(target, Name) or free_names(steps[j].value) != [target.id]:
            return None
        return j

    taken: set[int] = set()
    chains: list[list[int]] = []
    for start in range(len(steps)):
        if start in claimed or start in taken or not named(start):
            continue
        chain = [start]
        while (j := follows(chain[-1])) is not None and j not in taken and (passive(j) or (
                named(j) and _one_unit([names[i] for i in chain if named(i)] + [names[j]]))):
            chain.append(j)
        while passive(chain[-1]):
            chain.pop()
        before = _producer(steps, chain[0])
        if before is not None and before not in claimed and before not in taken and passive(before) and \
                follows(before) == chain[0]:
            chain.insert(0, before)  # the unit's opening activation (NASNet's relu before each separable unit)
        called = [modules[a].constructor.path[-1] for i in chain for a in ordered_calls(steps[i].value)
                  if a in modules]
        weighted = sum(kind.startswith(_WEIGHTED) for kind in called)
        if weighted >= 2 or (weighted == 1 and any(kind.startswith(_NORMS) for kind in called) and
                             any(kind.startswith(_POOLS) for kind in called)):
            chains.append(chain)
            taken.update(chain)
    return chains


def _one_unit(names: list[str]) -> bool:
    """Whether Keras names could be one unit's: a shared prefix, and a number word (an instance counter, ``_1``)
    all share where they hold one (``conv_dw_1``, ``conv_pw_1_bn`` are one MobileNet unit; ``conv_pad_2`` opens the
    next; ``conv1``, ``bn1`` name roles, not instances)."""
    counters = [counted for name in names if (counted := {word for word in name.split("_") if word.isdigit()})]
    return bool(common_prefix(names)) and (not counters or bool(set.intersection(*counters)))


def _gathered(chain: list[Step], steps: list[Step], claimed: set[int]) -> list[Step] | None:
    """``steps`` with ``chain`` (steps each reading only the one before) moved together to end where its last step
    is, the steps between keeping their order; None where a step between binds a name a moved step reads or binds
    (it would then read another value), or belongs to a block."""
    position = {id(step): index for index, step in enumerate(steps)}
    at = [position[id(step)] for step in chain]
    first, last = at[0], at[-1]
    if at == list(range(first, last + 1)):
        return steps
    members = set(at)
    between = [i for i in range(first, last + 1) if i not in members]
    if any(i in claimed for i in between):
        return None
    for index in at[:-1]:
        touched = set(steps[index].bound) | set(free_names(steps[index].value))
        if any(m > index and (set(steps[m].bound) & touched or set(steps[index].bound) & set(free_names(
                steps[m].value))) for m in between):
            return None
    return steps[:first] + [steps[i] for i in between] + [steps[i] for i in at] + steps[last + 1:]


def _producer(steps: list[Step], index: int) -> int | None:
    """The step whose value step ``index`` reads, when it reads one local."""
    names = free_names(steps[index].value)
    if len(names) != 1:
        return None
    return next((i for i in range(index - 1, -1, -1) if names[0] in steps[i].bound), None)


def _with_branches_in_order(blocks: list[BlockClass], kind_of: dict[tuple[int, int], _Member]) -> list[BlockClass]:
    """``blocks`` with their steps branch by branch (``_branch_ordered``) and their numbered attributes numbered
    in that order again (``conv1``, ``conv2`` … as ``forward`` calls them); the instances' paths (in ``kind_of``)
    follow."""
    result = []
    for block in blocks:
        steps = _branch_ordered(block.steps)
        called = dict.fromkeys(attr for step in steps for attr in ordered_calls(step.value))
        counts: Counter[str] = Counter()
        names: dict[str, str] = {}
        held = {row[0] for row in block.modules}  # an optional part (``downsample``) keeps its name
        for attr in (a for a in called if a in held):
            numbered = re.fullmatch(r"([a-z_]*[a-z_])(\d+)", attr)
            if numbered is not None:
                counts[numbered.group(1)] += 1
                names[attr] = f"{numbered.group(1)}{counts[numbered.group(1)]}"
        names = {old: new for old, new in names.items() if old != new}
        if set(names.values()) & (set(called) - set(names)):
            names = {}  # a new name another attribute keeps: leave the numbers as they are
        ordered = replace(block, steps=tuple(replace(step, value=through_paths(step.value, {
            old: (new,) for old, new in names.items()})) for step in steps),
            modules=tuple((names.get(row[0], row[0]), *row[1:]) for row in block.modules))
        for segment, member in kind_of.items():
            if member.block.class_name == block.class_name:
                kind_of[segment] = replace(member, block=ordered, paths=tuple(
                    (flat, (names.get(str(path[0]), path[0]), *path[1:])) for flat, path in member.paths))
        result.append(ordered)
    return result


def _branch_ordered(steps: tuple[Step, ...]) -> tuple[Step, ...]:
    """A block's steps with each branch written out before the next begins, as torchvision's Inception blocks
    read (``branch1x1 = ...``, then the 5×5 branch): Keras's order interleaves branches. Each step still comes
    after the steps whose values it reads and around the steps that rebind what it reads or binds; among the
    steps ready, the one reading what the last step bound goes first, else the earliest."""
    after: list[set[int]] = [set() for _ in steps]  # after[j]: the steps j must follow
    for j, step in enumerate(steps):
        reads, binds = set(free_names(step.value)), set(step.bound)
        for i in range(j):
            earlier_reads, earlier_binds = set(free_names(steps[i].value)), set(steps[i].bound)
            if earlier_binds & (reads | binds) or earlier_reads & binds:
                after[j].add(i)
    order: list[int] = []
    done: set[int] = set()
    while len(order) < len(steps):
        ready = [j for j in range(len(steps)) if j not in done and after[j] <= done]
        last = set(steps[order[-1]].bound) if order else set()
        chosen = next((j for j in ready if last & set(free_names(steps[j].value))), ready[0])
        order.append(chosen)
        done.add(chosen)
    return tuple(steps[j] for j in order)


def _readers(ir: ModelIR, steps: list[Step]) -> list[list[int]]:
    """For each step, the steps that read the value it binds before the name is bound again (a layer with its
    own activation binds one local twice); a model output counts as a reader, ``len(steps)``."""
    readers: list[list[int]] = [[] for _ in steps]
    binding: dict[str, int] = {}
    for index, step in enumerate(steps):
        for name in set(free_names(step.value)):
            if name in binding:
                readers[binding[name]].append(index)
        for name in step.bound:
            binding[name] = index
    for port in ir.outputs:
        if port.value.name in binding:
            readers[binding[port.value.name]].append(len(steps))
    return readers


def _span_name(steps: list[Step], segment: tuple[int, int]) -> str:
    """What the Keras names call a span: the prefix most of its layers share, Keras's own counters left out; the
    suffix they all share where it numbers the instance and the prefix does not, or is longer (NASNet's
    ``separable_conv_1_normal_left1_0`` … ``separable_conv_2_bn_normal_left1_0`` → ``normal_left1_0``), else the
    prefix with the numbered words all share (MobileNet's ``conv_dw_1`` … ``conv_pw_1_relu`` → ``conv_1``)."""
    layers = [snake_identifier(steps[i].keras_layer) for i in range(segment[0], segment[1] + 1)
              if steps[i].keras_layer]
    named = [name for name in layers if not named_by_keras(name)] or layers
    prefix = _majority_prefix(named)
    suffix = common_suffix(named)
    counted = [any(c.isdigit() for c in part) for part in (prefix, suffix)]  # an instance's name counts it
    if (counted[1], len(suffix)) > (counted[0], len(prefix)):
        return suffix
    shared = [word for word in named[0].split("_") if any(c.isdigit() for c in word) and
              all(word in name.split("_") for name in named)]
    return "_".join([prefix, *shared]) if prefix and shared and not counted[0] else prefix


def _counted_only(steps: list[Step], span: tuple[int, int]) -> bool:
    """Whether Keras named every layer of a span itself (``conv2d_3``, ``re_lu_2``): no name of the user's."""
    return all(named_by_keras(snake_identifier(steps[i].keras_layer)) for i in range(span[0], span[1] + 1)
               if steps[i].keras_layer)


def _documented(block: BlockClass, steps: list[Step], kind_of: Mapping[tuple[int, int], _Member]) -> BlockClass:
    """The class with a docstring that says which Keras blocks its instances are (``conv2_block1`` to
    ``conv5_block3``), when every instance is one of the model's own blocks (not held inside another)."""
    if block.doc:
        return block
    members = sorted(segment for segment, member in kind_of.items() if member.block.class_name == block.class_name)
    nested = any(row[1].path == (block.class_name,) for member in kind_of.values() for row in member.block.modules)
    names = [_span_name(steps, segment) for segment in members]
    if any(_counted_only(steps, member) for member in members):  # its first layers' names, where counters are all
        names = [steps[start].keras_layer for start, _ in members]
    if nested or not members or not all(names):
        return block
    where = names[0] if len(names) == 1 else f"{names[0]} to {names[-1]}"
    count = f"{len(names)} instance" + ("s" if len(names) > 1 else "")
    return replace(block, doc=f"{block.class_name}: the Keras model's {where} ({count}).")


def _with_trailing_norms(ir: ModelIR, steps: list[Step], spans: list[tuple[int, int]], modules: Mapping[str, Any]
                         ) -> list[tuple[int, int]]:
    """Each kind whose every span ends in a sum that a LayerNorm of it alone follows (a post-norm transformer's
    ``LayerNorm(x + attention(x))``) with that normalisation inside. A BatchNorm after a sum is the next block's
    pre-activation (ResNetV2), and a kind only some of whose spans are followed by one keeps its spans. A span of
    two steps (``attention(x, x)``, then the sum) is a block only with its norm."""
    live = live_after(ir, steps)
    claimed = {i for start, end in spans for i in range(start, end + 1)}

    def trailing(segment: tuple[int, int]) -> bool:
        after = segment[1] + 1
        if after >= len(steps) or after in claimed:
            return False
        step, value = steps[after], steps[after].value
        return isinstance(value, Call) and isinstance(value.func, Attr) and value.func.value == SELF and \
            value.func.name in modules and modules[value.func.name].constructor.path == ("nn", "LayerNorm") and \
            _is_sum(steps[segment[1]].value) and \
            value.args == (Name(steps[segment[1]].bound[0]),) and not value.kwargs and \
            isinstance(step.target, Name) and live[after] == {step.target.id}

    kinds: dict[str, list[tuple[int, int]]] = {}
    for segment in spans:
        if (key := _body_key(steps[segment[0]:segment[1] + 1], modules, fewest=1)) is not None:
            kinds.setdefault(key, []).append(segment)
    widened = {segment for members in kinds.values() if all(trailing(segment) for segment in members)
               for segment in members}
    return [(start, end + 1) if (start, end) in widened else (start, end) for start, end in spans
            if (start, end) in widened or end - start >= 2]


def _paired(steps: list[Step], keyed: dict[tuple[int, int], str], modules: Mapping[str, Any]
            ) -> dict[tuple[int, int], str]:
    """Two kinds that only ever occur as a pair, one right after the other (a transformer layer: the attention's
    residual, then the MLP's), as one block of both, as torchvision's ``EncoderBlock`` holds both."""
    ending_before = {segment[1] + 1: segment for segment in keyed}  # the segment that ends just before a step
    starting_at = {segment[0]: segment for segment in keyed}
    followers: dict[str, set[str | None]] = {}
    leaders: dict[str, set[str | None]] = {}
    for segment, key in keyed.items():
        successor, predecessor = starting_at.get(segment[1] + 1), ending_before.get(segment[0])
        followers.setdefault(key, set()).add(keyed[successor] if successor else None)
        leaders.setdefault(key, set()).add(keyed[predecessor] if predecessor else None)
    pairs = {first: second for first, found in followers.items() if len(found) == 1 and
             (second := next(iter(found))) is not None and second != first and leaders[second] == {first} and
             sum(key == first for key in keyed.values()) >= 2}
    if not pairs:
        return keyed
    merged: dict[tuple[int, int], str] = {}
    joined: set[tuple[int, int]] = set()
    for segment, key in sorted(keyed.items()):
        if segment in joined:
            continue
        if key in pairs:
            successor = starting_at[segment[1] + 1]
            both = (segment[0], successor[1])
            if (joint := _block_key(steps, *both, modules)) is not None:
                merged[both] = joint
                joined.add(successor)
                continue
        merged[segment] = key
    return merged


def _with_trailing_chains(ir: ModelIR, steps: list[Step], keyed: dict[tuple[int, int], str],
                          modules: Mapping[str, Any]) -> dict[tuple[int, int], str]:
    """Each kind whose every block is followed by the same chain of steps, up to the next block of its kind and
    as long after the last (ConvMixer's pointwise convolution after each depthwise residual), with that chain
    inside: what repeats is the block and its chain, as timm's ConvMixer layer holds both. A kind some of whose
    blocks come back to back (ResNet's, MobileNetV2's) keeps its spans."""
    live = live_after(ir, steps)
    claimed = {i for start, end in keyed for i in range(start, end + 1)}
    kinds: dict[str, list[tuple[int, int]]] = {}
    for segment, key in keyed.items():
        kinds.setdefault(key, []).append(segment)
    widened: dict[tuple[int, int], tuple[tuple[int, int], str]] = {}
    for members in kinds.values():
        members.sort()
        if len(members) < 2:
            continue
        gaps = [(end + 1, following[0] - 1) for (_, end), following in pairwise(members)]
        length = gaps[0][1] - gaps[0][0]
        if length < 0 or any(last - first != length for first, last in gaps):
            continue
        gaps.append((members[-1][1] + 1, members[-1][1] + 1 + length))
        chains = [range(first, last + 1) for first, last in gaps]
        if gaps[-1][1] >= len(steps) or any(
                i in claimed or live[i] != set(steps[i].bound) or len(steps[i].bound) != 1
                for chain in chains for i in chain):
            continue  # each step of a chain the one value that flows on
        chain_keys = {_body_key([steps[i] for i in chain], modules, fewest=1) for chain in chains}
        if None in chain_keys or len(chain_keys) != 1:
            continue  # each chain calls a module, all alike
        spans = [(start, last) for (start, _), (_, last) in zip(members, gaps, strict=True)]
        keys = [_block_key(steps, *span, modules) for span in spans]
        if len(set(keys)) == 1 and keys[0] is not None:
            widened.update({member: (span, keys[0]) for member, span in zip(members, spans, strict=True)})
    return dict(widened.get(segment, (segment, key)) for segment, key in keyed.items())


@dataclass(frozen=True)
class _Shortcut:
    """A block's shortcut: module calls on its input alone (``steps``, in order), ending at an operand of its last
    sum (step ``merge``)."""

    steps: tuple[int, ...]
    merge: int
    operand: str
    input: str


@dataclass(frozen=True)
class _Window:
    """A span that computes a residual block's steps without its sum (EfficientNet's first block of a stage): for
    each step of the block's body the span's step or None (an optional part it lacks), and the span's steps the body
    lacks before each body step (a zero pad before a strided convolution)."""

    at: tuple[int | None, ...]
    inserted: tuple[tuple[int, ...], ...]
    """Per body position (and one more, after the last): the span's extra steps there."""


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
            without = _without(steps, segment, cut)
            reduced = _body_key(without, modules)
            if (reduced is None or reduced not in plain) and _opening_pad(without, modules) is not None:
                reduced = _body_key(_aliased(without, {0}), modules)  # the pad TensorFlow's 'same' adds where it strides
            if reduced is not None and reduced != key and reduced in plain:
                found[segment] = (cut, reduced)
                break
    return found


def _opening_pad(body: list[Step], modules: Mapping[str, Any]) -> tuple[int, ...] | None:
    """The amounts of the zero pad a block's body opens with, read by the step after it alone; None without one."""
    part = _chain_part(body[0], modules) if len(body) > 1 else None
    if part is None or part[0] != "pad" or not isinstance(body[0].target, Name):
        return None
    readers = [step for step in body[1:] if body[0].target.id in free_names(step.value)]
    return part[1] if readers == [body[1]] else None


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


def _leadless_members(steps: list[Step], kinds: dict[str, list[tuple[int, int]]], modules: Mapping[str, Any]
                      ) -> set[tuple[int, int]]:
    """Spans that compute another kind's blocks without the activation those open with (applied to the block's
    input, which the shortcut reads as it is): moved into that kind (``kinds`` is updated). Xception's first
    entry-flow block follows the stem's relu, so Keras leaves its own out."""
    found: set[tuple[int, int]] = set()
    for key, members in list(kinds.items()):
        stripped = {_stripped_key(steps, member, modules) for member in members}
        target = stripped.pop() if len(stripped) == 1 else None
        if target is not None and target != key and kinds.get(target):
            found.update(kinds[target])
            members += kinds[target]
            kinds[target] = []
    return found


def _stripped_key(steps: list[Step], member: tuple[int, int], modules: Mapping[str, Any]) -> str | None:
    """The key of a span with its opening activation left out (its readers read the span's input instead); None
    when the span does not open with an activation of its input that the input's other reader bypasses."""
    start, end = member
    first = steps[start]
    value = first.value
    if not (isinstance(first.target, Name) and isinstance(value, Call) and isinstance(value.func, Global) and
            value.func.path in _FUNCTION_MODULES and len(value.args) == 1 and not value.kwargs and
            isinstance(value.args[0], Name)):
        return None
    source = value.args[0].id
    if not any(source in free_names(steps[i].value) for i in range(start + 1, end + 1)):
        return None
    body = [replace(steps[i], value=renamed(steps[i].value, first.target.id, source)) for i in range(start + 1, end + 1)]
    return _body_key(body, modules)


def _is_sum(expr: Expr) -> TypeGuard[BinOp]:
    return isinstance(expr, BinOp) and expr.op == "+"


def _without(steps: list[Step], segment: tuple[int, int], cut: _Shortcut) -> list[Step]:
    """The span with its shortcut removed: the sum adds the span's input itself."""
    out = []
    for index in range(segment[0], segment[1] + 1):
        if index in cut.steps:
            continue
        step = steps[index]
        if index == cut.merge:
            step = replace(step, value=renamed(step.value, cut.operand, cut.input))
        out.append(step)
    return out


def _linked(ir: ModelIR, steps: list[Step], segments: list[tuple[int, int]]) -> set[tuple[int, int]]:
    """The blocks that take the block just before them as their one input, its value read by them alone: only
    such blocks chain in an ``nn.Sequential`` (NASNet's adjacent separable units read different values)."""
    readers = _readers(ir, steps)
    linked = set()
    for before, after in pairwise(segments):
        bound = steps[before[1]].bound
        if before[1] + 1 != after[0] or len(bound) != 1:
            continue
        inside = {name for i in range(after[0], after[1] + 1) for name in steps[i].bound}
        read = {name for i in range(after[0], after[1] + 1) for name in free_names(steps[i].value)}
        if read - inside == {bound[0]} and all(after[0] <= r <= after[1] for r in readers[before[1]]):
            linked.add(after)
    return linked


def _stage_runs(segments: list[tuple[int, int]], kind: Mapping[tuple[int, int], str],
                opening: set[tuple[int, int]], linked: set[tuple[int, int]],
                alone: frozenset[tuple[int, int]] = frozenset()) -> list[list[tuple[int, int]]]:
    """Adjacent blocks of one kind, each reading the one before (``linked``), form a stage, a new one at each block
    that holds its optional part (ResNet's projection), unless every such block ends its chain of adjacent blocks
    (ResNetV2 downsamples in a stage's last block): then it closes its stage; a kind that never repeats back to
    back joins the run after it, except the blocks ``alone`` (a squeeze-excitation outside the blocks that hold
    one)."""
    chain_ends = {a for a, b in pairwise([*segments, (-1, -1)]) if b not in linked}
    if opening and opening <= chain_ends:
        opening = set()
    runs: list[list[tuple[int, int]]] = []
    for segment in segments:
        if runs and segment in linked and kind[runs[-1][-1]] == kind[segment] and segment not in opening:
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
                previous[0] not in alone and run[0] in linked and kind[run[0]] not in transition:
            previous.extend(run)
        else:
            merged.append(list(run))
    return merged


def _segments(ir: ModelIR, steps: list[Step]) -> list[tuple[int, int]]:
    """(start, end) of each span between consecutive points where one value alone is live that forks, two steps or
    more (a chain of single steps has a cut after every step; ``_with_trailing_norms`` keeps two-step spans only
    with the norm that follows them)."""
    live = live_after(ir, steps)
    cuts = [-1] + [i for i, step in enumerate(steps)
                   if isinstance(step.target, Name) and live[i] == {step.target.id}]
    spans = [(a + 1, b) for a, b in pairwise(cuts)]
    merged: list[tuple[int, int]] = []
    absorbed = False
    for start, end in spans:  # a block keeps the function steps after its merge (the relu after a residual sum)
        value = steps[start].value  # an activation, not a pooling: the relu after ResNet's sum, not the mean
        single_function = start == end and isinstance(value, Call) and isinstance(value.func, Global) and \
            value.func.path in _FUNCTION_MODULES
        if merged and single_function and merged[-1][1] == start - 1 and merged[-1][1] > merged[-1][0] and \
                not absorbed:
            merged[-1] = (merged[-1][0], end)
            absorbed = True
        else:
            merged.append((start, end))
            absorbed = False
    return [(start, end) for start, end in merged if end - start >= 1 and _branches(steps, start, end)]


def _branches(steps: list[Step], start: int, end: int) -> bool:
    """The span's input is read by more than one step (it forks), so the span is not a plain chain."""
    first = free_names(steps[start].value)
    return bool(first) and sum(first[0] in free_names(steps[i].value) for i in range(start, end + 1)) > 1


def _module_calls(steps: list[Step], start: int, end: int) -> list[str]:
    return list(dict.fromkeys(attr for i in range(start, end + 1) for attr in ordered_calls(steps[i].value)))


def _block_key(steps: list[Step], start: int, end: int, modules: Mapping[str, Any]) -> str | None:
    """The structure of a span (``_body_key``); None when a module it calls is called outside it or is a
    submodule."""
    if any(c not in modules for c in _module_calls(steps, start, end)) or not _owns_its_modules(steps, (start, end)):
        return None
    return _body_key(steps[start:end + 1], modules)


def _body_key(body: list[Step], modules: Mapping[str, Any], fewest: int = 2) -> str | None:
    """Steps with locals and module attributes renamed by order of appearance, and the kind, argument count and
    keyword names of each module; None when they call fewer than ``fewest`` modules."""
    calls = list(dict.fromkeys(attr for step in body for attr in ordered_calls(step.value)))
    if len(calls) < fewest:
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
    return text + repr([_kind(modules[c]) for c in calls])


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
                 class_names: NameTable, cuts: Mapping[tuple[int, int], _Shortcut],
                 leadless: set[tuple[int, int]] | None = None
                 ) -> tuple[BlockClass, dict[tuple[int, int], _Member]]:
    """One class for structurally equal spans; the arguments that differ between them are its parameters. The
    spans in ``cuts`` also hold a shortcut chain the others lack: it becomes ``self.downsample``, built when the
    ``downsample`` flag is set (``nn.Identity()`` otherwise). When the chain's arguments are not the class's
    parameters or constants, those spans become a class of their own. The spans in ``leadless`` lack the
    activation the others open with (Xception's first block follows the stem's relu): it becomes ``self.act``,
    ``nn.ReLU()`` unless ``start_with_relu=False``, as timm's Xception blocks."""
    leadless = {m for m in leadless or set() if m in members}
    if len(leadless) == len(members):
        leadless = set()
    calls = [_main_calls(steps, m, cuts.get(m)) for m in members]
    slots, keyword_names = _slots([[modules[a] for a in member_calls] for member_calls in calls])
    slot_parameter = _parameters(slots, [modules[a] for a in calls[0]])
    shortcut = _shortcut_parts(steps, members, modules, cuts, slots, slot_parameter) if cuts else None
    pads = {m: amounts for m in cuts if m in members
            and (amounts := _opening_pad(_without(steps, m, cuts[m]), modules)) is not None}
    if len(set(pads.values())) > 1:
        shortcut = None  # pads that differ between blocks: no one optional part
    if shortcut is None and cuts:  # each its own class: the plain blocks, and those with the chain
        placed: dict[tuple[int, int], _Member] = {}
        for group in ([m for m in members if m not in cuts], [m for m in members if m in cuts]):
            if len(group) >= 2:
                placed.update(_block_class(steps, group, modules, class_names, {}, leadless)[1])
        assert placed, "a merge is tried only with plain blocks present"
        return next(iter(placed.values())).block, placed
    inner = _inner_names([modules[attr].constructor for attr in calls[0]])
    block_modules = _module_rows([modules[a] for a in calls[0]], inner, slot_parameter, keyword_names)
    reference = next(index for index, member in enumerate(members) if member not in cuts and member not in leadless)
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
    if shortcut is not None:
        attr, flag = free_attribute("downsample", set(inner)), free_attribute("downsample", set(parameters))
        parts, chain_calls = shortcut
        optional = ((attr, flag, parts),)
        parameters.append(flag)
        defaults[flag] = Const(False)
        for k, member in enumerate(members):
            values[k][flag] = Const(member in cuts)
            if member in cuts:
                chain = chain_calls[member]
                chain_paths[member] = [(flat, (attr,) if len(chain) == 1 else (attr, j)) for j, flat in enumerate(chain)]
        body = _with_optional(body, source, attr)
    if pads:  # TensorFlow's 'same' pad before a strided convolution: ``self.pad``, as in an InvertedResidual
        attr = free_attribute("pad", set(inner) | {a for a, _, _ in optional})
        flag = free_attribute("pad", set(parameters))
        amounts = next(iter(pads.values()))  # one for every padded block (checked above)
        optional += ((attr, flag, ((Global(("nn", f"ZeroPad{len(amounts) // 2}d")), (Const(amounts),), ()),)),)
        parameters.append(flag)
        defaults[flag] = Const(False)
        for k, member in enumerate(members):
            values[k][flag] = Const(member in pads)
        padded = free_attribute(f"{source}_padded", {n for step in body for n in step.bound} | {source})
        body = [Step(Name(padded), Call(Attr(SELF, attr), (Name(source),)), body[0].keras_layer),
                replace(body[0], value=renamed(body[0].value, source, padded)), *body[1:]]
    if leadless:
        activation = body[0].value
        assert isinstance(activation, Call) and isinstance(activation.func, Global)
        kind = _FUNCTION_MODULES[activation.func.path]
        attr = free_attribute("act", set(inner) | {a for a, _, _ in optional})
        flag = free_attribute(f"start_with_{kind.lower()}", set(parameters))
        optional += ((attr, flag, ((Global(("nn", kind)), (), ()),)),)
        parameters.append(flag)
        defaults[flag] = Const(len(leadless) * 2 <= len(members))
        for k, member in enumerate(members):
            values[k][flag] = Const(member not in leadless)
        body[0] = replace(body[0], value=Call(Attr(SELF, attr), activation.args))
    block = BlockClass(class_names.allocate_class(name), tuple(parameters), tuple(block_modules), tuple(body),
                       source, outputs[-1] if outputs else body[-1].bound[0], tuple(defaults.items()), optional)
    block, rename = _named_by_role(block, {flag for _, flag, _ in optional})  # and ordered as a signature
    original = {rename.get(p, p): p for p in parameters}
    instances = [{p: values[k][original[p]] for p in block.parameters} for k in range(len(members))]
    block = _derived_flags(block, instances)
    placed = {}
    for k, member in enumerate(members):
        paths = [(flat, (name_,)) for flat, name_ in zip(calls[k], inner, strict=True)] + chain_paths.get(member, [])
        placed[member] = _Member(block, _given(block, instances[k]), tuple(paths), member in cuts)
    return block, placed


def _module_rows(specs: list[Any], inner: list[str], slot_parameter: Mapping[tuple[int, str], str],
                 keyword_names: list[list[str]]) -> list[Any]:
    """(attribute, constructor, args, kwargs) of each module the class always builds, parameters where the
    instances differ, keywords at PyTorch's default left out."""
    rows = []
    for position, spec in enumerate(specs):
        args = tuple(Name(slot_parameter[(position, str(i))]) if (position, str(i)) in slot_parameter else v
                     for i, v in enumerate(spec.args))
        kwargs = tuple((k, Name(slot_parameter[(position, k)]) if (position, k) in slot_parameter else v)
                       for k, v in _keywords(spec, keyword_names[position]).items()
                       if (position, k) in slot_parameter or v != _defaults(spec).get(k))
        rows.append((inner[position], spec.constructor, args, kwargs))
    return rows


def _main_calls(steps: list[Step], member: tuple[int, int], cut: _Shortcut | None) -> list[str]:
    """The modules a span calls, in order, its shortcut chain's left out."""
    calls = _module_calls(steps, *member)
    if cut is None:
        return calls
    chain = {attr for i in cut.steps for attr in ordered_calls(steps[i].value)}
    return [c for c in calls if c not in chain]


def _inner_names(constructors: list[Global]) -> list[str]:
    """The block's attribute names by module kind, numbered where the kind recurs (``conv1``, ``bn1``, ``conv2``),
    the kind's word where it occurs once (``pool``, ``attn``), as the model's own modules are named."""
    shorts = [SHORT_NAMES.get(kind, snake_identifier(kind, "layer")) for kind in (c.path[-1] for c in constructors)]
    total = Counter(shorts)
    counts: Counter[str] = Counter()
    inner: list[str] = []
    for short in shorts:
        counts[short] += 1
        inner.append(short if total[short] == 1 else f"{short}{counts[short]}")
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
                     and specs[position].constructor.path[-1].startswith(_WEIGHTED)}
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
            parameters[vector] = free_attribute(base, set(parameters.values()))
        slot_parameter[(position, slot)] = parameters[vector]
    return slot_parameter


def _parameter_defaults(slot_parameter: Mapping[tuple[int, str], str], specs: list[Any]) -> dict[str, Const]:
    """A parameter that only sets keywords PyTorch defaults alike (``stride``) takes that default."""
    found: dict[str, set[Any]] = {}
    for (position, slot), parameter in slot_parameter.items():
        found.setdefault(parameter, set()).add(None if slot.isdigit() else _defaults(specs[position]).get(slot))
    return {p: next(iter(d)) for p, d in found.items() if len(d) == 1 and None not in d}


def _shortcut_parts(steps: list[Step], members: list[tuple[int, int]], modules: Mapping[str, Any],
                    cuts: Mapping[tuple[int, int], _Shortcut], slots: Mapping[tuple[int, str], list[Any]],
                    slot_parameter: Mapping[tuple[int, str], str]) -> Any:
    """The shortcut chain's modules, each argument a parameter of the class holding the same values in every span
    that has the chain, else a constant, and each span's chain modules in order; None when an argument is
    neither."""
    with_cut = [k for k, m in enumerate(members) if m in cuts]
    chain_calls = {members[k]: [ordered_calls(steps[i].value)[0] for i in cuts[members[k]].steps] for k in with_cut}
    if len({len(c) for c in chain_calls.values()}) != 1:
        return None
    parts = []
    for column in zip(*(chain_calls[members[k]] for k in with_cut), strict=True):
        part = _expressed_module([modules[a] for a in column], with_cut, slots, slot_parameter)
        if part is None:
            return None
        parts.append(part)
    return tuple(parts), chain_calls


def _with_optional(body: list[Step], source: str, attr: str) -> list[Step]:
    """The plain block's steps with ``self.<attr>`` applied to its input just before the sum that adds it."""
    merge = max(i for i, step in enumerate(body) if _is_sum(step.value))
    taken = {n for step in body for n in step.bound} | {source}
    shortcut = free_attribute("shortcut", taken)
    step = Step(Name(shortcut), Call(Attr(SELF, attr), (Name(source),)), body[merge].keras_layer)
    return [*body[:merge], step, replace(body[merge], value=renamed(body[merge].value, source, shortcut)),
            *body[merge + 1:]]


def _block_name(block_modules: list[Any], body: tuple[Step, ...], member_attrs: list[list[str]]) -> str:
    """After the structure where a known one fits (torchvision's names): a depthwise residual with a
    squeeze-excitation is an ``MBConv``, without one an ``InvertedResidual``; a residual of three convolutions,
    1×1 first and last, a ``Bottleneck`` (``Projection…`` when its shortcut is a convolution too); a span that
    concatenates its input with what it computes a ``DenseLayer``; one that scales its input by a gate computed from
    its mean a ``SqueezeExcite``; a chain of one convolution and a pooling a ``Transition``. Otherwise the Keras
    names' common prefix (``block35_…`` → ``Block35``), else ``ProjectionBlock`` (a residual whose shortcut is
    computed), ``ResidualBlock`` or ``Block``."""
    text = "\n".join(ast.unparse(ast.fix_missing_locations(ast.Module([statement(step)], []))) for step in body)
    residual = any(_is_sum(step.value) for step in body)
    convs = [dict(kwargs) for _, ctor, _, kwargs in block_modules if ctor.path[-1].startswith("Conv")]
    depthwise = any("groups" in kwargs for kwargs in convs)
    excitation = ".mean(" in text and any(isinstance(step.value, BinOp) and step.value.op == "*" for step in body)
    first = free_names(body[0].value)
    projection = bool(first) and sum(first[0] in free_names(step.value) and bool(ordered_calls(step.value))
                                     for step in body) == 2
    main = convs[:-1] if projection else convs  # the shortcut convolution is created first-called last
    kinds_in_order = [ctor.path[-1] for _, ctor, _, _ in block_modules]
    kinds = set(kinds_in_order)
    if residual and depthwise and body and "groups" in convs[0] and kinds & {"LayerScale", "ChannelLayerNorm"}:
        return "ConvNeXtBlock"  # a depthwise convolution first, then a norm over channels and the MLP (timm's name)
    if len(kinds_in_order) == 2 and kinds_in_order[0].startswith("Conv") and kinds_in_order[1].startswith("BatchNorm"):
        return "ConvBnAct"  # one convolution, its norm, an activation, its input added or not (timm's name)
    projects, mixes = _pointwise_around_sum(block_modules, body)
    if residual and depthwise and projects:  # expanded, filtered depthwise, projected back: then the sum
        return "MBConv" if excitation else "InvertedResidual"
    if residual and depthwise and mixes and "groups" in convs[0]:
        return "ConvMixerBlock"  # a depthwise convolution's residual, then a pointwise one mixing channels
    if residual and not depthwise and len(main) == 2 and main[0].get("kernel_size") != Const(1) and \
            main[1].get("kernel_size") == Const(1):
        return "FusedMBConv"  # a full convolution expanding, a pointwise one projecting (EfficientNetV2's)
    if residual and len(main) == 3 and main[0].get("kernel_size") == Const(1) and \
            main[-1].get("kernel_size") == Const(1) and not excitation:
        return ("Projection" if projection else "") + "Bottleneck"
    last = body[-1].value
    if excitation and not residual and first and isinstance(last, BinOp) and last.op == "*" and \
            Name(first[0]) in (last.left, last.right):
        return "SqueezeExcite"
    if "torch.cat(" in text and first and f"[{first[0]}," in text.replace(" ", ""):
        return "DenseLayer"
    separable = [ctor for _, ctor, _, _ in block_modules if ctor.path[-1].startswith("SeparableConv")]
    if not residual and len(separable) >= 2 and not any(len(free_names(step.value)) > 1 for step in body):
        return "SeparableConvBlock"  # Keras's NASNet unit: relu, separable convolution, norm, twice
    if not residual and len(convs) == 2 and "groups" in convs[0] and convs[1].get("kernel_size") == Const(1) and \
            not any(len(free_names(step.value)) > 1 for step in body):
        return "DepthwiseSeparable"  # MobileNet's unit: a depthwise convolution, then a pointwise one (timm's name)
    if not residual and len(convs) == 1 and kinds & {"AvgPool2d", "MaxPool2d"} and \
            not any(len(free_names(step.value)) > 1 for step in body):
        return "Transition"  # a chain narrowing and pooling between stages (DenseNet's, torchvision's name)
    mlp_layers = sum(_pointwise(ctor, dict(kwargs)) for _, ctor, _, kwargs in block_modules)
    if residual and _self_attends(block_modules, body) and mlp_layers >= 2:
        return "EncoderBlock"  # self-attention and an MLP (Dense or 1-wide Conv1D), each with its residual (ViT's)
    named = [a for attrs in member_attrs for a in attrs if not named_by_keras(a)]
    prefix = common_prefix(named)
    if len(prefix) >= 3:
        return prefix
    sums = [step.value for step in body if _is_sum(step.value)]
    if sums and first and Name(first[0]) not in (sums[-1].left, sums[-1].right):
        return "ProjectionBlock"  # its sum adds no input as it is: a computed (projection) shortcut
    if not residual and len(convs) >= 2 and not any(len(free_names(step.value)) > 1 for step in body):
        return "ConvBlock"  # a chain of convolutions (a U-Net's double convolution, a VGG block)
    if not residual and isinstance(last, Call) and last.func == Global(("torch", "cat")):
        return "InceptionBlock"  # branches of its input concatenated (Inception's mixed blocks)
    return "ResidualBlock" if residual else "Block"


_ATTENTION = ("MultiHeadAttention",)


def _pointwise_around_sum(block_modules: list[Any], body: tuple[Step, ...]) -> tuple[bool, bool]:
    """Whether a pointwise convolution follows the depthwise one before the block's last sum (the projection of an
    inverted residual), and whether one follows the sum (ConvMixer's channel mixing)."""
    kinds = {attr: (ctor, dict(kwargs)) for attr, ctor, _, kwargs in block_modules}
    calls = [(index, attr) for index, step in enumerate(body) for attr in ordered_calls(step.value) if attr in kinds]
    sums = [index for index, step in enumerate(body) if _is_sum(step.value)]
    depthwise = [index for index, attr in calls if kinds[attr][0].path[-1].startswith("Conv")
                 and "groups" in kinds[attr][1]]
    if not sums or not depthwise:
        return False, False
    pointwise = [index for index, attr in calls if kinds[attr][0].path[-1].startswith("Conv")
                 and _pointwise(*kinds[attr])]
    return (any(depthwise[0] < index < sums[-1] for index in pointwise),
            any(index > sums[-1] for index in pointwise))


def _pointwise(constructor: Global, kwargs: Mapping[str, Expr]) -> bool:
    """A layer of an MLP: a Linear, or a convolution of kernel 1 (Keras's Conv1D feed-forward)."""
    kind = constructor.path[-1]
    return kind == "Linear" or (kind.startswith("Conv") and kwargs.get("kernel_size") == Const(1))


def _self_attends(block_modules: list[Any], body: tuple[Step, ...]) -> bool:
    """Whether the block calls an attention module, each time with one value as query and value (``attn(y, y)``):
    a transformer encoder's layer, whatever Keras named it (BERT's ``layer_0_…`` would make a class ``Layer``)."""
    attention = {name for name, ctor, _, _ in block_modules if ctor.path[-1] in _ATTENTION}
    calls = [step.value for step in body if isinstance(step.value, Call) and isinstance(step.value.func, Attr)
             and step.value.func.value == SELF and step.value.func.name in attention]
    return bool(calls) and all(len(call.args) >= 2 and call.args[0] == call.args[1] for call in calls)


def _majority_prefix(names: list[str]) -> str:
    """The common prefix of the names sharing the most frequent first word, when they are more than half: a block
    whose shortcut layers kept Keras's counters (``conv2d_3``, ``batch_normalization_3``) is still ``block13``."""
    firsts = [name.split("_")[0] for name in names]
    word = max(dict.fromkeys(firsts), key=firsts.count, default="")
    if firsts.count(word) * 2 <= len(names):
        return common_prefix(names)
    return common_prefix([name for name, first in zip(names, firsts, strict=True) if first == word])


def _stage(attr: str, run: list[tuple[int, int]], kind_of: Mapping[tuple[int, int], _Member]) -> Stage:
    """Blocks in an ``nn.Sequential`` (paths ``stage1.0.conv1``), or one block alone (``block2a_se.conv1``)."""
    blocks, paths = [], []
    for index, member in enumerate(run):
        placed = kind_of[member]
        blocks.append((placed.block.class_name, placed.arguments))
        paths += [(flat, (index, *path) if len(run) > 1 else path) for flat, path in placed.paths]
    return Stage(attr, run[0][0], run[-1][1], tuple(blocks), tuple(paths), single=len(run) == 1)


# --------------------------------------------------------------------------- blocks without their sum

_FUNCTION_MODULES: dict[tuple[str, ...], str] = {path: FUNCTIONAL_MODULES[path] for path in ELEMENTWISE_ACTIVATIONS}
"""Activations as the modules that compute them alike, for an optional part of a block (``nn.Sequential(conv, bn,
nn.SiLU())``)."""

_MAX_GAPS = 4
"""A span joins a residual block's class when it lacks or adds at most this many single steps (EfficientNet's
first block: no expansion, three steps; a strided block: one zero pad)."""


def _kind(spec: Any) -> tuple[Any, ...]:
    """A module's constructor, argument count and keyword names (PyTorch's defaults counted as given)."""
    return (spec.constructor.path, len(spec.args), tuple(sorted({k for k, _ in spec.kwargs} | set(_defaults(spec)))))


def _chain_part(step: Step, modules: Mapping[str, Any]) -> tuple[str, Any] | None:
    """A step mapping one value to one as a part an optional submodule can hold: ``("module", attr)``,
    ``("function", constructor)`` for an activation, ``("pad", pads)`` for a zero pad; None for any other step."""
    value = step.value
    if not (isinstance(step.target, Name) and isinstance(value, Call) and value.args and
            isinstance(value.args[0], Name) and not value.kwargs and len(free_names(value)) == 1):
        return None
    func = value.func
    if isinstance(func, Attr) and func.value == SELF and func.name in modules and len(value.args) == 1:
        return ("module", func.name)
    if isinstance(func, Global) and func.path in _FUNCTION_MODULES and len(value.args) == 1:
        return ("function", Global(("nn", _FUNCTION_MODULES[func.path])))
    if isinstance(func, Global) and func.path == ("F", "pad") and len(value.args) == 2 and \
            isinstance(value.args[1], Const) and isinstance(value.args[1].value, tuple) and \
            len(value.args[1].value) in (2, 4, 6) and all(type(p) is int for p in value.args[1].value):
        return ("pad", value.args[1].value)
    return None


def _signature(step: Step, modules: Mapping[str, Any]) -> str:
    """A step's shape for alignment: locals as ``_``, modules as their kind, constants kept."""

    class Canon(ast.NodeTransformer):
        def visit_Name(self, node: ast.Name) -> ast.Name:
            return node if node.id in ("self", "torch", "nn", "F") else ast.Name("_", node.ctx)

        def visit_Attribute(self, node: ast.Attribute) -> ast.expr:
            self.generic_visit(node)
            if isinstance(node.value, ast.Name) and node.value.id == "self" and node.attr in modules:
                return ast.Name(repr(_kind(modules[node.attr])), ast.Load())
            return node

    return ast.dump(Canon().visit(statement(step)))


def _align(ref: list[str], ref_optional: list[bool], span: list[str], span_optional: list[bool]
           ) -> tuple[int, list[tuple[int | None, int | None]]] | None:
    """The cheapest alignment of a span's steps with the body's (equal steps paired; an optional step of either
    left unpaired at cost 1), when it costs at most ``_MAX_GAPS``."""
    n, m, worst = len(ref), len(span), _MAX_GAPS + 1
    cost = [[worst] * (m + 1) for _ in range(n + 1)]
    cost[n][m] = 0
    for i in range(n, -1, -1):
        for j in range(m, -1, -1):
            if i == n and j == m:
                continue
            best = worst
            if i < n and j < m and ref[i] == span[j]:
                best = cost[i + 1][j + 1]
            if i < n and ref_optional[i]:
                best = min(best, cost[i + 1][j] + 1)
            if j < m and span_optional[j]:
                best = min(best, cost[i][j + 1] + 1)
            cost[i][j] = best
    if cost[0][0] > _MAX_GAPS:
        return None
    path: list[tuple[int | None, int | None]] = []
    i = j = 0
    while (i, j) != (n, m):  # of equal alignments, the one leaving the body's steps out earliest (an expansion)
        if i < n and ref_optional[i] and cost[i][j] == cost[i + 1][j] + 1:
            path.append((i, None))
            i += 1
        elif i < n and j < m and ref[i] == span[j] and cost[i][j] == cost[i + 1][j + 1]:
            path.append((i, j))
            i, j = i + 1, j + 1
        else:
            path.append((None, j))
            j += 1
    return cost[0][0], path


def _residual_body(steps: list[Step], member: tuple[int, int]) -> tuple[str, str] | None:
    """(input, main) when the span ends by adding its input, read by nothing else but its first step, to the value
    its other steps compute (a residual block with an identity shortcut and nothing after the sum)."""
    start, end = member
    last = steps[end].value
    first = free_names(steps[start].value)
    if end - start < 2 or not _is_sum(last) or not first:
        return None
    assert isinstance(last, BinOp)
    source = first[0]
    operands = [o.id for o in (last.left, last.right) if isinstance(o, Name)]
    reads = [n for i in range(start, end + 1) for n in free_names(steps[i].value)]
    if len(operands) != 2 or source not in operands or reads.count(source) != 2 or \
            set(free_names(steps[start].value)) != {source}:
        return None
    main = operands[1] if operands[0] == source else operands[0]
    return (source, main) if main != source else None


def _aliased(body: list[Step], dropped: set[int]) -> list[Step]:
    """``body`` without the steps at ``dropped`` (each maps one value to one): later steps read its input."""
    out: list[Step] = []
    alias: dict[str, str] = {}
    for index, step in enumerate(body):
        value = step.value
        for old, new in alias.items():
            value = renamed(value, old, new)
        if index in dropped:
            assert isinstance(step.target, Name)
            alias[step.target.id] = free_names(value)[0]
            continue
        out.append(replace(step, value=value))
    return out


def _unsummed_blocks(ir: ModelIR, steps: list[Step], kinds: Mapping[str, list[tuple[int, int]]],
                     shortcuts: Mapping[tuple[int, int], Any], modules: Mapping[str, Any]
                     ) -> dict[str, list[tuple[tuple[int, int], _Window]]]:
    """For each residual kind (identity shortcut, sum last), the spans elsewhere in ``forward`` that compute its
    body without the sum, lacking or adding only optional single steps: the first block of each EfficientNet or
    MobileNetV2 stage, whose stride or width change leaves out the residual sum."""
    references = {}
    for key, members in kinds.items():
        if members and not any(m in shortcuts for m in members) and \
                all(_residual_body(steps, m) is not None for m in members):
            references[key] = members
    if not references:
        return {}
    live = live_after(ir, steps)
    cuts = [-1] + [i for i, step in enumerate(steps) if isinstance(step.target, Name) and live[i] == {step.target.id}]
    occupied = [m for members in references.values() for m in members]
    named = {key: all(common_prefix([steps[i].keras_layer for i in range(m[0], m[1] + 1)]) for m in members)
             for key, members in references.items()}
    signatures = [_signature(step, modules) for step in steps]
    optional = [_chain_part(step, modules) is not None for step in steps]
    candidates = []
    for key, members in references.items():
        start, end = members[0]
        ref = signatures[start:end]
        ref_optional = optional[start:end]
        pairs = [(cut, end_cut) for cut in cuts for end_cut in cuts[bisect_left(cuts, cut + len(ref) - _MAX_GAPS):
                                                                     bisect_right(cuts, cut + len(ref) + _MAX_GAPS)]
                 if end_cut > cut + 1]  # spans of about the body's length
        for a, b in pairs:
            span = (a + 1, b)
            if any(m[0] <= span[1] and span[0] <= m[1] for m in occupied) or not _owns_its_modules(steps, span):
                continue
            if named[key] and not common_prefix([steps[i].keras_layer for i in range(span[0], span[1] + 1)]):
                continue  # the blocks' Keras names share a prefix (block2b_...): a span across two names is no block
            aligned = _align(ref, ref_optional, signatures[span[0]:span[1] + 1], optional[span[0]:span[1] + 1])
            if aligned is not None:
                candidates.append((aligned[0], span[0], -(span[1] - span[0]), key, span, aligned[1]))
    found: dict[str, list[tuple[tuple[int, int], _Window]]] = {}
    taken: list[tuple[int, int]] = []
    for _cost, _start, _length, key, span, path in sorted(candidates, key=lambda c: c[:3]):
        if any(t[0] <= span[1] and span[0] <= t[1] for t in taken):
            continue
        window = _window(steps, references[key][0], span, path, modules)
        if window is not None:
            found.setdefault(key, []).append((span, window))
            taken.append(span)
    return found


def _owns_its_modules(steps: list[Step], span: tuple[int, int]) -> bool:
    inside = {a for i in range(span[0], span[1] + 1) for a in ordered_calls(steps[i].value)}
    outside = {a for i, step in enumerate(steps) if not span[0] <= i <= span[1] for a in ordered_calls(step.value)}
    return not inside & outside


def _window(steps: list[Step], reference: tuple[int, int], span: tuple[int, int],
            path: list[tuple[int | None, int | None]], modules: Mapping[str, Any]) -> _Window | None:
    """The alignment as a ``_Window``, when the span computes the body with its unpaired steps taken out: the same
    structure once each unpaired step passes its input on."""
    start, end = reference
    length = end - start
    at: list[int | None] = [None] * length
    inserted: list[list[int]] = [[] for _ in range(length + 1)]
    position = 0
    for ref_index, span_index in path:
        if ref_index is not None:
            at[ref_index] = None if span_index is None else span[0] + span_index
            position = ref_index + 1
        else:
            assert span_index is not None
            inserted[position].append(span[0] + span_index)
    for extra in inserted:  # an insertion is a chain of consecutive steps
        if extra and extra != list(range(extra[0], extra[0] + len(extra))):
            return None
    runs = _true_runs([index is None for index in at])
    if len(runs) > 1 or sum(bool(extra) for extra in inserted) > 1:
        return None  # one part left out (an expansion) and one added (a pad) at most: else it is another block
    reference_names = [steps[i].keras_layer for i in range(start, end)]
    for first, last in runs:  # a part left out is one the Keras names call a part (block2b_expand_*)
        if not _part_name(reference_names[first:last + 1], reference_names):
            return None
    for extra in inserted:
        if extra and not all((part := _chain_part(steps[i], modules)) is not None and part[0] == "pad"
                             for i in extra) and \
                not _part_name([steps[i].keras_layer for i in extra],
                               [steps[i].keras_layer for i in range(span[0], span[1] + 1)]):
            return None
    body = steps[start:end]
    reduced_body = _aliased(body, {p for p, index in enumerate(at) if index is None})
    extras = {i - span[0] for group in inserted for i in group}
    reduced_span = _aliased(steps[span[0]:span[1] + 1], extras)
    key = _body_key(reduced_body, modules) if reduced_body else None
    if key is None or key != _body_key(reduced_span, modules):
        return None
    return _Window(tuple(at), tuple(tuple(group) for group in inserted))


def _optional_block_class(steps: list[Step], members: list[tuple[int, int]],
                          windows: list[tuple[tuple[int, int], _Window]], modules: Mapping[str, Any],
                          class_names: NameTable) -> tuple[BlockClass, dict[tuple[int, int], _Member]] | None:
    """One class for a residual kind and the spans that compute it without its sum: ``residual`` says whether an
    instance adds its input (``if self.residual:`` in ``forward``, as torchvision's ``use_res_connect``); the steps
    some instances lack or add become submodules built when their flag is set (``self.expand = nn.Sequential(conv,
    bn, nn.SiLU()) if expand else nn.Identity()``, a zero pad whose amounts are the flag). None when a part's
    arguments are not the class's parameters or constants."""
    if not members:
        return None
    start, end = members[0]
    length = end - start
    shape = _residual_body(steps, members[0])
    assert shape is not None
    source, main = shape
    everyone = [(m, _Window(tuple(m[0] + p for p in range(length)), ((),) * (length + 1)), True) for m in members]
    everyone += [(span, window, False) for span, window in windows]
    everyone.sort(key=lambda entry: entry[0])
    missing = [any(w.at[p] is None for _, w, _ in everyone) for p in range(length)]
    runs = _true_runs(missing)
    for first, last in runs:
        if any(len({w.at[p] is None for p in range(first, last + 1)}) != 1 for _, w, _ in everyone):
            return None
        for p in range(first + 1, last + 1):
            if free_names(steps[start + p].value) != steps[start + p - 1].bound:
                return None
    inserts = sorted({q for _, w, _ in everyone for q, extra in enumerate(w.inserted) if extra})
    if any(q < length and (missing[q] or len(set(free_names(steps[start + q].value))) != 1) for q in inserts):
        return None
    fixed = [p for p in range(length) if not missing[p]]
    calls = [[a for p in fixed for a in ordered_calls(steps[w.at[p]].value)] for _, w, _ in everyone]  # type: ignore[index]
    if len({len(c) for c in calls}) != 1:
        return None
    specs = [[modules[a] for a in member_calls] for member_calls in calls]
    if any(len({_kind(spec) for spec in column}) != 1 for column in zip(*specs, strict=True)):
        return None
    inner = _inner_names([spec.constructor for spec in specs[0]])
    slots, keyword_names = _slots(specs)
    slot_parameter = _parameters(slots, specs[0])
    names = NameTable()
    names.reserve(*inner, *slot_parameter.values())
    first_call: dict[int, int] = {}  # body position → index of its first module among the calls of every instance
    for p in fixed:
        first_call.setdefault(p, sum(len(ordered_calls(steps[start + f].value)) for f in fixed if f < p))
    groups: list[_Group] = []
    added: list[tuple[str, list[Any]]] = []
    places: list[tuple[str, Any]] = [("run", run) for run in runs] + [("insert", q) for q in inserts]
    for kind, where in places:
        after = where[1] + 1 if kind == "run" else where
        follower = next((first_call[p] for p in range(after, length) if p in first_call
                         and ordered_calls(steps[start + p].value)), None)
        group = _optional_group(steps, everyone, kind, where, modules, slots, slot_parameter, names, follower, added)
        if group is None:
            return None
        groups.append(group)
    parameters = list(dict.fromkeys(slot_parameter.values())) + [name for name, _ in added]
    defaults = _parameter_defaults(slot_parameter, specs[0])
    values = [{p: slots[slot][k] for slot, p in slot_parameter.items()} for k in range(len(everyone))]
    for name, per_member in added:
        for k, value in enumerate(per_member):
            values[k][name] = value
    residual = names.allocate("residual")
    for flag, flag_values, default in [(g.flag, g.values, g.default) for g in groups] + \
            [(residual, [Const(r) for _, _, r in everyone], Const(False))]:  # residual=True marks the adding ones
        parameters.append(flag)
        if default is None:  # a boolean: what most instances do
            trues = sum(v == Const(True) for v in flag_values)
            default = Const(trues * 2 >= len(flag_values))
        defaults[flag] = default
        for k, value in enumerate(flag_values):
            values[k][flag] = value
    reference = next(k for k, entry in enumerate(everyone) if entry[0] == members[0])
    body = _optional_body(steps, members[0], length, source, main, runs, inserts, groups,
                          dict(zip(calls[reference], inner, strict=True)))
    block_modules = _module_rows(specs[0], inner, slot_parameter, keyword_names)
    name = _block_name(block_modules, tuple(body), calls)
    block = BlockClass(class_names.allocate_class(name), tuple(parameters), tuple(block_modules), tuple(body),
                       source, body[-1].bound[0], tuple(defaults.items()),
                       tuple((g.attr, g.flag, g.parts) for g in groups), residual)
    block, rename = _named_by_role(block, {g.flag for g in groups} | {residual})  # and ordered as a signature
    original = {rename.get(p, p): p for p in parameters}
    instances = [{p: values[k][original[p]] for p in block.parameters} for k in range(len(everyone))]
    block = _derived_flags(block, instances)
    placed = {}
    for k, (member, _window, is_residual) in enumerate(everyone):
        arguments = _given(block, instances[k])
        paths: list[tuple[str, tuple[str | int, ...]]] = [(flat, (attr,)) for flat, attr in zip(calls[k], inner,
                                                                                               strict=True)]
        for group in groups:
            paths += [(flat, path) for flat, path in group.paths.get(k, [])]
        placed[member] = _Member(block, arguments, tuple(paths), not is_residual)
    return block, placed


def _flag_rules(parameters: set[str]) -> list[Expr]:
    """What a block's flag may follow from, as torchvision writes it: the residual sum where shape allows it, a
    projection where it does not, an expansion where the width changes, a pad where the convolution strides.
    With a ``stride`` parameter only the rules that read it (a rule on channels alone would break a new block
    built with another stride)."""
    same = Compare("==", Name("in_channels"), Name("out_channels"))
    differ = Compare("!=", Name("in_channels"), Name("out_channels"))
    unit, strided = Compare("==", Name("stride"), Const(1)), Compare("!=", Name("stride"), Const(1))
    if "stride" in parameters:
        rules: list[Expr] = [BoolOp("and", (unit, same)), BoolOp("or", (strided, differ)), strided]
    else:
        rules = [same, differ]
    rules.append(Compare("!=", Name("width"), Name("in_channels")))
    return [rule for rule in rules if set(free_names(rule)) <= parameters]


def _evaluated(rule: Expr, values: Mapping[str, Expr]) -> bool | None:
    """A flag rule's value for one instance's (constant) arguments; None where an argument is not a number."""
    value = evaluate(rule, values)
    return value.value if value is not None and type(value.value) is bool else None


def _derived_flags(block: BlockClass, instances: list[dict[str, Expr]]) -> BlockClass:
    """The block with each flag that its instances' channels and stride decide (the first rule of ``_flag_rules``
    that gives every instance's value) computed in ``__init__`` instead of passed: a new block cannot be built
    with a residual sum its shapes do not allow."""
    defaults = dict(block.defaults)
    derived: list[tuple[str, Expr]] = []
    pads = {flag for _, flag, parts in block.optional if parts[0][0].path[-1].startswith("ZeroPad")}
    for flag in [block.residual, *(flag for _, flag, _ in block.optional)]:
        wanted = [value.value if isinstance(value := i.get(flag), Const) else None for i in instances]
        if flag not in block.parameters or any(type(value) is not bool for value in wanted):
            continue
        rules = _flag_rules(set(block.parameters))
        if flag in pads:  # a pad is there because the convolution strides, whatever the widths do
            rules.sort(key=lambda rule: rule != Compare("!=", Name("stride"), Const(1)))
        rule = next((rule for rule in rules
                     if all(_evaluated(rule, i) is value for i, value in zip(instances, wanted, strict=True))), None)
        if rule is not None:
            derived.append((flag, rule))
    if not derived:
        return block
    gone = {flag for flag, _ in derived}
    return replace(block, parameters=tuple(p for p in block.parameters if p not in gone),
                   defaults=tuple((p, v) for p, v in defaults.items() if p not in gone), derived=tuple(derived))


_SOURCES = ("in_channels", "out_channels", "kernel_size", "stride")
"""The parameters other values are computed from, as torchvision's blocks take them."""
_HALF_KERNEL = BinOp("//", Name("kernel_size"), Const(2))
"""A 'same' convolution's padding on each side (odd kernels)."""


def _with_derived_values(blocks: list[BlockClass], kind_of: dict[tuple[int, int], _Member]) -> list[BlockClass]:
    """``blocks`` with the values ``_derived_values`` finds computed in ``__init__``, and each instance's arguments
    (in ``kind_of``) without them. A class held inside others (a ``SqueezeExcite`` in each ``MBConv``) keeps its
    parameters: its instances' arguments are its holders' expressions."""
    nested = {row[1].path for block in blocks for row in block.modules}
    result = []
    for block in blocks:
        members = [segment for segment, member in kind_of.items() if member.block.class_name == block.class_name]
        if (block.class_name,) in nested or len(members) < 3:
            result.append(block)
            continue
        defaults = dict(block.defaults)
        instances = [{**defaults, **dict(kind_of[segment].arguments)} for segment in members]
        derived = _derived_values(block, instances)
        for segment, values in zip(members, instances, strict=True):
            kind_of[segment] = replace(kind_of[segment], block=derived, arguments=_given(derived, values))
        result.append(derived)
    return result


def _derived_values(block: BlockClass, instances: list[dict[str, Expr]]) -> BlockClass:
    """The block with each parameter that the channels, kernel size and stride decide on every instance computed
    instead of passed, as torchvision computes them: a squeeze-excitation's width from the block's input
    (``in_channels // 4``), a 'same' convolution's padding from its kernel (``kernel_size // 2 if stride == 1 else
    0``), the zero pad before a strided convolution (Keras's ``correct_pad``). A ratio is accepted only where it is
    read once (written there; a width read by five modules stays a parameter); a padding is a local of
    ``__init__``."""
    flag_names = {flag for flag, _ in block.derived}
    reads = Counter(name for row in block.modules for name in free_names(Call(row[1], row[2], row[3])))
    reads.update(name for _, _, parts in block.optional for part in parts
                 for name in free_names(Call(part[0], part[1], part[2])))
    reads.update(flag for _, flag, _ in block.optional)
    blocked = {name for _, rule in block.derived for name in free_names(rule)} | {block.residual}
    sources = [p for p in _SOURCES if p in block.parameters]
    inline: dict[str, Expr] = {}
    computed: list[tuple[str, Expr]] = []
    flags = list(block.derived)
    for parameter in block.parameters:
        wanted = [values.get(parameter) for values in instances]
        if parameter in sources or parameter in blocked or parameter in flag_names or \
                not all(isinstance(value, Const) for value in wanted):
            continue
        if parameter in {flag for _, flag, _ in block.optional}:  # the part's presence and its amounts
            pad = _pad_rules(parameter, sources, instances)
            if pad is not None:
                flags.append((parameter, pad[0]))
                inline[parameter] = pad[1]
            continue
        found = next(((rule, local) for rule, local in [*_value_rules(parameter, sources, instances),
                                                         *_tuple_template(parameter, sources, instances)]
                      if all(evaluate(rule, values) == value for values, value in zip(instances, wanted, strict=True))),
                     None)
        if found is not None and found[1]:
            computed.append((parameter, found[0]))
        elif found is not None and reads[parameter] == 1:
            inline[parameter] = found[0]
    gone = set(inline) | {name for name, _ in computed}
    if not gone:
        return block

    def through(expr: Any) -> Any:
        return rewrite(expr, lambda node: inline[node.id] if isinstance(node, Name) and node.id in inline else None)

    return replace(block, parameters=tuple(p for p in block.parameters if p not in gone),
                   defaults=tuple((p, v) for p, v in block.defaults if p not in gone),
                   modules=through(block.modules), optional=through(block.optional),
                   derived=tuple(flags), computed=block.computed + tuple(computed))


def _value_rules(parameter: str, sources: list[str], instances: list[dict[str, Expr]]) -> list[tuple[Expr, bool]]:
    """What an integer parameter may be computed from: a fixed ratio of a channel count (written where it is
    read), or a 'same' padding (a local: the kernel's half, or one number, at stride 1; none where the convolution
    strides and Keras pads before it)."""
    values = [v.value if isinstance(v := values.get(parameter), Const) else None for values in instances]
    if not all(type(v) is int for v in values) or len(set(values)) < 2:
        return []
    rules: list[tuple[Expr, bool]] = []
    for source in (s for s in sources if s in ("in_channels", "out_channels")):
        first = instances[0][source]
        if not (isinstance(first, Const) and type(first.value) is int and first.value > 0 and values[0]):
            continue
        base, value = first.value, values[0]
        assert isinstance(value, int)
        if base % value == 0 and base // value >= 2:
            rules.append((BinOp("//", Name(source), Const(base // value)), False))
        if value % base == 0 and value // base >= 2:
            rules.append((BinOp("*", Name(source), Const(value // base)), False))
    half = _HALF_KERNEL
    if "stride" in sources:
        unit = Compare("==", Name("stride"), Const(1))
        if "kernel_size" in sources:
            rules.append((IfExp(unit, half, Const(0)), True))
        at_unit = {v for v, values in zip(values, instances, strict=True) if values.get("stride") == Const(1)}
        if len(at_unit) == 1:
            rules.append((IfExp(unit, Const(at_unit.pop()), Const(0)), True))
    elif "kernel_size" in sources:
        rules.append((half, True))
    return rules


def _tuple_template(parameter: str, sources: list[str], instances: list[dict[str, Expr]]
                    ) -> list[tuple[Expr, bool]]:
    """A tuple parameter whose items are constants or a channel count (ConvNeXt's layer scale of shape
    ``(1, in_channels, 1, 1)``), written where it is read."""
    values = [v.value for values in instances if isinstance(v := values.get(parameter), Const) and
              isinstance(v.value, tuple)]
    if len(values) != len(instances) or len({len(v) for v in values if isinstance(v, tuple)}) != 1 or \
            len(set(values)) < 2:
        return []
    items: list[Expr] = []
    first_value = values[0]
    assert isinstance(first_value, tuple)
    for k, first in enumerate(first_value):
        if all(v[k] == first for v in values if isinstance(v, tuple)):
            items.append(Const(first))
            continue
        source = next((s for s in sources if s != "stride" and all(
            isinstance(v, tuple) and i.get(s) == Const(v[k]) for v, i in zip(values, instances, strict=True))), None)
        if source is None:
            return []
        items.append(Name(source))
    return [(Seq(tuple(items)), False)]


def _pad_rules(parameter: str, sources: list[str], instances: list[dict[str, Expr]]) -> tuple[Expr, Expr] | None:
    """(when, amounts) for an optional zero pad whose amounts differ between instances: present where the
    convolution strides, its amounts TensorFlow's 'same' padding for the kernel (Keras's ``correct_pad``: one less
    before than after on an even size, the kernel's half on both sides on an odd one)."""
    present = [values.get(parameter) for values in instances]
    if "kernel_size" not in sources or not all(isinstance(v, Const) and (v.value is None or isinstance(
            v.value, tuple)) for v in present):
        return None
    when = next((rule for rule in _flag_rules(set(sources))
                 if all(_evaluated(rule, values) is (value != Const(None))
                        for values, value in zip(instances, present, strict=True))), None)
    pads = [(values, value) for values, value in zip(instances, present, strict=True) if value != Const(None)]
    if when is None or not pads or not isinstance(pads[0][1], Const) or not isinstance(pads[0][1].value, tuple):
        return None
    sides = len(pads[0][1].value) // 2
    half = _HALF_KERNEL
    for amounts in (BinOp("*", Seq((BinOp("-", half, Const(1)), half)), Const(sides)),
                    BinOp("*", Seq((half,)), Const(2 * sides))):
        if all(evaluate(amounts, values) == value for values, value in pads):
            return when, amounts
    return None


def _true_runs(flags: list[bool]) -> list[tuple[int, int]]:
    """(first, last) of each run of consecutive true flags."""
    runs: list[tuple[int, int]] = []
    for index, flag in enumerate(flags):
        if flag and runs and runs[-1][1] == index - 1:
            runs[-1] = (runs[-1][0], index)
        elif flag:
            runs.append((index, index))
    return runs


@dataclass(frozen=True)
class _Group:
    """An optional part of a block: ``self.<attr> = <parts> if <flag> else nn.Identity()``."""

    kind: str
    where: Any
    attr: str
    flag: str
    parts: tuple[tuple[Global, tuple[Expr, ...], tuple[tuple[str, Expr], ...]], ...]
    values: list[Const]
    default: Const | None
    paths: dict[int, list[tuple[str, tuple[str | int, ...]]]]


def _optional_group(steps: list[Step], everyone: list[Any], kind: str, where: Any, modules: Mapping[str, Any],
                    slots: Mapping[tuple[int, str], list[Any]], slot_parameter: Mapping[tuple[int, str], str],
                    names: NameTable, follower: int | None, added: list[tuple[str, list[Any]]]) -> _Group | None:
    """The part at ``where`` (a run of body positions some instances lack, or the steps some add before a body
    position) as an optional submodule, its arguments the class's parameters or constants. A part's input width
    that no parameter holds (EfficientNet's expansion reads the block's input) becomes a new parameter (appended to
    ``added``); an instance without the part passes the width the part would keep, the input width of the module
    that follows it (``follower``)."""
    indices: dict[int, list[int]] = {}
    for k, (_, window, _) in enumerate(everyone):
        found = [window.at[p] for p in range(where[0], where[1] + 1)] if kind == "run" else list(window.inserted[where])
        if found and None not in found:
            indices[k] = found
    having = sorted(indices)
    parts_of = {k: [_chain_part(steps[i], modules) for i in indices[k]] for k in having}
    lengths = {len(parts) for parts in parts_of.values()}
    if len(lengths) != 1 or any(part is None for parts in parts_of.values() for part in parts):
        return None
    first = having[0]
    member = everyone[first][0]
    hint = _part_name([steps[i].keras_layer for i in indices[first]],
                      [steps[i].keras_layer for i in range(member[0], member[1] + 1)])
    pad_only = all(part is not None and part[0] == "pad" for part in parts_of[first])
    attr = names.allocate("pad" if pad_only else hint or "optional", "optional")  # a zero pad is a pad, whatever its name
    flag, flag_values, default = attr, [Const(k in indices) for k in range(len(everyone))], None
    parts: list[tuple[Global, tuple[Expr, ...], tuple[tuple[str, Expr], ...]]] = []
    for j in range(lengths.pop()):
        column = [parts_of[k][j] for k in having]
        if len({part[0] for part in column}) != 1:  # type: ignore[index]
            return None
        what = column[0][0]  # type: ignore[index]
        if what == "function":
            if len({part[1] for part in column}) != 1:  # type: ignore[index]
                return None
            parts.append((column[0][1], (), ()))  # type: ignore[index]
        elif what == "pad":
            pads = [part[1] for part in column]  # type: ignore[index]
            constructor = Global(("nn", f"ZeroPad{len(pads[0]) // 2}d"))
            if len(set(pads)) == 1:
                parts.append((constructor, (Const(pads[0]),), ()))
            elif len(column) == 1 or len(parts_of[first]) == 1:  # the amounts are the flag: None where absent
                parts.append((constructor, (Name(attr),), ()))
                flag_values = [Const(parts_of[k][0][1]) if k in indices else Const(None)  # type: ignore[index]
                               for k in range(len(everyone))]
                default = Const(None)
            else:
                return None
        else:
            specs = [modules[part[1]] for part in column]  # type: ignore[index]

            def width(values: list[Any], slot: str, spec: Any = specs[0]) -> Expr | None:
                names_of = _ARGUMENT_NAMES.get(spec.constructor.path[-1], ())
                if slot != "0" or not names_of or follower is None or (follower, "0") not in slots:
                    return None
                filler = slots[(follower, "0")]
                name = names.allocate(names_of[0])
                added.append((name, [values[having.index(k)] if k in indices else filler[k]
                                     for k in range(len(everyone))]))
                return Name(name)

            built = _expressed_module(specs, having, slots, slot_parameter, width)
            if built is None:
                return None
            parts.append(built)
    paths: dict[int, list[tuple[str, tuple[str | int, ...]]]] = {}
    for k in having:
        for j, part in enumerate(parts_of[k]):
            if part is not None and part[0] == "module":
                paths.setdefault(k, []).append((part[1], (attr,) if len(parts) == 1 else (attr, j)))
    return _Group(kind, where, attr, flag, tuple(parts), flag_values, default, paths)


def _expressed_module(specs: list[Any], having: list[int], slots: Mapping[tuple[int, str], list[Any]],
                      slot_parameter: Mapping[tuple[int, str], str],
                      fallback: Callable[[list[Any], str], Expr | None] = lambda values, slot: None) -> Any:
    """One optional module's constructor: each argument the first parameter holding its values in the instances
    that have it, else ``fallback``'s new parameter, else their common constant; None when none of these."""
    if len({_kind(spec) for spec in specs}) != 1:
        return None

    def expressed(values: list[Any], slot: str) -> Expr | None:
        parameter: Expr | None = next((Name(p) for slot_, p in slot_parameter.items()
                                       if [slots[slot_][k] for k in having] == values), None)
        if parameter is None and len(set(values)) > 1:
            parameter = fallback(values, slot)
        return parameter if parameter is not None else values[0] if len(set(values)) == 1 else None

    given = list(dict.fromkeys(k for spec in specs for k, _ in spec.kwargs))
    args = tuple(expressed([spec.args[i] for spec in specs], str(i)) for i in range(len(specs[0].args)))
    keywords = {k: expressed([_keywords(spec, given)[k] for spec in specs], k) for k in _keywords(specs[0], given)}
    if any(a is None for a in args) or any(v is None for v in keywords.values()):
        return None
    defaults = _defaults(specs[0])
    kwargs = tuple((k, v) for k, v in keywords.items() if not (isinstance(v, Const) and v == defaults.get(k)))
    return specs[0].constructor, args, kwargs


def _optional_body(steps: list[Step], reference: tuple[int, int], length: int, source: str, main: str,
                   runs: list[tuple[int, int]], inserts: list[int], groups: list[_Group],
                   mapping: Mapping[str, str]) -> list[Step]:
    """``forward`` of the class from a residual instance: each optional run one call of its submodule, each
    insertion a call before the step it feeds, the sum last (rendered under ``if self.residual:``)."""
    start, end = reference
    by_run = {g.where[0]: g for g in groups if g.kind == "run"}
    by_insert = {g.where: g for g in groups if g.kind == "insert"}
    taken = {n for i in range(start, end + 1) for n in steps[i].bound} | {source}
    paths = {flat: (attr,) for flat, attr in mapping.items()}
    out: list[Step] = []
    p = 0
    pending: tuple[str, str] | None = None
    while p < length:
        step = steps[start + p]
        if p in by_insert:
            read = free_names(step.value)[0]
            fresh = free_attribute(f"{read}_", taken)
            out.append(Step(Name(fresh), Call(Attr(SELF, by_insert[p].attr), (Name(read),)), step.keras_layer))
            pending = (read, fresh)
        if p in by_run:
            first, last = by_run[p].where
            read = free_names(steps[start + first].value)[0]
            if pending is not None:
                read = pending[1] if read == pending[0] else read
                pending = None
            out.append(Step(Name(steps[start + last].bound[0]), Call(Attr(SELF, by_run[p].attr), (Name(read),)),
                            steps[start + last].keras_layer))
            p = last + 1
            continue
        value = through_paths(step.value, paths)
        if pending is not None:
            value, pending = renamed(value, *pending), None
        out.append(replace(step, value=value, nested_call=None))
        p += 1
    total = steps[end]
    value = total.value
    if length in by_insert:
        fresh = free_attribute(f"{main}_", taken)
        out.append(Step(Name(fresh), Call(Attr(SELF, by_insert[length].attr), (Name(main),)), total.keras_layer))
        value = renamed(value, main, fresh)
    out.append(replace(total, value=value, nested_call=None))
    return out


def _rows_in_order(block: BlockClass) -> list[tuple[Global, tuple[Expr, ...], tuple[tuple[str, Expr], ...]]]:
    """The constructors a block builds, in the order its ``forward`` calls them (optional parts' modules inline)."""
    rows = {attr: [(constructor, args, kwargs)] for attr, constructor, args, kwargs in block.modules}
    rows.update({attr: list(parts) for attr, _, parts in block.optional})
    order = [attr for step in block.steps for attr in ordered_calls(step.value)]
    return [row for attr in dict.fromkeys(order) for row in rows.get(attr, [])]


def _named_by_role(block: BlockClass, keep: set[str]) -> tuple[BlockClass, dict[str, str]]:
    """The block with its size parameters named by their role in ``forward``'s order: the first module's input
    width ``in_channels``, a width a later module reads ``width`` unless the block's last weighted module gives it
    (a VGG block's convolutions all make ``out_channels``), the last ``out_channels``, keywords by their keyword
    (``stride``); flags in ``keep`` keep their names."""
    rows = _rows_in_order(block)
    first: dict[str, tuple[int, str, str]] = {}  # parameter → (order of first appearance, module kind, argument)
    read_as_input: set[str] = set()
    for r, (constructor, args, kwargs) in enumerate(rows):
        kind = constructor.path[-1]
        for i, arg in enumerate(args):
            if isinstance(arg, Name):
                first.setdefault(arg.id, (len(first), kind, str(i)))
                if i == 0 and r > 0 and kind.startswith(_WEIGHTED):
                    read_as_input.add(arg.id)
        for key, value in kwargs:
            if isinstance(value, Name):
                first.setdefault(value.id, (len(first), kind, key))
    weighted = [args for constructor, args, _ in rows if constructor.path[-1].startswith(_WEIGHTED) and len(args) > 1]
    block_output = weighted[-1][1].id if weighted and isinstance(weighted[-1][1], Name) else None
    taken = set(keep)
    rename: dict[str, str] = {}
    for parameter in sorted((p for p in first if p not in keep), key=lambda p: first[p]):
        appearance, kind, slot = first[parameter]
        if slot.isdigit():
            names = _ARGUMENT_NAMES.get(kind, ())
            base = names[int(slot)] if int(slot) < len(names) else f"arg{slot}"
            if appearance == 0 and slot == "0" and kind.startswith(("BatchNorm", "GroupNorm", "ChannelLayerNorm")):
                base = "in_channels"  # a pre-activation block's first module reads the block's input
            elif parameter in read_as_input and not base.startswith("in_") and parameter != block_output:
                base = "width"
        else:
            base = slot
        rename[parameter] = free_attribute(base, taken)
    for parameter in block.parameters:  # a parameter no constructor reads keeps its name
        rename.setdefault(parameter, parameter)
    defaults = {p for p, _ in block.defaults}
    order = sorted(block.parameters, key=lambda p: (p in defaults, first.get(p, (len(first), "", ""))[0]))

    def through(expr: Expr) -> Expr:
        return Name(rename[expr.id]) if isinstance(expr, Name) and expr.id in rename else expr

    def row(constructor: Global, args: tuple[Expr, ...], kwargs: tuple[tuple[str, Expr], ...]) -> Any:
        return constructor, tuple(through(a) for a in args), tuple((k, through(v)) for k, v in kwargs)

    return replace(block, parameters=tuple(rename[p] for p in order),
                   modules=tuple((attr, *row(c, a, k)) for attr, c, a, k in block.modules),
                   optional=tuple((attr, rename.get(flag, flag), tuple(row(*part) for part in parts))
                                  for attr, flag, parts in block.optional),
                   defaults=tuple((rename[p], v) for p, v in block.defaults)), rename


def _nested_excitation(block: BlockClass, placed: dict[tuple[int, int], _Member], class_names: NameTable
                       ) -> tuple[BlockClass | None, BlockClass, dict[tuple[int, int], _Member]]:
    """A squeeze-excitation inside a block (``z = y.mean(...)``, a chain of steps on ``z``, ``y * z``) as its own
    class the block holds as ``self.se``, as timm's MBConv holds a ``SqueezeExcite``; the block's other modules
    renumbered and its instances' paths moved (``stage1.0.se.conv1``). Unchanged when there is none."""
    steps = list(block.steps)
    found = next((span for i in range(len(steps)) if (span := _excitation_span(steps, i)) is not None), None)
    rows = {attr: (constructor, args, kwargs) for attr, constructor, args, kwargs in block.modules}
    if found is None:
        return None, block, placed
    first, last = found
    inside = list(dict.fromkeys(a for step in steps[first:last + 1] for a in ordered_calls(step.value)))
    if len(inside) < 2 or any(a not in rows for a in inside) or \
            any(a in inside for step in steps[:first] + steps[last + 1:] for a in ordered_calls(step.value)):
        return None, block, placed
    inner = _inner_names([rows[a][0] for a in inside])
    source = free_names(steps[first].value)[0]
    used = list(dict.fromkeys(n.id for a in inside for n in (*rows[a][1], *(v for _, v in rows[a][2]))
                              if isinstance(n, Name)))
    body = _keepdim_means(tuple(replace(step, value=through_paths(step.value, {a: (n,) for a, n in zip(
        inside, inner, strict=True)})) for step in steps[first:last + 1]))
    excitation, rename = _named_by_role(BlockClass(
        class_names.allocate_class("SqueezeExcite"), tuple(used),
        tuple((n, *rows[a]) for a, n in zip(inside, inner, strict=True)), body, source, body[-1].bound[0]), set())
    attr = free_attribute("se", set(rows))
    call = Step(Name(body[-1].bound[0]), Call(Attr(SELF, attr), (Name(source),)), steps[last].keras_layer)
    kept = [a for a in rows if a not in inside]
    renumbered = dict(zip(kept, _inner_names([rows[a][0] for a in kept]), strict=True))
    moved: dict[str, tuple[str, ...]] = {a: (renumbered[a],) for a in kept}
    moved.update({a: (attr, n) for a, n in zip(inside, inner, strict=True)})
    modules = []
    for a in rows:
        if a in kept:
            modules.append((renumbered[a], *rows[a]))
        elif a == inside[0]:
            modules.append((attr, Global((excitation.class_name,)), (),
                            tuple((rename[p], Name(p)) for p in used)))
    new_steps = [replace(step, value=through_paths(step.value, {a: moved[a] for a in kept}))
                 for step in steps[:first]] + [call] + \
        [replace(step, value=through_paths(step.value, {a: moved[a] for a in kept})) for step in steps[last + 1:]]
    outer = replace(block, modules=tuple(modules), steps=tuple(new_steps))
    moved_placed = {member: replace(m, block=outer, paths=tuple((flat, (*moved.get(str(path[0]), (path[0],)),
                                                                         *path[1:])) for flat, path in m.paths))
                    for member, m in placed.items()}
    return excitation, outer, moved_placed


def _keepdim_means(body: tuple[Step, ...]) -> tuple[Step, ...]:
    """``body`` with each mean whose one reader adds the reduced axes back (Keras's pooling then ``Reshape``:
    ``y = x.mean(dim=(2, 3))``, ``y = y[:, :, None, None]``) as one ``x.mean(dim=(2, 3), keepdim=True)``."""
    steps = list(body)
    for i in range(len(steps) - 2, -1, -1):
        mean, expand = steps[i], steps[i + 1]
        value, index = mean.value, expand.value
        if not (isinstance(mean.target, Name) and isinstance(value, Call) and isinstance(value.func, Attr) and
                value.func.name == "mean" and not value.args and isinstance(index, Index) and
                index.value == mean.target and
                mean.target.id not in {n for step in steps[i + 2:] for n in free_names(step.value)}):
            continue
        dims = dict(value.kwargs).get("dim")
        added = index.items[2:]
        if set(dict(value.kwargs)) != {"dim"} or index.items[:2] != (Slice(), Slice()) or \
                dims != Const(tuple(range(2, 2 + len(added)))) or any(item != Const(None) for item in added):
            continue
        steps[i:i + 2] = [replace(expand, value=replace(value, kwargs=(*value.kwargs, ("keepdim", Const(True)))))]
    return tuple(steps)


def _lone_excitations(steps: list[Step], kinds: Mapping[str, list[tuple[int, int]]],
                      kind_of: Mapping[tuple[int, int], _Member], blocks: list[BlockClass],
                      modules: Mapping[str, Any]) -> dict[tuple[int, int], _Member]:
    """A squeeze-excitation the model computes once outside its blocks (MobileNetV3's first block) as an instance
    of the ``SqueezeExcite`` class the blocks hold, where its steps and modules are that class's."""
    names = {block.class_name: block for block in blocks}
    known: dict[str, BlockClass] = {}  # structure of an excitation inside a placed block → its class
    for (start, end), member in kind_of.items():
        held = [names[row[1].path[0]] for row in member.block.modules if row[1].path[0] in names]
        spans = [span for i in range(start, end + 1) if (span := _excitation_span(steps, i)) is not None]
        if len(held) == 1 and len(spans) == 1 and (key := _body_key(steps[spans[0][0]:spans[0][1] + 1], modules)):
            known.setdefault(key, held[0])
    found: dict[tuple[int, int], _Member] = {}
    for key, members in kinds.items():
        lone = [m for m in members if not any(p[0] <= m[1] and m[0] <= p[1] for p in kind_of)]
        if key not in known or len(lone) != 1 or _excitation_span(steps, lone[0][0]) != lone[0]:
            continue
        block, calls = known[key], _module_calls(steps, *lone[0])
        arguments = _instance_arguments(block, [modules[a] for a in calls])
        if arguments is not None:
            paths = tuple((flat, (row[0],)) for flat, row in zip(calls, block.modules, strict=True))
            found[lone[0]] = _Member(block, arguments, paths, False)
    return found


def _instance_arguments(block: BlockClass, specs: list[Any]) -> tuple[tuple[str, Expr], ...] | None:
    """The keyword arguments that make ``block`` build exactly ``specs`` (its modules, in order); None when a
    constant of the class differs or a parameter would need two values."""
    if len(specs) != len(block.modules):
        return None
    values: dict[str, Expr] = {}
    for (_attr, constructor, args, kwargs), spec in zip(block.modules, specs, strict=True):
        wanted = {**_defaults(spec), **dict(kwargs)}
        given = {**_defaults(spec), **dict(spec.kwargs)}
        if constructor != spec.constructor or len(args) != len(spec.args) or set(wanted) != set(given):
            return None
        for mine, theirs in [*zip(args, spec.args, strict=True), *((wanted[k], given[k]) for k in wanted)]:
            if isinstance(mine, Name):
                if values.setdefault(mine.id, theirs) != theirs:
                    return None
            elif mine != theirs:
                return None
    if set(values) != set(block.parameters):
        return None
    return _given(block, values)


def _given(block: BlockClass, values: Mapping[str, Expr]) -> tuple[tuple[str, Expr], ...]:
    """An instance's keyword arguments from its value of every parameter: those it does not leave at the default."""
    defaults = dict(block.defaults)
    return tuple((p, values[p]) for p in block.parameters if not (p in defaults and values[p] == defaults[p]))


def _excitation_span(steps: list[Step], i: int) -> tuple[int, int] | None:
    """(first, last) when step ``i`` takes a mean of ``y``, a chain of steps maps it to a gate and a step multiplies
    ``y`` by the gate."""
    step, value = steps[i], steps[i].value
    if not (isinstance(step.target, Name) and isinstance(value, Call) and isinstance(value.func, Attr) and
            value.func.name == "mean" and isinstance(value.func.value, Name)):
        return None
    source, current = value.func.value.id, step.target.id
    for j in range(i + 1, len(steps)):
        value = steps[j].value
        names = free_names(value)
        if isinstance(value, BinOp) and value.op == "*" and sorted(names) == sorted([source, current]):
            return (i, j) if isinstance(steps[j].target, Name) else None
        target = steps[j].target
        if names != [current] or not isinstance(target, Name):
            return None
        current = target.id
    return None


def _part_name(names: list[str], block_names: list[str]) -> str:
    """What the Keras names call a part of a block: their shared words after the block's (``block2b_expand_conv``,
    ``block2b_expand_bn`` in block ``block2b`` → ``expand``); empty when they share none. The block's last layer
    (often a sum Keras named itself, ``add_3``) does not count against the block's prefix."""
    part = names[0] if len(set(names)) == 1 else common_prefix(names)
    block = common_prefix(block_names[:-1] if len(block_names) > 2 else block_names)
    if block and part.startswith(block):
        return part[len(block):].strip("_")
    return part if not block else ""
