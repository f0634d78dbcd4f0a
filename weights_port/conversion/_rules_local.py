"""Conversion rules for tf.keras's (Keras 2) LocallyConnected1D and LocallyConnected2D: unshared convolutions.

Every output position has its own (window → filters) matrix. The runtime's
``LocallyConnected`` holds them in one layout, ``weight`` (positions, in_channels·window,
filters), rows in ``F.unfold``'s order (channel, then kernel row, then kernel column),
positions row-major over the output. Keras saves the same weights in one of three
layouts, chosen by ``implementation``; each is rearranged into that one here, in NumPy,
once, at conversion:

1. ``kernel`` (positions, window·in_channels, filters), each row block a window
   flattened as the input is sliced (``backend.local_conv``): (row, column, channel) for
   channels_last, (channel, row, column) for channels_first. Only 'valid' padding.
2. ``kernel`` a dense layer's kernel between every input and every output element,
   (*in_spatial, in_channels, *out_spatial, filters) for channels_last and
   (in_channels, *in_spatial, filters, *out_spatial) for channels_first; Keras multiplies
   it by the connectivity mask at every call, so only the entries inside a window count.
3. ``kernel`` the values of a sparse (outputs, inputs) matrix, one per connected
   (output element, input element) pair, in the order of the sorted pairs of flat
   indices (``conv_utils.conv_kernel_idxs``; flat in the data_format's axis order).

Modes 2 and 3 also take 'same' padding, with their own window placement
(``conv_utils.conv_connected_inputs``): the window of output position p starts at
p·stride - kernel//2, whatever the stride, and reads zeros outside the input.

The bias (*out_spatial, filters) is added channels-last; for channels_first Keras
*reshapes* it (not transposes it) to (filters, *out_spatial) (``backend.bias_add``), and
the converted bias reproduces that.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from .._errors import ConfigValueError
from ._emitter import Emitter, refuse
from ._graph import Op
from ._ir import Value
from ._settings import MAX_ELEMENTS, Settings
from ._table import ConvertRule, Emit, apply_activation

__all__ = ["LOCAL_RULES", "local_bias", "local_weight"]

_DATA_FORMATS = ("channels_last", "channels_first")


def _output_size(size: int, kernel: int, stride: int, padding: str) -> int:
    """``conv_utils.conv_output_length`` (no dilation)."""
    length = size if padding == "same" else size - kernel + 1
    return (length + stride - 1) // stride


def _windows(in_size: tuple[int, ...], out_size: tuple[int, ...], kernel: tuple[int, ...],
             strides: tuple[int, ...], before: tuple[int, ...]) -> tuple[list[np.ndarray], list[np.ndarray], np.ndarray]:
    """Index grids over (*out_size, *kernel): the output position p, the input position p·stride - before +
    offset each window element reads, and whether that is inside the input (else it reads padding)."""
    n = len(kernel)
    grid = np.indices((*out_size, *kernel), dtype=np.int64)
    positions = [grid[d] for d in range(n)]
    reads = [grid[d] * strides[d] - before[d] + grid[n + d] for d in range(n)]
    inside = np.logical_and.reduce([(q >= 0) & (q < size) for q, size in zip(reads, in_size, strict=True)])
    return positions, reads, inside


def local_weight(kernel: np.ndarray, implementation: int, channels_first: bool, in_size: tuple[int, ...],
                 channels: int, filters: int, kernel_size: tuple[int, ...], strides: tuple[int, ...],
                 padding: str) -> np.ndarray:
    """The runtime's ``weight`` (positions, channels·window, filters) from Keras's saved ``kernel``.

    The caller has checked the kernel's shape for ``implementation``; a window element that
    reads padding gets weight 0 (it multiplies a zero).
    """
    n = len(kernel_size)
    out_size = tuple(_output_size(i, k, s, padding) for i, k, s in zip(in_size, kernel_size, strides, strict=True))
    positions, window = math.prod(out_size), math.prod(kernel_size)
    if implementation == 1:  # (positions, window·channels in the input's axis order, filters)
        if channels_first:
            return kernel.reshape(positions, channels * window, filters)
        split = kernel.reshape(positions, *kernel_size, channels, filters)
        return np.moveaxis(split, n + 1, 1).reshape(positions, channels * window, filters)
    before = tuple(k // 2 for k in kernel_size) if padding == "same" else (0,) * n
    p, q, inside = _windows(in_size, out_size, kernel_size, strides, before)
    if implementation == 2:  # pick each (input element, output element) weight a window connects
        q = [np.clip(r, 0, size - 1) for r, size in zip(q, in_size, strict=True)]
        every = slice(None)
        index: tuple[Any, ...] = (every, *q, every, *p) if channels_first else (*q, every, *p, every)
        picked = kernel[index]  # channels_first (channels, *in, filters, *out), else (*in, channels, *out, filters)
        picked = picked * inside[..., None, None]  # (*out, *kernel, channels, filters): advanced indices first
    else:  # the k-th value belongs to the k-th smallest (flat output index, flat input index) pair
        c = np.arange(channels, dtype=np.int64).reshape(channels, 1)
        f = np.arange(filters, dtype=np.int64)
        full = (*out_size, *kernel_size, channels, filters)
        if channels_first:
            out_index = np.ravel_multi_index((f, *(a[..., None, None] for a in p)), (filters, *out_size))
            in_index = np.ravel_multi_index((c, *(np.clip(a, 0, s - 1)[..., None, None] for a, s in
                                                  zip(q, in_size, strict=True))), (channels, *in_size))
        else:
            out_index = np.ravel_multi_index((*(a[..., None, None] for a in p), f), (*out_size, filters))
            in_index = np.ravel_multi_index((*(np.clip(a, 0, s - 1)[..., None, None] for a, s in
                                               zip(q, in_size, strict=True)), c), (*in_size, channels))
        connected = np.broadcast_to(inside[..., None, None], full).ravel()
        keys = np.broadcast_to(out_index * (channels * math.prod(in_size)) + in_index, full).ravel()[connected]
        flat = np.zeros(math.prod(full), kernel.dtype)
        flat[np.flatnonzero(connected)[np.argsort(keys, kind="stable")]] = kernel
        picked = flat.reshape(full)
    return np.moveaxis(picked, 2 * n, n).reshape(positions, channels * window, filters)


def local_bias(bias: np.ndarray, channels_first: bool) -> np.ndarray:
    """The runtime's ``bias`` (positions, filters) from Keras's (*out, filters), reshaped as Keras adds it."""
    filters = bias.shape[-1]
    if channels_first:  # backend.bias_add: reshape(bias, (1, filters, *out)), a reshape, not a transpose
        return np.ascontiguousarray(bias.reshape(filters, -1).T)
    return bias.reshape(-1, filters)


def _connections(in_size: tuple[int, ...], kernel: tuple[int, ...], strides: tuple[int, ...], padding: str) -> int:
    """How many (input position, output position) pairs the windows connect (mode 3 stores channels·filters each):
    per axis, the window lengths left inside the input, multiplied over the axes (O(outputs), no grid)."""
    count = 1
    for size, k, stride in zip(in_size, kernel, strides, strict=True):
        starts = np.arange(_output_size(size, k, stride, padding), dtype=np.int64) * stride - (
            k // 2 if padding == "same" else 0)
        count *= int((np.minimum(starts + k, size) - np.maximum(starts, 0)).clip(min=0).sum())
    return count


def _expected_kernel(implementation: int, channels_first: bool, in_size: tuple[int, ...],
                     out_size: tuple[int, ...], kernel: tuple[int, ...], strides: tuple[int, ...], padding: str,
                     channels: int, filters: int) -> tuple[int, ...]:
    if implementation == 1:
        return math.prod(out_size), math.prod(kernel) * channels, filters
    if implementation == 2:
        return (channels, *in_size, filters, *out_size) if channels_first else (*in_size, channels, *out_size, filters)
    return (_connections(in_size, kernel, strides, padding) * channels * filters,)


def _locally_connected(n: int) -> Emit:
    def emit(op: Op, inputs: list[Value], em: Emitter) -> list[Value]:
        layer, s = op.layer, Settings(op.layer)
        channels_first = s.choice("data_format", _DATA_FORMATS, "channels_last", nullable=True) == "channels_first"
        implementation = s.integer("implementation", 1, minimum=1, maximum=3)
        kernel_size = s.ints("kernel_size", n, None)
        strides = s.ints("strides", n, 1)
        padding = s.choice("padding", ("valid", "same") if implementation > 1 else ("valid",), "valid")
        use_bias = s.flag("use_bias", True)
        arrays = em.arrays(layer)
        if len(arrays) != 1 + use_bias:
            raise ConfigValueError(f"{layer.describe()}: its weights hold {len(arrays)} arrays; with use_bias "
                                   f"{use_bias} a {layer.class_name} holds {1 + use_bias}")
        x = em.to_layout(inputs[0], "keras" if channels_first else "cf")  # PyTorch holds (N, C, *spatial) either way
        if x.rank != n + 2:
            raise ConfigValueError(f"{layer.describe()}: its input has shape {x.shape}; a {layer.class_name} takes "
                                   f"{n + 2} axes")
        channels, in_size = (x.shape[1], x.shape[2:]) if channels_first else (x.shape[-1], x.shape[1:-1])
        if channels is None or any(d is None for d in in_size):
            raise refuse(layer, f"has an input of shape {x.shape}", "Keras builds it only for a fully known shape")
        known = tuple(int(d) for d in in_size if d is not None)
        out_size = tuple(_output_size(i, k, st, padding) for i, k, st in zip(known, kernel_size, strides, strict=True))
        if min(out_size) < 1:
            raise ConfigValueError(f"{layer.describe()}: a {kernel_size} window over input {known} leaves no output; "
                                   "Keras refuses it too")
        kernel, filters = arrays[0], s.integer("filters", None, minimum=1)
        expected = _expected_kernel(implementation, channels_first, known, out_size, kernel_size, strides, padding,
                                    int(channels), filters)
        if tuple(kernel.shape) != expected:
            raise ConfigValueError(f"{layer.describe()}: its kernel has shape {tuple(kernel.shape)}; implementation "
                                   f"{implementation} with kernel_size {kernel_size}, strides {strides}, padding "
                                   f"{padding!r} over input {x.shape} holds {expected}")
        if math.prod(out_size) * math.prod(kernel_size) * int(channels) * filters > MAX_ELEMENTS:
            raise refuse(layer, f"would hold over {MAX_ELEMENTS} weights as one matrix per output position",
                         "not converted")
        state = {"weight": np.ascontiguousarray(local_weight(kernel, implementation, channels_first, known,
                                                             int(channels), filters, kernel_size, strides, padding))}
        if use_bias:
            if tuple(arrays[1].shape) != (*out_size, filters):
                raise ConfigValueError(f"{layer.describe()}: its bias has shape {tuple(arrays[1].shape)}, not "
                                       f"{(*out_size, filters)}")
            state["bias"] = local_bias(arrays[1], channels_first)
        # zeros before each axis where the first window starts (k//2 for 'same'), and after where the last one
        # ends past the input; never fewer than none: the windows then number exactly out_size
        before = tuple(k // 2 for k in kernel_size) if padding == "same" else (0,) * n
        after = tuple(max((o - 1) * st + k - b - i, 0)
                      for o, st, k, b, i in zip(out_size, strides, kernel_size, before, known, strict=True))
        kwargs: dict[str, Any] = {}
        if set(strides) != {1}:
            kwargs["stride"] = strides
        if any(before) or any(after):
            kwargs["padding"] = tuple(zip(before, after, strict=True))
        if not use_bias:
            kwargs["bias"] = False
        module = em.module(layer, em.runtime("LocallyConnected"), int(channels), filters, kernel_size, out_size,
                           **kwargs, state=state)
        shape = (x.shape[0], filters, *out_size) if channels_first else (x.shape[0], *out_size, filters)
        out = em.let(layer.name, module(x), x, shape=shape)
        return [apply_activation(em, layer, out, s.raw("activation"))]

    return emit


LOCAL_RULES = [
    ConvertRule(f"LocallyConnected{n}D", _locally_connected(n), "cf",
                doc="the runtime's LocallyConnected: unfolded windows times one matrix per output position, "
                    "every implementation's kernel rearranged at conversion")
    for n in (1, 2)
]
