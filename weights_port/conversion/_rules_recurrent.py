"""Converting LSTM, GRU, SimpleRNN (plain, CuDNN and Bidirectional), RNN(cell) and ConvLSTM into PyTorch modules.

Where ``torch.nn`` computes exactly what Keras computes (tanh activation, sigmoid gates,
GRU with ``reset_after=True``) the fused ``nn.LSTM`` / ``nn.GRU`` / ``nn.RNN`` is emitted
with ``batch_first=True`` and the porter's own weight rule. Otherwise (Keras 2's default
``hard_sigmoid`` gates, another activation, a GRU that resets before the recurrent
matmul) the runtime's ``RecurrentLoop`` (same parameter names, a Python time loop).
``RNN(cell)`` of an LSTMCell / GRUCell / SimpleRNNCell converts as the layer the cell
makes; of a ``StackedRNNCells``, as one such module per cell, each reading the one
before's sequence. ``ConvLSTM1D/2D/3D`` become the runtime's ``ConvLSTM``.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping
from typing import Any

import numpy as np

from .._errors import ConfigValueError
from .._padding import window_output
from ..porting import RuleContext, RuleMismatch, TorchTarget, conv_lstm_to_torch
from ..readers import KerasLayer
from ._emitter import Emitter, refuse
from ._graph import Layer, Op
from ._ir import Attr, Expr, Value, compare, nn, torch
from ._settings import Settings, check_layer_config, shown
from ._table import ConvertRule, activation_name

__all__ = ["RECURRENT_RULES"]

_KIND = {"LSTM": "LSTM", "CuDNNLSTM": "LSTM", "GRU": "GRU", "CuDNNGRU": "GRU", "SimpleRNN": "RNN"}
_LOOP_ACTIVATIONS = ("tanh", "sigmoid", "relu", "linear", "hard_sigmoid", "hard_sigmoid_keras2")
_MERGE_MODES = ("concat", "sum", "mul", "ave")


def _recurrent(op: Op, inputs: list[Value], em: Emitter) -> list[Value]:
    layer, x = op.layer, em.to_layout(inputs[0], "keras")
    if x.rank != 3:
        raise refuse(layer, f"reads a tensor of rank {x.rank}", "recurrent layers take (batch, time, features)")
    bidirectional = layer.class_name == "Bidirectional"
    if bidirectional:
        wrapped = layer.config.get("layer")
        if not isinstance(wrapped, Mapping) or not isinstance(wrapped.get("class_name"), str) or \
                not isinstance(wrapped.get("config", {}), Mapping):
            raise Settings(layer).error("layer", wrapped, "a recurrent layer's config")
        _check_backward_layer(layer, wrapped)
        inner_class, config = wrapped["class_name"].rsplit(">", 1)[-1], dict(wrapped.get("config") or {})
        check_layer_config(Layer(layer.name, inner_class, config, layer.module), em.keras_major)
    else:
        inner_class, config = layer.class_name, dict(layer.config)
    port_layer = layer
    if inner_class == "RNN":
        cells = _cells(layer, config, em)
        if len(cells) > 1:
            if bidirectional:
                raise refuse(layer, "wraps an RNN of StackedRNNCells", "not converted yet (an RNN of one cell is)")
            if len(inputs) > 1:
                raise refuse(layer, "starts a stack of cells from an initial_state", "not converted yet")
            return _stacked(layer, x, Settings(Layer(layer.name, "RNN", config, layer.module)), cells, em)
        inner_class, config = cells[0]
        if not bidirectional:  # the porter's rule of the layer the cell makes (an RNN of an LSTMCell is an LSTM)
            port_layer = Layer(layer.name, inner_class, config, layer.module)
    if inner_class not in _KIND:
        raise refuse(layer, f"wraps a {inner_class}", "only LSTM, GRU and SimpleRNN are converted")
    kind = _KIND[inner_class]
    s = Settings(Layer(layer.name, inner_class, config, layer.module))
    for flag in ("stateful", "time_major"):
        if s.flag(flag, False):
            raise refuse(layer, f"sets {flag}=True", "not converted")
    merge = Settings(layer).choice("merge_mode", _MERGE_MODES, "concat") if bidirectional and \
        layer.config.get("merge_mode", "concat") is not None else None
    arrays = em.arrays(layer)
    directions = 2 if bidirectional else 1
    if len(arrays) % directions or len(arrays) // directions not in (2, 3) or any(a.ndim not in (1, 2) for a in arrays):
        raise ConfigValueError(f"{layer.describe()}: its weights hold {len(arrays)} arrays of shapes "
                               f"{[a.shape for a in arrays]}; a {inner_class} holds a kernel, a recurrent kernel and "
                               "maybe a bias per direction")
    input_size, units = int(arrays[0].shape[0]), int(arrays[1].shape[0])
    s.matches("units", s.integer("units", units, minimum=1), units, "units:")
    has_bias = len(arrays) // directions == 3
    use_bias = s.flag("use_bias", has_bias)
    s.matches("use_bias", use_bias, has_bias, "a bias:")
    if x.shape[-1] is not None and x.shape[-1] != input_size:
        raise ConfigValueError(f"{layer.describe()}: its input has {x.shape[-1]} features, its kernel {input_size}")
    activation = activation_name(config.get("activation", "tanh"), em.keras_major, s.layer)
    gate = activation_name(config.get("recurrent_activation", "sigmoid"), em.keras_major, s.layer,
                           "recurrent_activation")
    if inner_class.startswith("CuDNN"):
        activation, gate = "tanh", "sigmoid"
    reset_after = _reset_after(kind, inner_class, s, arrays)
    mask = em.mask()
    fused = mask is None and ((activation == "tanh" and gate == "sigmoid" and reset_after) or
                              (kind == "RNN" and activation in ("tanh", "relu")))
    names = ("weight_ih", "weight_hh", "bias_ih", "bias_hh") if use_bias else ("weight_ih", "weight_hh")
    keys = [f"{p}_l0{suffix}" for suffix in ("", "_reverse")[:directions] for p in names]
    flags: dict[str, Any] = {"batch_first": True}
    if bidirectional:
        flags["bidirectional"] = True
    if not use_bias:
        flags["bias"] = False
    if fused:
        state = em.port(port_layer, kind, keys, attributes={"bidirectional": bidirectional})
        if kind == "RNN" and activation != "tanh":
            flags["nonlinearity"] = activation
        module = em.module(layer, getattr(nn, kind), input_size, units, **flags, state=state)
    else:
        if activation not in _LOOP_ACTIVATIONS or gate not in _LOOP_ACTIVATIONS:
            raise refuse(layer, f"uses activation {activation!r} / recurrent activation {gate!r}", "not converted yet")
        state = _loop_state(kind, arrays, directions, reset_after, units)
        loop: dict[str, Any] = {"activation": activation, "gate": gate}
        if not reset_after:
            loop["reset_after"] = False
        module = em.module(layer, em.runtime("RecurrentLoop"), kind, input_size, units, **loop,
                           **{k: v for k, v in flags.items() if k != "batch_first"}, state=state)
    hx = _initial_state(layer, kind, [em.to_layout(v, "keras") for v in inputs[1:]], directions, units)
    start = (hx,) if hx is not None else ()
    backwards = s.flag("go_backwards", False)
    source = em.let(layer.name + "_reversed", x.ref.m("flip", 1), x) if backwards else x
    if mask is None:
        return _outputs(layer, em, module(source, *start), source, kind, s, merge, bidirectional, units)
    # Keras skips masked steps: the state is carried over them; Bidirectional zeroes their outputs
    keep = em.to_layout(mask, "keras")
    keep_expr: Expr = keep.ref if keep.integer else compare(">", keep, 0.5)
    if backwards:
        keep_expr = keep_expr.m("flip", 1)
    zero = s.flag("return_sequences", False) if bidirectional else s.flag("zero_output_for_mask", False)
    call = module(source, *start, mask=keep_expr, **({"zero_output_for_mask": True} if zero else {}))
    return _outputs(layer, em, call, source, kind, s, merge, bidirectional, units, last_from_sequence=zero)


def _initial_state(layer: Layer, kind: str, states: list[Value], directions: int, units: int) -> Any:
    """``initial_state=[h, c]`` (Bidirectional: the forward direction's states, then the backward's) as PyTorch's
    ``hx``: (directions, batch, units) per state, ``(h, c)`` for an LSTM."""
    if not states:
        return None
    per = 2 if kind == "LSTM" else 1
    if len(states) != per * directions or any(v.rank != 2 or v.shape[-1] not in (None, units) for v in states):
        raise refuse(layer, f"starts from {len(states)} initial states of shapes {[v.shape for v in states]}",
                     f"a {kind} takes {per * directions} of (batch, {units})")

    def stacked(i: int) -> Expr:
        if directions == 1:
            return states[i].ref.m("unsqueeze", 0)
        return torch.stack([states[d * per + i].ref for d in range(directions)])

    return (stacked(0), stacked(1)) if kind == "LSTM" else stacked(0)


_BACKWARD_IGNORED = ("name", "go_backwards", "trainable", "seed")
_CELLS = {"LSTMCell": "LSTM", "GRUCell": "GRU", "SimpleRNNCell": "SimpleRNN"}
_SAVE_NAMES = {"LSTM": "lstm_cell", "GRU": "gru_cell", "SimpleRNN": "simple_rnn_cell"}
_RNN_SETTINGS = ("return_sequences", "return_state", "go_backwards", "stateful", "time_major", "zero_output_for_mask")


def _cells(layer: Layer, config: Mapping[str, Any], em: Emitter) -> list[tuple[str, dict[str, Any]]]:
    """``RNN(cell)``'s cells, each as the layer it equals: (LSTM / GRU / SimpleRNN, the cell's config with the
    RNN's own settings). A ``StackedRNNCells`` gives its cells in order, each reading the one before's output."""
    cell = config.get("cell")
    if not isinstance(cell, Mapping) or not isinstance(cell.get("class_name"), str) or \
            not isinstance(cell.get("config"), Mapping):
        raise Settings(Layer(layer.name, "RNN", config, layer.module)).error("cell", cell, "a cell's config")
    entries: list[Any] = [cell]
    if cell["class_name"].rsplit(">", 1)[-1] == "StackedRNNCells":
        stack = Layer(layer.name, "StackedRNNCells", dict(cell["config"]), str(cell.get("module") or ""))
        check_layer_config(stack, em.keras_major)
        if Settings(stack).flag("reverse_state_order", False):
            raise refuse(layer, "stacks its cells with reverse_state_order=True", "not converted")
        entries = cell["config"].get("cells")
        if not isinstance(entries, list) or not entries or len(entries) > 1024:
            raise Settings(stack).error("cells", entries, "a list of cell configs")
    cells = []
    for entry in entries:
        name = entry.get("class_name") if isinstance(entry, Mapping) else None
        name = name.rsplit(">", 1)[-1] if isinstance(name, str) else name
        if name not in _CELLS or not isinstance(entry.get("config"), Mapping):
            raise refuse(layer, f"runs a cell {shown(name)}",
                         "RNN converts LSTMCell, GRUCell, SimpleRNNCell and StackedRNNCells of them")
        own = dict(entry["config"])
        check_layer_config(Layer(layer.name, name, own, str(entry.get("module") or "")), em.keras_major)
        cells.append((_CELLS[name], {**own, **{k: config[k] for k in _RNN_SETTINGS if k in config}}))
    return cells


def _cell_arrays(layer: Layer, cells: list[tuple[str, dict[str, Any]]], named: Mapping[str, np.ndarray]
                 ) -> list[list[np.ndarray]]:
    """A StackedRNNCells's arrays per cell. Keras 3 files keep each cell's under its save path, the snake-cased
    class made unique in cell order ("cell/cells/lstm_cell_1/vars/0"; read back in name order); HDF5 files under the
    cell's name, in cell order."""
    counts = [3 if cfg.get("use_bias", True) is not False else 2 for _, cfg in cells]
    keys = list(named)
    if len(keys) != sum(counts):
        raise ConfigValueError(f"{layer.describe()}: its weights hold {len(keys)} arrays; its {len(cells)} cells hold "
                               f"{sum(counts)} (a kernel, a recurrent kernel and maybe a bias each)")
    keras3 = bool(keys) and all("/vars/" in k for k in keys)
    if keras3:
        seen: dict[str, int] = {}
        names: list[Any] = []
        for inner_class, _ in cells:
            base = _SAVE_NAMES[inner_class]
            names.append(base if not seen.get(base) else f"{base}_{seen[base]}")
            seen[base] = seen.get(base, 0) + 1
    else:
        names = [cfg.get("name") for _, cfg in cells]
    owned = [[k for k in keys if isinstance(name, str) and name in k.split("/")] for name in names]
    if [len(o) for o in owned] == counts and len({k for o in owned for k in o}) == len(keys):
        return [[named[k] for k in o] for o in owned]
    if keras3:
        raise ConfigValueError(f"{layer.describe()}: its arrays {keys[:4]}... are not saved under its cells' paths "
                               f"{names[:4]}")
    starts = np.cumsum([0, *counts])
    return [[named[k] for k in keys[a:b]] for a, b in itertools.pairwise(starts)]


def _stacked(layer: Layer, x: Value, s: Settings, cells: list[tuple[str, dict[str, Any]]], em: Emitter) -> list[Value]:
    """``RNN(StackedRNNCells([...]))``: Keras steps the cells together, each reading the one below's new output;
    that is the cells run one after the other over the whole sequence, each a layer returning sequences (a masked
    step keeps every cell's state). States come out cell by cell, (h, c) for an LSTM cell."""
    for flag in ("stateful", "time_major"):
        if s.flag(flag, False):
            raise refuse(layer, f"sets {flag}=True", "not converted")
    groups = _cell_arrays(layer, cells, em.named_arrays(layer))
    backwards = s.flag("go_backwards", False)
    source = em.let(layer.name + "_reversed", x.ref.m("flip", 1), x) if backwards else x
    mask = em.mask()
    keep_expr: Expr | None = None
    if mask is not None:
        keep = em.to_layout(mask, "keras")
        keep_expr = keep.ref if keep.integer else compare(">", keep, 0.5)
        if backwards:
            keep_expr = keep_expr.m("flip", 1)
    zero = keep_expr is not None and s.flag("zero_output_for_mask", False)
    batch, steps = x.shape[0], x.shape[1]
    sequence, finals = source, []
    for index, ((inner_class, config), arrays) in enumerate(zip(cells, groups, strict=True)):
        kind = _KIND[inner_class]
        cell = Layer(layer.name, inner_class, config, layer.module)
        module, units = _cell_module(cell, kind, arrays, sequence.shape[-1], keep_expr is not None, em, f"cell{index}")
        last = index == len(cells) - 1
        kwargs: dict[str, Any] = {} if keep_expr is None else {"mask": keep_expr}
        if zero and last:
            kwargs["zero_output_for_mask"] = True
        hint = layer.name if last else f"{layer.name}_cell{index}"
        names = em.unpack(module(sequence.ref, **kwargs), [hint, [hint + "_h", hint + "_c"] if kind == "LSTM" else
                                                         hint + "_h"])
        sequence = Value(names[0], (batch, steps, units))
        finals.append((names[1][0], names[1][1], units) if kind == "LSTM" else (names[1], None, units))
    h_last, _, units = finals[-1]
    vector = Value(h_last, (batch, units))
    outputs: list[Value] = []
    if s.flag("return_sequences", False):
        outputs.append(sequence)
    elif zero:  # zeroed masked outputs: Keras's last output is the last step's, zero if masked
        outputs.append(em.let(layer.name + "_last", sequence.ref[:, -1], vector))
    else:
        outputs.append(em.let(layer.name + "_last", vector.ref[0], vector))
    if s.flag("return_state", False):
        for h_n, c_n, width in finals:
            state = Value(h_n, (batch, width))
            outputs.append(em.let(layer.name + "_state_h", state.ref[0], state))
            if c_n is not None:
                outputs.append(em.let(layer.name + "_state_c", Value(c_n, state.shape).ref[0], state))
    return outputs


def _cell_module(cell: Layer, kind: str, arrays: list[np.ndarray], features: int | None, masked: bool, em: Emitter,
                 suffix: str) -> tuple[Attr, int]:
    """One cell of a stack as its own module: fused ``nn.LSTM``/``GRU``/``RNN`` where exact, else a RecurrentLoop;
    parameters by the porter's cell layout change (``cell_to_torch_arrays``)."""
    if len(arrays) not in (2, 3) or any(a.ndim not in (1, 2) for a in arrays) or arrays[1].ndim != 2:
        raise ConfigValueError(f"{cell.describe()}: a cell holds a kernel, a recurrent kernel and maybe a bias, "
                               f"found shapes {[a.shape for a in arrays]}")
    s = Settings(cell)
    input_size, units = int(arrays[0].shape[0]), int(arrays[1].shape[0])
    s.matches("units", s.integer("units", units, minimum=1), units, "units:")
    use_bias = len(arrays) == 3
    s.matches("use_bias", s.flag("use_bias", use_bias), use_bias, "a bias:")
    if features is not None and features != input_size:
        raise ConfigValueError(f"{cell.describe()}: its cell reads {features} features, its kernel {input_size}")
    activation = activation_name(cell.config.get("activation", "tanh"), em.keras_major, cell)
    gate = activation_name(cell.config.get("recurrent_activation", "sigmoid"), em.keras_major, cell,
                           "recurrent_activation")
    reset_after = _reset_after(kind, cell.class_name, s, arrays)
    fused = not masked and ((activation == "tanh" and gate == "sigmoid" and reset_after) or
                            (kind == "RNN" and activation in ("tanh", "relu")))
    state = _loop_state(kind, arrays, 1, reset_after, units)
    flags: dict[str, Any] = {} if use_bias else {"bias": False}
    if fused:
        if kind == "RNN" and activation != "tanh":
            flags["nonlinearity"] = activation
        return em.module(cell, getattr(nn, kind), input_size, units, batch_first=True, **flags, state=state,
                         suffix=suffix), units
    if activation not in _LOOP_ACTIVATIONS or gate not in _LOOP_ACTIVATIONS:
        raise refuse(cell, f"uses activation {activation!r} / recurrent activation {gate!r}", "not converted yet")
    loop: dict[str, Any] = {"activation": activation, "gate": gate, **({} if reset_after else {"reset_after": False})}
    return em.module(cell, em.runtime("RecurrentLoop"), kind, input_size, units, **loop, **flags, state=state,
                     suffix=suffix), units


def _check_backward_layer(layer: Layer, forward: Mapping[str, Any]) -> None:
    """Keras 3 records the backward layer it made itself (the forward one, going backwards): that converts;
    a backward layer of another kind or with other settings is refused, naming what differs."""
    backward = layer.config.get("backward_layer")
    if backward is None:
        return
    if not isinstance(backward, Mapping) or not isinstance(backward.get("config"), Mapping):
        raise Settings(layer).error("backward_layer", backward, "a recurrent layer's config")
    ours, theirs = dict(forward.get("config") or {}), dict(backward["config"])
    differs = sorted(k for k in set(ours) | set(theirs) if k not in _BACKWARD_IGNORED and ours.get(k) != theirs.get(k)
                     and not k.endswith(("_initializer", "_regularizer", "_constraint")))
    if backward.get("class_name") != forward.get("class_name"):
        differs.insert(0, "class")
    if differs or theirs.get("go_backwards") is not True:
        what = ", ".join(differs) if differs else "go_backwards"
        raise refuse(layer, f"has a backward_layer that is not its forward layer run backwards (differs in {what})",
                     "not converted yet")


def _reset_after(kind: str, inner_class: str, s: Settings, arrays: list[np.ndarray]) -> bool:
    if kind != "GRU" or inner_class == "CuDNNGRU":
        return True
    if s.has("reset_after"):
        return s.flag("reset_after")
    return len(arrays) < 3 or arrays[2].ndim == 2


def _loop_state(kind: str, arrays: list[np.ndarray], directions: int, reset_after: bool,
                units: int) -> dict[str, np.ndarray]:
    """Keras arrays → the loop module's PyTorch-named parameters (gates in PyTorch order)."""
    from ..porting import RuleMismatch, cell_to_torch_arrays

    half = len(arrays) // directions
    state: dict[str, np.ndarray] = {}
    for index, suffix in enumerate(("", "_reverse")[:directions]):
        part = arrays[index * half:(index + 1) * half]
        try:
            state.update(cell_to_torch_arrays(kind, part, suffix, units, allow_reset_before=not reset_after))
        except RuleMismatch as exc:
            raise ConfigValueError(f"Keras {kind} weights: {exc}") from None
    return state


def _outputs(layer: Layer, em: Emitter, call: Expr, x: Value, kind: str, s: Settings, merge: str | None,
             bidirectional: bool, units: int, last_from_sequence: bool = False) -> list[Value]:
    hints: list[Any] = [layer.name, [layer.name + "_h", layer.name + "_c"] if kind == "LSTM" else layer.name + "_h"]
    names = em.unpack(call, hints)
    sequence = names[0]
    h_n = names[1][0] if kind == "LSTM" else names[1]
    c_n = names[1][1] if kind == "LSTM" else None
    batch, steps = x.shape[0], x.shape[1]
    width = 2 * units if bidirectional and merge == "concat" else units
    seq_value = Value(sequence, (batch, steps, 2 * units if bidirectional else units))
    vector = Value(sequence, (batch, units))
    directions = 2 if bidirectional else 1
    h_ref = Value(h_n, (directions, batch, units)).ref
    outputs: list[Value] = []
    if s.flag("return_sequences", False):
        if bidirectional and merge != "concat":
            outputs += _merged_halves(em, layer.name, seq_value.ref, merge, (batch, steps, units), units)
        else:
            outputs.append(seq_value.with_(shape=(batch, steps, width)))
    elif bidirectional:
        if merge == "concat":
            outputs.append(em.let(layer.name + "_last", torch.cat([h_ref[0], h_ref[1]], dim=1),
                                  vector.with_(shape=(batch, width))))
        elif merge is None:
            outputs += [em.let(layer.name + "_forward", h_ref[0], vector), em.let(layer.name + "_backward", h_ref[1],
                                                                                  vector)]
        else:
            outputs.append(em.let(layer.name + "_last", _merged(merge, h_ref[0], h_ref[1]), vector))
    elif last_from_sequence:  # zeroed masked outputs: Keras's last output is the last step's, zero if masked
        outputs.append(em.let(layer.name + "_last", seq_value.ref[:, -1], vector))
    else:
        outputs.append(em.let(layer.name + "_last", h_ref[0], vector))
    if s.flag("return_state", False):
        for direction in range(directions):
            outputs.append(em.let(layer.name + "_state_h", h_ref[direction], vector))
            if c_n:
                outputs.append(em.let(layer.name + "_state_c", Value(c_n, vector.shape).ref[direction], vector))
    return outputs


def _merged(merge: str, forward: Expr, backward: Expr) -> Expr:
    if merge == "sum":
        return forward + backward
    if merge == "mul":
        return forward * backward
    return (forward + backward) / 2


def _merged_halves(em: Emitter, name: str, sequence: Expr, merge: str | None, shape: tuple[int | None, ...],
                   units: int) -> list[Value]:
    forward, backward = sequence[..., :units], sequence[..., units:]
    like = Value("merged", shape)
    if merge is None:
        return [em.let(name + "_forward", forward, like), em.let(name + "_backward", backward, like)]
    return [em.let(name + "_merged", _merged(merge, forward, backward), like)]


def _sequence_mask(op: Op, masks: list[Value | None], outputs: list[Value], em: Emitter) -> list[Value | None]:
    """Keras passes the mask on with the sequence (``return_sequences``); states and last outputs have none."""
    layer = op.layer
    config = layer.config.get("layer", {}).get("config", {}) if layer.class_name == "Bidirectional" else layer.config
    sequences = isinstance(config, Mapping) and config.get("return_sequences") is True
    first = next((m for m in masks if m is not None), None)
    merged = layer.class_name == "Bidirectional" and layer.config.get("merge_mode", "concat") is None
    return [first if sequences else None] * (2 if merged and sequences else 1) + \
        [None] * (len(outputs) - (2 if merged and sequences else 1))


# --------------------------------------------------------------------------- ConvLSTM


def _conv_lstm(op: Op, inputs: list[Value], em: Emitter) -> list[Value]:
    layer, s = op.layer, Settings(op.layer)
    n = int(layer.class_name[-2])
    for flag in ("stateful", "time_major"):
        if s.flag(flag, False):
            raise refuse(layer, f"sets {flag}=True", "not converted")
    channels_first = s.choice("data_format", ("channels_last", "channels_first"), "channels_last",
                              nullable=True) == "channels_first"
    x = em.to_layout(inputs[0], "keras" if channels_first else "cf")
    if len(inputs) > 1:
        raise refuse(layer, "starts from an initial_state", "not converted yet")
    if x.rank != n + 3:
        raise refuse(layer, f"reads a tensor of rank {x.rank}", f"a ConvLSTM{n}D takes (batch, time, {n} spatial axes, "
                     "channels)")
    arrays = em.arrays(layer)
    if len(arrays) not in (2, 3) or arrays[0].ndim != n + 2:
        raise ConfigValueError(f"{layer.describe()}: its weights hold arrays of shapes {[a.shape for a in arrays]}; "
                               f"a ConvLSTM{n}D holds a {n + 2}-D kernel, a recurrent kernel and maybe a bias")
    kernel_shape = tuple(int(d) for d in arrays[0].shape)
    kernel = s.ints("kernel_size", n, kernel_shape[:n])
    s.matches("kernel_size", kernel, kernel_shape[:n], "a kernel of size")
    strides, dilation = s.ints("strides", n, 1), s.ints("dilation_rate", n, 1)
    if max(strides) > 1 and max(dilation) > 1:
        raise ConfigValueError(f"{layer.describe()}: config 'strides' {shown(s.raw('strides'))} and 'dilation_rate' "
                               f"{shown(s.raw('dilation_rate'))} are both above 1, which Keras does not allow")
    padding = s.choice("padding", ("valid", "same"), "valid")
    in_channels, filters = kernel_shape[n], kernel_shape[n + 1] // 4
    s.matches("filters", s.integer("filters", filters, minimum=1), filters, "filters:")
    use_bias = len(arrays) == 3
    s.matches("use_bias", s.flag("use_bias", use_bias), use_bias, "a bias:")
    activation = activation_name(layer.config.get("activation", "tanh"), em.keras_major, layer)
    default_gate = "hard_sigmoid" if em.keras_major < 3 else "sigmoid"
    gate = activation_name(layer.config.get("recurrent_activation", default_gate), em.keras_major, layer,
                           "recurrent_activation")
    if activation not in _LOOP_ACTIVATIONS or gate not in _LOOP_ACTIVATIONS:
        raise refuse(layer, f"uses activation {activation!r} / recurrent activation {gate!r}", "not converted yet")
    batch, steps = x.shape[0], x.shape[1]
    if channels_first:  # Keras's (N, T, C, *S), held as is: time and channels swapped, it is a (N, T, *S, C) held cf
        spatial = x.shape[3:]
        x = em.let(layer.name + "_channels", x.ref.m("transpose", 1, 2), x, shape=(batch, steps, *spatial, x.shape[2]),
                   layout="cf")
    else:
        spatial = x.shape[2:-1]
    if x.shape[-1] is not None and x.shape[-1] != in_channels:
        raise ConfigValueError(f"{layer.describe()}: its input has {x.shape[-1]} channels, its kernel {in_channels}")
    try:
        state = conv_lstm_to_torch(arrays, RuleContext(KerasLayer(layer.name, layer.class_name, layer.config, ()),
                                                        TorchTarget(layer.name, "ConvLSTM", {})))
    except RuleMismatch as exc:
        raise ConfigValueError(f"{layer.describe()}: {exc}") from None
    settings: dict[str, Any] = {}
    if max(strides) > 1:
        settings["stride"] = strides
    if padding != "valid":
        settings["padding"] = padding
    if max(dilation) > 1:
        settings["dilation"] = dilation
    if not use_bias:
        settings["bias"] = False
    if activation != "tanh":
        settings["activation"] = activation
    if gate != "sigmoid":
        settings["gate"] = gate
    module = em.module(layer, em.runtime("ConvLSTM"), in_channels, filters, kernel, **settings, state=state)
    if s.flag("go_backwards", False):
        x = em.let(layer.name + "_reversed", x.ref.m("flip", 2), x)
    names = em.unpack(module(x.ref), [layer.name, [layer.name + "_h", layer.name + "_c"]])
    out_spatial = tuple(window_output(size, k, st, d, padding)
                        for size, k, st, d in zip(spatial, kernel, strides, dilation, strict=True))
    sequence = Value(names[0], (batch, steps, *out_spatial, filters), "cf")
    h, c = (Value(name, (batch, *out_spatial, filters), "cf") for name in names[1])
    if channels_first:  # back to Keras's (N, T, F, *S') and (N, F, *S'), held as is
        sequence = em.let(layer.name + "_sequence", sequence.ref.m("transpose", 1, 2), sequence,
                          shape=(batch, steps, filters, *out_spatial), layout="keras")
        h, c = (v.with_(shape=(batch, filters, *out_spatial), layout="keras") for v in (h, c))
    outputs = [sequence if s.flag("return_sequences", False) else h]
    return outputs + ([h, c] if s.flag("return_state", False) else [])


RECURRENT_RULES = [*(ConvertRule(name, _recurrent, "keras", name, masks=True, compute_mask=_sequence_mask)
                     for name in ("LSTM", "GRU", "SimpleRNN", "Bidirectional", "CuDNNLSTM", "CuDNNGRU", "RNN")),
                   *(ConvertRule(f"ConvLSTM{n}D", _conv_lstm, "cf", None, doc="runtime ConvLSTM; weights by the "
                                 "porter's ConvLSTM rule") for n in (1, 2, 3))]
