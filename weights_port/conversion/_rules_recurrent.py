"""Converting LSTM, GRU, SimpleRNN (plain, CuDNN and Bidirectional) into PyTorch modules.

Where ``torch.nn`` computes exactly what Keras computes (tanh activation, sigmoid gates,
GRU with ``reset_after=True``) the fused ``nn.LSTM`` / ``nn.GRU`` / ``nn.RNN`` is emitted
with ``batch_first=True`` and the porter's own weight rule. Otherwise (Keras 2's default
``hard_sigmoid`` gates, another activation, a GRU that resets before the recurrent
matmul) the runtime's ``RecurrentLoop`` (same parameter names, a Python time loop).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from .._errors import ConfigValueError
from ._emitter import Emitter, refuse
from ._graph import Layer, Op
from ._ir import Expr, Value, compare, nn, torch
from ._settings import Settings, check_layer_config
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
        state = em.port(layer, kind, keys, attributes={"bidirectional": bidirectional})
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
    backwards = s.flag("go_backwards", False)
    source = em.let(layer.name + "_reversed", x.ref.m("flip", 1), x) if backwards else x
    if mask is None:
        return _outputs(layer, em, module(source), source, kind, s, merge, bidirectional, units)
    # Keras skips masked steps: the state is carried over them; Bidirectional zeroes their outputs
    keep = em.to_layout(mask, "keras")
    keep_expr: Expr = keep.ref if keep.integer else compare(">", keep, 0.5)
    if backwards:
        keep_expr = keep_expr.m("flip", 1)
    zero = s.flag("return_sequences", False) if bidirectional else s.flag("zero_output_for_mask", False)
    call = module(source, mask=keep_expr, **({"zero_output_for_mask": True} if zero else {}))
    return _outputs(layer, em, call, source, kind, s, merge, bidirectional, units, last_from_sequence=zero)


_BACKWARD_IGNORED = ("name", "go_backwards", "trainable", "seed")


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
    from .._layers_recurrent import cell_to_torch_arrays
    from .._rules import RuleMismatch

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


RECURRENT_RULES = [ConvertRule(name, _recurrent, "keras", name, masks=True, compute_mask=_sequence_mask)
                   for name in ("LSTM", "GRU", "SimpleRNN", "Bidirectional", "CuDNNLSTM", "CuDNNGRU")]
