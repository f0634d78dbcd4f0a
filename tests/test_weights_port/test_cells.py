"""The dataflow search for cells of two inputs (``weights_port.conversion._cells``), on hand-made steps."""

from __future__ import annotations

from weights_port.conversion._cells import cells_in_order
from weights_port.conversion._ir import SELF, Attr, BinOp, Call, ModelIR, Name, Port, Step, Value


def _call(target: str, module: str, *args: str) -> Step:
    return Step(Name(target), Call(Attr(SELF, module), tuple(Name(a) for a in args)), target)


def _add(target: str, left: str, right: str) -> Step:
    return Step(Name(target), BinOp("+", Name(left), Name(right)), target)


def _model(steps: list[Step], output: str) -> ModelIR:
    return ModelIR("Model", [Port("image", Value("image", (None, 3)))], [], steps, [Port(output, Value(output, ()))])


def _nasnet_like(cells: int) -> list[Step]:
    """A stem, a first cell of one input, then cells each reading the last two outputs; as Keras orders them,
    a cell's adjustment of its second input comes amid the cell before."""
    steps = [_call("o0", "stem", "image"), _call("o1", "first", "o0")]
    for k in range(2, cells + 2):
        steps += [_call(f"h{k}", f"conv{k}", f"o{k - 1}"), _call(f"l{k}", f"left{k}", f"h{k}")]
        if k + 1 < cells + 2:  # the next cell adjusts its p (this cell's x) before this cell ends
            steps.append(_call(f"a{k + 1}", f"adjust{k + 1}", f"o{k - 1}"))
        if k == 2:
            steps.append(_call("a2", "adjust2", "o0"))
        steps += [_call(f"r{k}", f"right{k}", f"a{k}"), _add(f"o{k}", f"l{k}", f"r{k}")]
    return [*steps, _call("out", "head", f"o{cells + 1}")]


def test_cells_reading_the_last_two_outputs_are_found_and_put_together() -> None:
    steps = _nasnet_like(4)
    found = cells_in_order(_model(steps, "out"), steps)
    assert found is not None
    moved, cells = found
    assert [(cell.inputs, cell.output) for cell in cells] == [
        (("o1", "o0"), "o2"), (("o2", "o1"), "o3"), (("o3", "o2"), "o4"), (("o4", "o3"), "o5")]
    for cell in cells:  # each cell contiguous: its adjustment moved in from the cell before
        bound = {name for step in moved[cell.start:cell.end + 1] for name in step.bound}
        number = cell.output[1:]
        assert {f"h{number}", f"l{number}", f"a{number}", f"r{number}", cell.output} == bound
    assert moved[0].bound == ["o0"] and moved[-1].bound == ["out"] and sorted(map(id, moved)) == sorted(map(id, steps))


def test_a_single_input_model_has_no_cells() -> None:
    """Inception-like blocks: a branch's output and the block's input are two values flowing on, but the span
    after them is no cell of a chain (each block reads one value), so nothing is reordered."""
    steps = [_call("x0", "stem", "image")]
    for k in range(1, 4):
        steps += [_call(f"b{k}", f"branch_a{k}", f"x{k - 1}"), _call(f"c{k}", f"branch_b{k}", f"x{k - 1}"),
                  _call(f"d{k}", f"branch_c{k}", f"c{k}"), _add(f"x{k}", f"b{k}", f"d{k}")]
    steps.append(_call("out", "head", "x3"))
    assert cells_in_order(_model(steps, "out"), steps) is None


def test_a_lone_two_input_span_is_not_a_run() -> None:
    """One cell of two inputs between single-value points: fewer than two in a row, so none."""
    steps = [_call("o0", "stem", "image"), _call("o1", "first", "o0"), _call("l", "left", "o1"),
             _call("r", "right", "o0"), _add("o2", "l", "r"), _call("out", "head", "o2")]
    assert cells_in_order(_model(steps, "out"), steps) is None
