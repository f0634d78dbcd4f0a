"""Rules for recurrent layers: LSTM, GRU, SimpleRNN, and Bidirectional around them.

Keras keeps one kernel (input → gates), one recurrent kernel (state → gates) and a bias;
PyTorch keeps ``weight_ih_l0``/``weight_hh_l0`` transposed and two biases. Gate blocks:
LSTM i, f, c, o in both; GRU z, r, h in Keras against r, z, n in PyTorch.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from .._errors import UnsupportedLayerError
from ._rules import (
    Arrays,
    PortRule,
    RuleContext,
    RuleMismatch,
    State,
    flatten_rows_to_channels_first,
    flatten_rows_to_channels_last,
)

__all__ = ["GATES", "RECURRENT_RULES", "cell_to_cudnn_keras", "cell_to_torch_arrays", "conv_lstm_to_torch",
           "from_cudnn_kernels", "to_cudnn_kernels"]

GATES = {"LSTM": 4, "GRU": 3, "RNN": 1}
_KERAS_CLASS = {"LSTM": "LSTM", "GRU": "GRU", "RNN": "SimpleRNN"}
_GRU_TO_TORCH = (1, 0, 2)  # Keras (z, r, h) → PyTorch (r, z, n); the permutation is its own inverse


def _reorder_gates(array: np.ndarray, order: tuple[int, ...], axis: int = -1) -> np.ndarray:
    blocks = np.split(array, len(order), axis=axis)
    return np.concatenate([blocks[i] for i in order], axis=axis)


def _cell_to_torch(kind: str, arrays: Arrays, ctx: RuleContext, suffix: str) -> State:
    """One direction of an LSTM / GRU / SimpleRNN: [kernel, recurrent_kernel, bias?]."""
    if len(arrays) not in (2, 3) or arrays[0].ndim != 2 or arrays[1].ndim != 2:
        raise RuleMismatch(f"expected kernel, recurrent kernel and bias, found shapes {[a.shape for a in arrays]}")
    kernel = flatten_rows_to_channels_first(arrays[0], ctx.target.hints.get("flatten_from"))
    if kind == "GRU":
        _require_reset_after(ctx, arrays[2] if len(arrays) == 3 else None, arrays[1].shape[0])
    return cell_to_torch_arrays(kind, [kernel, *arrays[1:]], suffix, arrays[1].shape[0])


def from_cudnn_kernels(kernel: np.ndarray, recurrent: np.ndarray, gates: int) -> tuple[np.ndarray, np.ndarray]:
    """Keras 2's ``CuDNNLSTM``/``CuDNNGRU`` kernels in the plain layers' layout.

    cuDNN keeps each gate's input matrix as (units, in) and the layers store its row-major
    flattening in an (in, units) block, so the plain block is ``block.reshape(units, in).T``;
    each gate's recurrent block is stored transposed. tf_keras's own loader does the same
    when it loads a CuDNN file into ``LSTM``/``GRU`` (``_convert_rnn_weights``).
    """
    inputs, units = kernel.shape[0], recurrent.shape[0]
    plain = np.hstack([block.reshape(units, inputs).T for block in np.hsplit(kernel, gates)])
    return plain, np.hstack([block.T for block in np.hsplit(recurrent, gates)])


def to_cudnn_kernels(kernel: np.ndarray, recurrent: np.ndarray, gates: int) -> tuple[np.ndarray, np.ndarray]:
    """The inverse of ``from_cudnn_kernels``: plain kernels in the CuDNN layers' stored layout."""
    inputs, units = kernel.shape[0], recurrent.shape[0]
    stored = np.hstack([block.T.reshape(inputs, units) for block in np.hsplit(kernel, gates)])
    return stored, np.hstack([block.T for block in np.hsplit(recurrent, gates)])


def cell_to_torch_arrays(kind: str, arrays: Arrays, suffix: str, units: int, allow_reset_before: bool = False) -> State:
    """Keras [kernel, recurrent kernel, bias?] → PyTorch's weight_ih/hh and bias_ih/hh, gates reordered.

    Bias forms: one Keras bias (all on the input side); CuDNN's double bias (input then
    recurrent halves, ``CuDNNLSTM``/``CuDNNGRU``, whose kernels are in cuDNN's layout: the
    bias shape tells them apart, as tf_keras's loader does); a reset-after GRU's (2, 3u)
    rows; a reset-before GRU's single (3u,) bias (only for modules that compute that form).
    """
    gates = GATES[kind]
    kernel, recurrent = arrays[0], arrays[1]
    if recurrent.shape != (units, gates * units) or kernel.shape[1] != gates * units:
        raise RuleMismatch(f"a {_KERAS_CLASS[kind]} with {units} units needs {gates * units} gate columns, "
                           f"found kernel {kernel.shape} and recurrent kernel {recurrent.shape}")
    bias = arrays[2] if len(arrays) == 3 else None
    if bias is not None and bias.shape == (2 * gates * units,):
        kernel, recurrent = from_cudnn_kernels(kernel, recurrent, gates)
    if kind == "GRU":
        kernel, recurrent = _reorder_gates(kernel, _GRU_TO_TORCH), _reorder_gates(recurrent, _GRU_TO_TORCH)
    state = {f"weight_ih_l0{suffix}": kernel.T, f"weight_hh_l0{suffix}": recurrent.T}
    if bias is None:
        return state
    if bias.ndim == 1 and bias.shape[0] == 2 * gates * units:  # CuDNN: input bias, then recurrent bias
        bias = bias.reshape(2, gates * units)
    if bias.ndim == 2:  # rows: input bias, recurrent bias
        if bias.shape != (2, gates * units):
            raise RuleMismatch(f"bias shape {bias.shape} does not fit {units} units")
        rows = [_reorder_gates(row, _GRU_TO_TORCH) if kind == "GRU" else row for row in bias]
        state[f"bias_ih_l0{suffix}"], state[f"bias_hh_l0{suffix}"] = rows[0], rows[1]
        return state
    if bias.shape != (gates * units,):
        raise RuleMismatch(f"bias shape {bias.shape} does not fit {units} units")
    if kind == "GRU" and not allow_reset_before:
        raise RuleMismatch("a GRU with a single bias resets before the recurrent matmul")
    if kind == "GRU":  # reset before: the recurrent side's bias sits with the input's
        bias = _reorder_gates(bias, _GRU_TO_TORCH)
    # one Keras bias: all of it on the input side, the recurrent side zero
    state[f"bias_ih_l0{suffix}"], state[f"bias_hh_l0{suffix}"] = bias, np.zeros_like(bias)
    return state


def _require_reset_after(ctx: RuleContext, bias: np.ndarray | None, units: int) -> None:
    reset_after = ctx.config("reset_after")
    if reset_after is None and bias is not None:
        reset_after = bias.ndim == 2 or bias.shape[0] == 6 * units  # CuDNNGRU: double bias, resets after
    if reset_after is False:
        raise UnsupportedLayerError(
            f"{ctx.layer.describe()} is a GRU with reset_after=False (the Keras 2.0–2.2 default): it applies the "
            "reset gate before the recurrent matmul, which torch.nn.GRU cannot compute; retrain or re-save the "
            "Keras model with GRU(reset_after=True)"
        )


def _cell_to_keras(kind: str, state: Mapping[str, np.ndarray], ctx: RuleContext, suffix: str) -> list[np.ndarray]:
    kernel = flatten_rows_to_channels_last(state[f"weight_ih_l0{suffix}"].T, ctx.target.hints.get("flatten_from"))
    recurrent = state[f"weight_hh_l0{suffix}"].T
    bias_ih, bias_hh = state.get(f"bias_ih_l0{suffix}"), state.get(f"bias_hh_l0{suffix}")
    if kind == "GRU":
        kernel, recurrent = _reorder_gates(kernel, _GRU_TO_TORCH), _reorder_gates(recurrent, _GRU_TO_TORCH)
        if bias_ih is None or bias_hh is None:
            return [kernel, recurrent]
        return [kernel, recurrent, _reorder_gates(np.stack([bias_ih, bias_hh]), _GRU_TO_TORCH)]
    if bias_ih is None or bias_hh is None:
        return [kernel, recurrent]
    return [kernel, recurrent, bias_ih + bias_hh]


def _activation_settings(kind: str, config: Mapping[str, Any] | None, ctx: RuleContext) -> dict[str, Any]:
    """Check the activations the PyTorch module can compute; name the one it must switch to."""
    if not config:
        return {}
    activation = _name(config.get("activation", "tanh"))
    if kind == "RNN":
        if activation not in ("tanh", "relu"):
            raise UnsupportedLayerError(f"{ctx.layer.describe()} uses activation {activation!r}; "
                                        "torch.nn.RNN computes only 'tanh' or 'relu'")
        return {"nonlinearity": activation}
    if activation != "tanh":
        raise UnsupportedLayerError(f"{ctx.layer.describe()} uses activation {activation!r}; torch.nn.{kind} "
                                    "computes only 'tanh' (recurrent_activation may differ)")
    gate = _name(config.get("recurrent_activation", "sigmoid"))
    if gate == "hard_sigmoid" and ctx.keras_major < 3:
        gate = "hard_sigmoid_keras2"  # Keras 2 defined it as clip(0.2·x + 0.5, 0, 1)
    if gate not in ("sigmoid", "hard_sigmoid", "hard_sigmoid_keras2"):
        raise UnsupportedLayerError(f"{ctx.layer.describe()} uses recurrent_activation {gate!r}, which no "
                                    "PyTorch recurrent module here computes")
    if gate != "sigmoid" and kind != "LSTM":
        raise UnsupportedLayerError(f"{ctx.layer.describe()} uses recurrent_activation {gate!r}; only LSTM "
                                    "supports a non-sigmoid gate activation when ported")
    return {} if gate == "sigmoid" else {"recurrent_activation": gate}


def _name(activation: Any) -> str:
    """Keras 3 configs may hold an activation as a serialised dict."""
    if isinstance(activation, Mapping):
        return str(activation.get("config", {}).get("name") or activation.get("class_name", "")).lower()
    return str(activation)


def _recurrent_rule(kind: str) -> PortRule:
    def to_torch(arrays: Arrays, ctx: RuleContext) -> State:
        if ctx.target.attributes.get("bidirectional"):
            raise RuleMismatch("the PyTorch module is bidirectional; the Keras layer is not")
        return _cell_to_torch(kind, arrays, ctx, "")

    def to_keras(state: Mapping[str, np.ndarray], ctx: RuleContext) -> list[np.ndarray]:
        return _cell_to_keras(kind, state, ctx, "")

    return PortRule(_KERAS_CLASS[kind], (kind,), to_torch, to_keras,
                    doc=f"{_KERAS_CLASS[kind]} → nn.{kind}: kernels transposed, biases split",
                    module_settings=lambda ctx: _activation_settings(kind, ctx.layer.config, ctx))


def _inner_config(ctx: RuleContext) -> Mapping[str, Any] | None:
    inner = ctx.config("layer")
    return inner.get("config") if isinstance(inner, Mapping) else None


def _bidirectional_rule() -> PortRule:
    """Forward layer's arrays, then the backward layer's; PyTorch's are suffixed ``_reverse``."""

    def to_torch(arrays: Arrays, ctx: RuleContext) -> State:
        kind = ctx.target.module_type
        if not ctx.target.attributes.get("bidirectional"):
            raise RuleMismatch("the Keras layer is Bidirectional; the PyTorch module is not")
        if len(arrays) % 2:
            raise RuleMismatch(f"a Bidirectional layer holds two equal halves, found {len(arrays)} arrays")
        half = len(arrays) // 2
        return {**_cell_to_torch(kind, arrays[:half], ctx, ""), **_cell_to_torch(kind, arrays[half:], ctx, "_reverse")}

    def to_keras(state: Mapping[str, np.ndarray], ctx: RuleContext) -> list[np.ndarray]:
        kind = ctx.target.module_type
        inner = ctx.config("layer")
        if isinstance(inner, Mapping) and str(inner.get("class_name", "")).startswith("CuDNN"):
            return cell_to_cudnn_keras(kind, state, "") + cell_to_cudnn_keras(kind, state, "_reverse")
        return _cell_to_keras(kind, state, ctx, "") + _cell_to_keras(kind, state, ctx, "_reverse")

    def settings(ctx: RuleContext) -> dict[str, Any]:
        return _activation_settings(ctx.target.module_type, _inner_config(ctx), ctx)

    return PortRule("Bidirectional", tuple(GATES), to_torch, to_keras,
                    doc="forward then backward layer → bidirectional nn.LSTM/GRU/RNN", module_settings=settings)


def cell_to_cudnn_keras(kind: str, state: Mapping[str, np.ndarray], suffix: str) -> list[np.ndarray]:
    """PyTorch's weights → a ``CuDNNLSTM``/``CuDNNGRU``'s: kernels in cuDNN's layout, input then recurrent bias."""
    gates = GATES[kind]
    kernel, recurrent = state[f"weight_ih_l0{suffix}"].T, state[f"weight_hh_l0{suffix}"].T
    biases = [state[f"bias_ih_l0{suffix}"], state[f"bias_hh_l0{suffix}"]]
    if kind == "GRU":
        kernel, recurrent = _reorder_gates(kernel, _GRU_TO_TORCH), _reorder_gates(recurrent, _GRU_TO_TORCH)
        biases = [_reorder_gates(b, _GRU_TO_TORCH) for b in biases]
    kernel, recurrent = to_cudnn_kernels(kernel, recurrent, gates)
    return [kernel, recurrent, np.concatenate(biases)]


def _cudnn_rule(keras_class: str, kind: str) -> PortRule:
    """Keras 2's CuDNNLSTM / CuDNNGRU: tanh and sigmoid, reset-after, cuDNN's kernel layout, both biases."""

    def to_torch(arrays: Arrays, ctx: RuleContext) -> State:
        if ctx.target.attributes.get("bidirectional"):
            raise RuleMismatch("the PyTorch module is bidirectional; the Keras layer is not")
        return _cell_to_torch(kind, arrays, ctx, "")

    def to_keras(state: Mapping[str, np.ndarray], ctx: RuleContext) -> list[np.ndarray]:
        return cell_to_cudnn_keras(kind, state, "")

    return PortRule(keras_class, (kind,), to_torch, to_keras,
                    doc=f"{keras_class} → nn.{kind}: cuDNN's kernel layout undone, both biases kept")


def conv_lstm_to_torch(arrays: Arrays, ctx: RuleContext) -> State:
    """[kernel (*k, in, 4·filters), recurrent kernel (*k, filters, 4·filters), bias (4·filters,)?] → ConvLSTM's
    ``input_conv.weight`` (4·filters, in, *k), ``recurrent_conv.weight`` (4·filters, filters, *k), ``input_conv.bias``:
    each kernel transposed as a Conv kernel is; the gate blocks (i, f, c, o) stay in Keras's order."""
    if len(arrays) not in (2, 3) or arrays[0].ndim < 3 or arrays[1].ndim != arrays[0].ndim:
        raise RuleMismatch(f"expected a kernel, a recurrent kernel and maybe a bias, found {[a.shape for a in arrays]}")
    rank = arrays[0].ndim - 2
    kernel, recurrent = arrays[0], arrays[1]
    width = kernel.shape[-1]
    filters = width // 4
    if width % 4 or recurrent.shape != (*kernel.shape[:rank], filters, width) or \
            (len(arrays) == 3 and arrays[2].shape != (width,)):
        raise RuleMismatch(f"kernel {kernel.shape}, recurrent kernel {recurrent.shape} and bias "
                           f"{[a.shape for a in arrays[2:]]} are not a ConvLSTM's")
    axes = (rank + 1, rank, *range(rank))
    state = {"input_conv.weight": kernel.transpose(axes), "recurrent_conv.weight": recurrent.transpose(axes)}
    if len(arrays) == 3:
        state["input_conv.bias"] = arrays[2]
    return state


def _conv_lstm_to_keras(state: Mapping[str, np.ndarray], ctx: RuleContext) -> list[np.ndarray]:
    rank = state["input_conv.weight"].ndim - 2
    axes = (*range(2, rank + 2), 1, 0)
    arrays = [state["input_conv.weight"].transpose(axes), state["recurrent_conv.weight"].transpose(axes)]
    return arrays + ([state["input_conv.bias"]] if "input_conv.bias" in state else [])


_CONV_LSTM_RULES = [PortRule(f"ConvLSTM{n}D", ("ConvLSTM",), conv_lstm_to_torch, _conv_lstm_to_keras,
                                 doc="kernels (*k, in, 4·filters) → conv weights (4·filters, in, *k), gates i, f, c, o")
                        for n in (1, 2, 3)]
"""ConvLSTM1D/2D/3D ↔ the runtime ``ConvLSTM`` of ``weights_port.torch_modules`` (what ``zoo convert`` builds)."""


RECURRENT_RULES: list[PortRule] = [*(_recurrent_rule(kind) for kind in GATES), _bidirectional_rule(),
                                   _cudnn_rule("CuDNNLSTM", "LSTM"), _cudnn_rule("CuDNNGRU", "GRU"), *_CONV_LSTM_RULES]
