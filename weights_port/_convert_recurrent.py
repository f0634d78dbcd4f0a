"""Converting LSTM, GRU, SimpleRNN (plain, CuDNN and Bidirectional) into PyTorch modules.

Where ``torch.nn`` computes exactly what Keras computes (tanh activation, sigmoid gates,
GRU with ``reset_after=True``) the fused ``nn.LSTM`` / ``nn.GRU`` / ``nn.RNN`` is emitted
with ``batch_first=True`` and the porter's own weight rule. Otherwise (Keras 2's default
``hard_sigmoid`` gates, another activation, a GRU that resets before the recurrent
matmul) a small time-loop module with the same parameter names is written into the file.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from ._codegen import Emitter, Value, refuse
from ._convert_rules import activation_name
from ._graph import Op

__all__ = ["emit_recurrent"]

_KIND = {"LSTM": "LSTM", "CuDNNLSTM": "LSTM", "GRU": "GRU", "CuDNNGRU": "GRU", "SimpleRNN": "RNN"}
_GATE_FUNCTIONS = '''def activation_function(name: str):
    """A Keras recurrent activation by name; Keras 2's hard sigmoid is clip(0.2x + 0.5)."""
    if name == "hard_sigmoid_keras2":
        return lambda x: torch.clamp(0.2 * x + 0.5, 0.0, 1.0)
    functions = {"tanh": torch.tanh, "sigmoid": torch.sigmoid, "relu": torch.relu, "hard_sigmoid": F.hardsigmoid}
    return functions.get(name, lambda x: x)
'''
_LOOP_HELPER = '''class RecurrentLoop(nn.Module):
    """One Keras recurrent layer stepped through time, for what the fused torch.nn kernels
    cannot compute (other gate activations, a GRU that resets before its recurrent matmul).
    Parameters are named like torch.nn.LSTM/GRU/RNN's; gates in PyTorch's order."""

    def __init__(self, kind: str, input_size: int, hidden_size: int, activation: str, gate: str,
                 reset_after: bool = True, bidirectional: bool = False) -> None:
        super().__init__()
        self.kind, self.hidden_size, self.reset_after = kind, hidden_size, reset_after
        self.activation, self.gate = activation_function(activation), activation_function(gate)
        gates = {"LSTM": 4, "GRU": 3, "RNN": 1}[kind] * hidden_size
        self.suffixes = ["", "_reverse"] if bidirectional else [""]
        for suffix in self.suffixes:
            self.register_parameter(f"weight_ih_l0{suffix}", nn.Parameter(torch.empty(gates, input_size)))
            self.register_parameter(f"weight_hh_l0{suffix}", nn.Parameter(torch.empty(gates, hidden_size)))
            self.register_parameter(f"bias_ih_l0{suffix}", nn.Parameter(torch.zeros(gates)))
            self.register_parameter(f"bias_hh_l0{suffix}", nn.Parameter(torch.zeros(gates)))

    def step(self, x: torch.Tensor, h: torch.Tensor, c: torch.Tensor, suffix: str) -> tuple[torch.Tensor, torch.Tensor]:
        inputs = x @ getattr(self, f"weight_ih_l0{suffix}").T + getattr(self, f"bias_ih_l0{suffix}")
        w_hh, b_hh = getattr(self, f"weight_hh_l0{suffix}"), getattr(self, f"bias_hh_l0{suffix}")
        if self.kind == "LSTM":
            i, f, g, o = (inputs + h @ w_hh.T + b_hh).chunk(4, dim=1)
            c = self.gate(f) * c + self.gate(i) * self.activation(g)
            return self.gate(o) * self.activation(c), c
        if self.kind == "RNN":
            return self.activation(inputs + h @ w_hh.T + b_hh), c
        x_r, x_z, x_n = inputs.chunk(3, dim=1)
        w_r, w_z, w_n = w_hh.chunk(3, dim=0)
        b_r, b_z, b_n = b_hh.chunk(3)
        r = self.gate(x_r + h @ w_r.T + b_r)
        z = self.gate(x_z + h @ w_z.T + b_z)
        recurrent = r * (h @ w_n.T + b_n) if self.reset_after else (r * h) @ w_n.T + b_n
        return z * h + (1 - z) * self.activation(x_n + recurrent), c

    def forward(
        self, x: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor | tuple[torch.Tensor, torch.Tensor]]:
        """Like torch.nn's: (sequence, h_n) for GRU and RNN, (sequence, (h_n, c_n)) for LSTM."""
        outputs, finals_h, finals_c = [], [], []
        for direction, suffix in enumerate(self.suffixes):
            steps = x if direction == 0 else x.flip(1)
            h = c = x.new_zeros(x.shape[0], self.hidden_size)
            sequence = []
            for t in range(steps.shape[1]):
                h, c = self.step(steps[:, t], h, c, suffix)
                sequence.append(h)
            out = torch.stack(sequence, dim=1)
            outputs.append(out if direction == 0 else out.flip(1))
            finals_h.append(h)
            finals_c.append(c)
        sequence_out, h_n = torch.cat(outputs, dim=-1), torch.stack(finals_h)
        if self.kind == "LSTM":
            return sequence_out, (h_n, torch.stack(finals_c))
        return sequence_out, h_n
'''


def emit_recurrent(op: Op, inputs: list[Value], em: Emitter) -> list[Value]:
    layer, x = op.layer, inputs[0]
    bidirectional = layer.class_name == "Bidirectional"
    inner: Mapping[str, Any] = layer.config.get("layer", {}) if bidirectional else \
        {"class_name": layer.class_name, "config": layer.config}
    inner_class = str(inner.get("class_name", "")).rsplit(">", 1)[-1]
    config: dict[str, Any] = dict(inner.get("config") or {})
    if inner_class not in _KIND:
        raise refuse(layer, f"wraps a {inner_class}", "only LSTM, GRU and SimpleRNN are converted")
    kind = _KIND[inner_class]
    for flag in ("stateful", "time_major"):
        if config.get(flag):
            raise refuse(layer, f"sets {flag}=True", "not converted")
    arrays = em.arrays(layer)
    input_size, units = int(arrays[0].shape[0]), int(config.get("units") or arrays[1].shape[0])
    activation = activation_name(config.get("activation", "tanh"), em.keras_major)
    gate = activation_name(config.get("recurrent_activation", "sigmoid"), em.keras_major)
    if inner_class.startswith("CuDNN"):
        activation, gate = "tanh", "sigmoid"
    reset_after = _reset_after(kind, inner_class, config, arrays)
    fused = (activation == "tanh" and gate == "sigmoid" and reset_after) or (kind == "RNN" and activation in ("tanh", "relu"))
    directions = 2 if bidirectional else 1
    keys = [f"{p}_l0{s}" for s in ("", "_reverse")[:directions] for p in ("weight_ih", "weight_hh", "bias_ih", "bias_hh")]
    if fused:
        state = em.port(layer, kind, keys, attributes={"bidirectional": bidirectional})
        args = [str(input_size), str(units), "batch_first=True"]
        args += ["bidirectional=True"] if bidirectional else []
        args += [f"nonlinearity=\"{activation}\""] if kind == "RNN" and activation != "tanh" else []
        module = em.module(layer, f"nn.{kind}({', '.join(args)})", state)
    else:
        state = _loop_state(kind, arrays, directions, reset_after, units)
        if activation not in ("tanh", "sigmoid", "relu", "linear", "hard_sigmoid", "hard_sigmoid_keras2") or \
                gate not in ("sigmoid", "hard_sigmoid", "hard_sigmoid_keras2", "tanh", "linear", "relu"):
            raise refuse(layer, f"uses activation {activation!r} / recurrent activation {gate!r}", "not converted yet")
        em.helper(_GATE_FUNCTIONS)
        em.helper(_LOOP_HELPER)
        args = [f"\"{kind}\"", str(input_size), str(units), f"activation=\"{activation}\"", f"gate=\"{gate}\""]
        args += [] if reset_after else ["reset_after=False"]
        args += ["bidirectional=True"] if bidirectional else []
        module = em.module(layer, f"RecurrentLoop({', '.join(args)})", state)
    source = em.let(layer.name + "_reversed", f"{x.name}.flip(1)", x) if config.get("go_backwards") else x
    return _outputs(op, em, module, source, kind, config, bidirectional, units)


def _reset_after(kind: str, inner_class: str, config: dict[str, Any], arrays: list[np.ndarray]) -> bool:
    if kind != "GRU" or inner_class == "CuDNNGRU":
        return True
    flag = config.get("reset_after")
    return bool(flag) if flag is not None else (len(arrays) < 3 or arrays[2].ndim == 2)


def _loop_state(kind: str, arrays: list[np.ndarray], directions: int, reset_after: bool,
                units: int) -> dict[str, np.ndarray]:
    """Keras arrays → the loop module's PyTorch-named parameters (gates in PyTorch order)."""
    from ._layers_recurrent import cell_to_torch_arrays

    half = len(arrays) // directions
    state = {}
    for index, suffix in enumerate(("", "_reverse")[:directions]):
        part = arrays[index * half:(index + 1) * half]
        state.update(cell_to_torch_arrays(kind, part, suffix, units, allow_reset_before=not reset_after))
    return state


def _outputs(op: Op, em: Emitter, module: str, x: Value, kind: str, config: dict[str, Any], bidirectional: bool,
             units: int) -> list[Value]:
    layer = op.layer
    merge = layer.config.get("merge_mode", "concat") if bidirectional else None
    width = 2 * units if bidirectional and merge == "concat" else units
    sequence = em.fresh(layer.name)
    h_n = em.fresh(layer.name + "_h")
    state = f"({h_n}, {em.fresh(layer.name + '_c')})" if kind == "LSTM" else h_n
    em.forward_lines.append(f"{sequence}, {state} = {module}({x.name})")
    c_n = state[1:-1].split(", ")[1] if kind == "LSTM" else None
    steps = x.shape[1]
    seq_value = Value(sequence, (x.shape[0], steps, 2 * units if bidirectional else units))
    vec = Value(sequence, (x.shape[0], width))
    outputs: list[Value] = []
    if config.get("return_sequences"):
        if bidirectional and merge != "concat":
            outputs += _merged_halves(em, layer.name, sequence, merge, (x.shape[0], steps, units), units)
        else:
            outputs.append(replace_shape(seq_value, (x.shape[0], steps, width)))
    else:
        if bidirectional:
            halves = [f"{h_n}[0]", f"{h_n}[1]"]
            if merge == "concat":
                outputs.append(em.let(layer.name + "_last", f"torch.cat([{h_n}[0], {h_n}[1]], dim=1)", vec))
            elif merge is None:
                outputs += [em.let(layer.name + "_forward", halves[0], vec, shape=(x.shape[0], units)),
                            em.let(layer.name + "_backward", halves[1], vec, shape=(x.shape[0], units))]
            else:
                outputs.append(em.let(layer.name + "_last", _merge_expr(merge, *halves), vec, shape=(x.shape[0], units)))
        else:
            outputs.append(em.let(layer.name + "_last", f"{h_n}[0]", vec, shape=(x.shape[0], units)))
    if config.get("return_state"):
        for direction in range(2 if bidirectional else 1):
            outputs.append(em.let(layer.name + "_state_h", f"{h_n}[{direction}]", vec, shape=(x.shape[0], units)))
            if c_n:
                outputs.append(em.let(layer.name + "_state_c", f"{c_n}[{direction}]", vec, shape=(x.shape[0], units)))
    return outputs


def replace_shape(value: Value, shape: tuple[int | None, ...]) -> Value:
    return Value(value.name, shape, value.layout)


def _merge_expr(merge: str, forward: str, backward: str) -> str:
    return {"sum": f"{forward} + {backward}", "mul": f"{forward} * {backward}",
            "ave": f"({forward} + {backward}) / 2"}[merge]


def _merged_halves(em: Emitter, name: str, sequence: str, merge: str | None, shape: tuple[int | None, ...],
                   units: int) -> list[Value]:
    forward, backward = f"{sequence}[..., :{units}]", f"{sequence}[..., {units}:]"
    like = Value(sequence, shape)
    if merge is None:
        return [em.let(name + "_forward", forward, like), em.let(name + "_backward", backward, like)]
    return [em.let(name + "_merged", _merge_expr(merge, forward, backward), like)]
