"""Keras's preprocessing layers whose inference is a tensor function: CategoryEncoding, Discretization and
IntegerLookup; the string and hashing layers refused with the reason.

Each follows Keras 3.15's ``call`` (``numerical_utils.encode_categorical_inputs``, the
TensorFlow backend's ``digitize`` through ``Bucketize``, ``IndexLookup``'s table).
Ids outside a layer's range encode to zeros, as ``tf.one_hot`` and ``bincount`` with a
``maxlength`` give them.
"""

from __future__ import annotations

import numpy as np

from .._errors import ConfigValueError
from ._emitter import Emitter, refuse
from ._graph import Layer, Op
from ._ir import Value, compare, torch
from ._settings import Settings
from ._table import ConvertRule, Emit

__all__ = ["PREPROCESSING_RULES"]

_ENCODINGS = ("int", "one_hot", "multi_hot", "count")
_MAX_TABLE = 10_000_000


def _as_ids(em: Emitter, layer: Layer, x: Value) -> Value:
    """Integer ids (Keras casts float ids to integers, truncating)."""
    return x if x.integer else em.let(layer.name + "_ids", x.ref.m("long"), x, integer=True)


def _encoded(em: Emitter, layer: Layer, ids: Value, mode: str, depth: int, integer: bool = False) -> Value:
    """``encode_categorical_inputs``: one_hot (a trailing axis of 1 squeezed), multi_hot and count over each
    row of a (batch, n) tensor, in the conversion's float type (int64 where Keras encodes in it)."""
    if mode == "int":
        return ids
    if mode != "one_hot" and ids.rank != 2:
        raise refuse(layer, f"encodes ids of rank {ids.rank} as {mode!r}", "Keras's fast path takes (batch, n) ids")
    if mode == "one_hot" and ids.rank > 1 and ids.shape[-1] == 1:
        ids = em.let(layer.name + "_ids", ids.ref.m("squeeze", -1), ids, shape=ids.shape[:-1])
    classes = em.constant(layer, np.arange(depth, dtype=np.int64))
    hits = compare("==", ids.ref.m("unsqueeze", -1), classes.ref)
    dtype = torch.int64 if integer else em.float_type
    if mode == "one_hot":
        return em.let(layer.name, hits.m("to", dtype), ids, shape=(*ids.shape, depth), integer=integer)
    summed = hits.m("any", dim=-2) if mode == "multi_hot" else hits.m("sum", dim=-2)
    return em.let(layer.name, summed.m("to", dtype), ids, shape=(ids.shape[0], depth), integer=integer)


def _category_encoding(op: Op, inputs: list[Value], em: Emitter) -> list[Value]:
    layer, s = op.layer, Settings(op.layer)
    if op.kwargs.get("count_weights") is not None or len(op.args) > 1:
        raise refuse(layer, "is called with count_weights", "not converted")
    if s.flag("sparse", False):
        raise refuse(layer, "returns sparse tensors", "PyTorch's converted module computes dense ones")
    depth = s.integer("num_tokens", None, minimum=1, maximum=_MAX_TABLE)
    mode = s.choice("output_mode", ("one_hot", "multi_hot", "count"), "multi_hot")
    return [_encoded(em, layer, _as_ids(em, layer, em.to_layout(inputs[0], "keras")), mode, depth)]


def _discretization(op: Op, inputs: list[Value], em: Emitter) -> list[Value]:
    """``digitize``: TensorFlow's Bucketize holds the boundaries as float32 and counts those ≤ x."""
    layer, s = op.layer, Settings(op.layer)
    if s.flag("sparse", False):
        raise refuse(layer, "returns sparse tensors", "PyTorch's converted module computes dense ones")
    raw = s.raw("bin_boundaries")
    if raw is None:
        raise refuse(layer, "has no bin_boundaries in its config", "Keras itself cannot run it before adapt()")
    bounds = np.asarray(s.numbers("bin_boundaries"), np.float64)
    if bounds.ndim != 1 or bounds.size > _MAX_TABLE or np.any(np.diff(bounds) < 0):
        raise ConfigValueError(f"{layer.describe()}: config 'bin_boundaries' must be an increasing list of numbers")
    mode = s.choice("output_mode", _ENCODINGS, "int")
    x = em.to_layout(inputs[0], "keras")
    if x.integer:
        x = em.let(layer.name + "_values", x.ref.m("to", em.float_type), x, integer=False)
    boundaries = em.constant(layer, bounds.astype(np.float32).astype(np.float64))
    ids = em.let(layer.name, torch.bucketize(x.ref, boundaries.ref, right=True), x, integer=True)
    return [_encoded(em, layer, ids, mode, bounds.size + 1)]


def _integer_lookup(op: Op, inputs: list[Value], em: Emitter) -> list[Value]:
    """``IndexLookup`` on integers: [mask token] + OOV slots + vocabulary, looked up by binary search."""
    layer, s = op.layer, Settings(op.layer)
    vocabulary = s.raw("vocabulary")
    if not isinstance(vocabulary, list):
        raise refuse(layer, "keeps its vocabulary in the file's assets (an adapted layer)",
                     "not read yet; pass the vocabulary to the constructor and re-save")
    if not vocabulary or len(vocabulary) > _MAX_TABLE or \
            not all(isinstance(v, int) and not isinstance(v, bool) for v in vocabulary) or \
            len(set(vocabulary)) != len(vocabulary):
        raise ConfigValueError(f"{layer.describe()}: config 'vocabulary' must be distinct integers")
    if s.flag("sparse", False) or s.flag("pad_to_max_tokens", False):
        raise refuse(layer, "returns sparse or padded tensors", "not converted")
    oov_slots = s.integer("num_oov_indices", 1, minimum=0, maximum=_MAX_TABLE)
    if oov_slots > 1 and s.raw("oov_method", "floormod") != "floormod":
        raise refuse(layer, "hashes unknown ids with FarmHash", "PyTorch has no kernel for it")
    mask_token = s.raw("mask_token")
    if mask_token is not None and not isinstance(mask_token, int):
        raise s.error("mask_token", mask_token, "an integer or null")
    oov_token = s.integer("oov_token", -1)
    mode = s.choice("output_mode", (*_ENCODINGS, "tf_idf"), "int")
    if mode == "tf_idf":
        raise refuse(layer, "weights counts by idf", "not converted")
    x = _as_ids(em, layer, em.to_layout(inputs[0], "keras"))
    if s.flag("invert", False):
        if mode != "int":
            raise ConfigValueError(f"{layer.describe()}: an inverting lookup returns tokens, not {mode!r}")
        table = ([mask_token] if mask_token is not None else []) + [oov_token] * oov_slots + vocabulary
        tokens = em.constant(layer, np.asarray(table, np.int64))
        inside = torch.logical_and(compare(">=", x.ref, 0), compare("<", x.ref, len(table)))
        found = tokens.ref[x.ref.m("clamp", 0, len(table) - 1)]
        return [em.let(layer.name, torch.where(inside, found, oov_token), x)]
    if oov_slots == 0:
        raise refuse(layer, "has no OOV slot", "Keras fails on an unknown id; not converted")
    # Keras keeps a slot for the mask token in "int" output only; elsewhere a masked id is dropped
    oov_start = int(mask_token is not None and mode == "int")
    start = oov_start + oov_slots
    order = np.argsort(np.asarray(vocabulary, np.int64), kind="stable")
    known = em.constant(layer, np.asarray(vocabulary, np.int64)[order])
    positions = em.constant(layer, order.astype(np.int64) + start)
    slot = em.let(layer.name + "_slot", torch.searchsorted(known.ref, x.ref).m("clamp", max=len(vocabulary) - 1), x)
    hit = compare("==", known.ref[slot.ref], x.ref)
    unknown = oov_start if oov_slots == 1 else torch.remainder(x.ref, oov_slots) + oov_start
    index = torch.where(hit, positions.ref[slot.ref], unknown)
    if mask_token is not None:
        index = torch.where(compare("==", x.ref, mask_token), 0 if mode == "int" else -1, index)
    ids = em.let(layer.name, index, x, integer=True)
    return [_encoded(em, layer, ids, mode, start + len(vocabulary), integer=True)]


def _refused(reason: str) -> Emit:
    def emit(op: Op, inputs: list[Value], em: Emitter) -> list[Value]:
        raise refuse(op.layer, reason, "convert the model that follows it (feed it the ids) instead")

    return emit


PREPROCESSING_RULES = [
    ConvertRule("CategoryEncoding", _category_encoding, "keras"),
    ConvertRule("Discretization", _discretization, "keras"),
    ConvertRule("IntegerLookup", _integer_lookup, "keras"),
    *(ConvertRule(name, _refused("takes strings, which a PyTorch tensor cannot hold"), "keras")
      for name in ("StringLookup", "TextVectorization")),
    *(ConvertRule(name, _refused("hashes with FarmHash Fingerprint64, which PyTorch has no kernel for"), "keras")
      for name in ("Hashing", "HashedCrossing")),
]
