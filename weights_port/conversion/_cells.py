"""Cells of two inputs (NASNet's): spans of ``forward`` between points where exactly two values flow on.

A NASNet cell reads the last two cells' outputs and hands on its own output and its first input
(``x, p = cell(x, p), x``). No single tensor flows between such cells, so the residual-block finder,
which cuts ``forward`` where one value alone is live, cannot see them; and Keras's layer order
interleaves each cell with its neighbours. Here a cut is found by dataflow alone: a step's
ancestors, and which of their values a step outside them still reads.
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import pairwise

import numpy as np

from ._ir import ModelIR, Name, Step, free_names
from ._render import ordered_calls

__all__ = ["Cell", "cells_in_order"]


@dataclass(frozen=True)
class Cell:
    """Steps ``start..end`` (of the reordered steps) that read exactly the two values flowing on before them
    (``inputs``: the last cell's output, then the other), after which only ``output`` and at most one of those
    flow on."""

    inputs: tuple[str, str]
    output: str
    start: int
    end: int


_FEWEST_IN_A_ROW = 2
"""Cells count only where two or more follow each other, each reading the one before: a lone two-input span is a
single-input block seen from inside (Inception's mixed block, from one branch's output and the block's input)."""
_MOST_STEPS = 4000
"""The search holds a steps × steps matrix: larger models (none of keras.applications) are not searched."""


def cells_in_order(ir: ModelIR, steps: list[Step]) -> tuple[list[Step], list[Cell]] | None:
    """``steps`` reordered so that each cell of the longest run of cells (each reading the output of the cell
    before it and the value that flowed on beside that output: NASNet's normal and reduction cells) is contiguous,
    what precedes the run first and what follows it last, with the cells' spans; a step goes with the first cell
    whose output it leads to (a cell's adjustment of its second input, which Keras computes amid the cell before).
    None when there is no run, or when a read would see another binding of its name than before."""
    found = _run_of_cells(ir, steps)
    if found is None:
        return None
    regions, before = found
    group = [len(regions)] * len(steps)
    for index in before:
        group[index] = -1
    for order, (_, _, region) in enumerate(regions):
        for index in region:
            group[index] = order
    order_of = sorted(range(len(steps)), key=lambda i: (group[i], i))
    moved = [steps[i] for i in order_of]
    if not _same_reads(steps, moved):
        return None
    position = {old: new for new, old in enumerate(order_of)}
    cells = []
    for inputs, output, region in regions:
        at = sorted(position[i] for i in region)
        cells.append(Cell(inputs, output, at[0], at[-1]))
    return moved, cells


def _run_of_cells(ir: ModelIR, steps: list[Step]
                  ) -> tuple[list[tuple[tuple[str, str], str, list[int]]], list[int]] | None:
    """Each cell of the longest run as (inputs, output, its steps' indices), and the steps before the run."""
    count = len(steps)
    if not 4 <= count <= _MOST_STEPS:
        return None
    binding: dict[str, int] = {}
    sources: list[dict[str, int]] = []  # per step, the step whose binding of each name it reads
    reads = np.zeros((count, count), dtype=bool)  # [i, j]: step i reads the value step j bound
    reads_input = np.zeros(count, dtype=bool)  # step i reads a model input
    for index, step in enumerate(steps):
        sources.append({name: binding[name] for name in free_names(step.value) if name in binding})
        reads[index, list(sources[-1].values())] = True
        reads_input[index] = any(name not in binding for name in free_names(step.value))
        binding.update({name: index for name in step.bound})
    ancestors = np.zeros((count, count), dtype=bool)
    for index, read in enumerate(sources):
        ancestors[index, index] = True
        for source in set(read.values()):
            ancestors[index] |= ancestors[source]
    outputs = np.zeros((count, 1), dtype=bool)  # a model output is read by a reader after every step
    outputs[[binding[port.value.name] for port in ir.outputs if port.value.name in binding], 0] = True
    readers = np.concatenate([reads.T, outputs], axis=1).astype(np.float32)
    outside = np.concatenate([~ancestors, np.ones((count, 1), dtype=bool)], axis=1).astype(np.float32)
    exported = ancestors & ((outside @ readers.T) > 0)  # [i, j]: step j, an ancestor of i, read by a step beyond
    named = np.array([isinstance(step.target, Name) for step in steps])
    cuts = [int(i) for i in np.flatnonzero((exported.sum(axis=1) <= 2) & np.diagonal(exported) & named)]
    if len(cuts) < 3:
        return None
    held = ancestors[cuts].astype(np.float32)
    within = (held @ (1.0 - held).T) == 0  # [a, b]: the a-th cut's ancestors are all the b-th's
    sizes = ancestors[cuts].sum(axis=1)

    def cell(start: int, end: int) -> tuple[tuple[str, str], str, list[int]] | None:
        """Steps after cut ``start`` up to ``end`` as a cell: they read both values flowing on at ``start`` and
        nothing else from before, and after ``end`` no other value flows on."""
        flows_in = exported[start]
        flows_out = exported[end].copy()
        flows_out[end] = False
        if (flows_out & ~flows_in).any():
            return None
        region = ancestors[end] & ~ancestors[start]
        if reads_input[region].any() or not np.array_equal(reads[region].any(axis=0) & ~region, flows_in):
            return None  # it reads one of them only, or something else from before
        other = next(int(j) for j in np.flatnonzero(flows_in) if j != start)
        x, p = _target(steps[start]), _target(steps[other])  # the last cell's output, then the one beside it
        return (x, p), _target(steps[end]), [int(i) for i in np.flatnonzero(region)]

    two = (exported[cuts].sum(axis=1) == 2) & np.array([named[exported[c]].all() for c in cuts])
    at_cut = np.array(cuts)
    longest: dict[int, tuple[int, int]] = {}  # a cut → (cells of the longest chain ending there, the cut before)
    made: dict[tuple[int, int], tuple[tuple[str, str], str, list[int]]] = {}
    for b in sorted(range(len(cuts)), key=lambda k: int(sizes[k])):
        end = cuts[b]
        handed = [int(j) for j in np.flatnonzero(exported[end]) if j != end]  # what flows on beside the output
        candidates = within[:, b] & (sizes < sizes[b]) & two
        if handed:
            candidates &= exported[cuts, handed[0]]  # the cell before hands it on too
        else:  # where one value alone flows on, only a chain found already ends
            candidates &= np.isin(at_cut, list(longest))
        for a in np.flatnonzero(candidates):
            start = cuts[int(a)]
            if (found := cell(start, end)) is not None:
                made[(start, end)] = found
                count = longest.get(start, (0, -1))[0] + 1
                if count > longest.get(end, (0, -1))[0]:
                    longest[end] = (count, start)
    if not longest:
        return None
    end = max(longest, key=lambda e: (longest[e][0], -int(ancestors[e].sum())))  # of the longest, the shortest
    ends = [end]
    while ends[-1] in longest:
        ends.append(longest[ends[-1]][1])
    ends.reverse()  # the cut before the first cell, then each cell's end
    cells = [made[pair] for pair in pairwise(ends)]
    merged: list[tuple[tuple[str, str], str, list[int]]] = []
    for (start, end), found in zip(pairwise(ends), cells, strict=True):
        if merged and not exported[end, start] and not any(ordered_calls(steps[i].value) for i in found[2]):
            inputs, _, region = merged.pop()  # a merge alone (a cell's last sum) ends the cell before
            found = (inputs, found[1], region + found[2])
        merged.append(found)
    if len(merged) < _FEWEST_IN_A_ROW:
        return None
    return merged, [int(i) for i in np.flatnonzero(ancestors[ends[0]])]


def _target(step: Step) -> str:
    assert isinstance(step.target, Name)
    return step.target.id


def _same_reads(before: list[Step], after: list[Step]) -> bool:
    """Whether every read in ``after`` sees the binding it saw in ``before``."""
    def seen(steps: list[Step]) -> dict[int, list[int | None]]:
        binding: dict[str, int] = {}
        found: dict[int, list[int | None]] = {}
        for step in steps:
            found[id(step)] = [binding.get(name) for name in free_names(step.value)]
            binding.update({name: id(step) for name in step.bound})
        return found

    return seen(before) == seen(after)
