"""Structure found in a converted model: the replaceable classifier head.

A classifier read as a PyTorch engineer reads timm's models is ``forward_features`` (the
backbone up to its pooled or flattened features), ``forward_head(x, pre_logits=False)``
(what follows, ending in ``self.head``, which returns logits) and ``forward``, which applies
the Keras model's output activation after the head. ``model.head = nn.Linear(...)`` then
replaces the classifier and ``nn.CrossEntropyLoss`` takes ``forward_head``'s logits with
no edit of ``forward``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from ._ir import SELF, Attr, Call, Global, ModelIR, Name, Step, free_names
from ._render import discard_unused, sequential_chain

__all__ = ["HEAD_ATTRIBUTE", "HeadSplit", "split_head"]

HEAD_ATTRIBUTE = "head"
_FEATURE_LAYERS = ("GlobalAveragePooling1D", "GlobalAveragePooling2D", "GlobalAveragePooling3D",
                   "GlobalMaxPooling1D", "GlobalMaxPooling2D", "GlobalMaxPooling3D", "GlobalAvgPool1D",
                   "GlobalAvgPool2D", "GlobalAvgPool3D", "GlobalMaxPool1D", "GlobalMaxPool2D", "GlobalMaxPool3D",
                   "Flatten")
_OUTPUT_ACTIVATIONS = {("F", "softmax"), ("torch", "softmax"), ("torch", "sigmoid"), ("F", "sigmoid"),
                       ("F", "log_softmax")}


@dataclass(frozen=True)
class HeadSplit:
    """Where ``forward`` splits: ``steps[:features_end]`` compute ``features``; the steps up to ``head_step`` map
    them to ``pre_logits``; ``self.head`` gives the logits; the steps after it are the output activation."""

    features_end: int
    features: str
    pre_logits: str
    head_step: int


def split_head(ir: ModelIR, layer_classes: Mapping[str, str], state: dict[str, np.ndarray],
               manifest: dict[str, Any]) -> ModelIR:
    """``ir`` with its final Linear named ``head`` and the split recorded (``ir.head``), when the model is a
    classifier of that shape: one input, one output, a last ``nn.Linear`` whose logits only an output
    activation (softmax, sigmoid) follows, and a point before it where one value (the pooled or flattened
    features, else the head's input) is all that flows on. ``state`` and ``manifest`` are renamed in place."""
    steps = discard_unused(ir)
    if len(ir.inputs) != 1 or len(ir.outputs) != 1 or sequential_chain(ir) is not None or not steps:
        return ir
    head_step = _head_step(ir, steps)
    if head_step is None:
        return ir
    head_call = steps[head_step].value
    assert isinstance(head_call, Call) and isinstance(head_call.func, Attr) and isinstance(head_call.args[0], Name)
    old_attr, pre_logits = head_call.func.name, head_call.args[0].id
    if old_attr != HEAD_ATTRIBUTE and any(m.attr == HEAD_ATTRIBUTE for m in ir.modules):
        return ir
    cut = _features_cut(ir, steps, head_step, layer_classes, pre_logits)
    if cut is None:
        return ir
    renamed = replace(ir, steps=[_renamed_step(s, old_attr) for s in steps],
                      modules=[replace(m, attr=HEAD_ATTRIBUTE) if m.attr == old_attr else m for m in ir.modules],
                      head=HeadSplit(cut[0], cut[1], pre_logits, head_step))
    for key in [k for k in state if k.split(".", 1)[0] == old_attr]:
        state[f"{HEAD_ATTRIBUTE}.{key.split('.', 1)[1]}"] = state.pop(key)
    for entry in manifest["layers"].values():
        entry["modules"] = [HEAD_ATTRIBUTE if m == old_attr else m for m in entry["modules"]]
    attributes = manifest["names"]["attributes"]
    attributes[HEAD_ATTRIBUTE] = attributes.pop(old_attr, steps[head_step].keras_layer)
    manifest["head"] = {"attribute": HEAD_ATTRIBUTE, "keras_layer": steps[head_step].keras_layer,
                        "features": cut[1], "pre_logits": pre_logits}
    return renamed


def _head_step(ir: ModelIR, steps: list[Step]) -> int | None:
    """The step calling the last ``nn.Linear``, when only an output activation of its value follows it."""
    linear = {m.attr for m in ir.modules if m.constructor == Global(("nn", "Linear"))}
    index = len(steps) - 1
    last = steps[index]
    if isinstance(last.value, Call) and isinstance(last.value.func, Global) and \
            last.value.func.path in _OUTPUT_ACTIVATIONS and index > 0:
        index -= 1
        if free_names(last.value) != steps[index].bound:
            return None
    step = steps[index]
    value = step.value
    if not (isinstance(step.target, Name) and isinstance(value, Call) and isinstance(value.func, Attr)
            and value.func.value == SELF and value.func.name in linear and len(value.args) == 1
            and isinstance(value.args[0], Name) and not value.kwargs):
        return None
    if index == len(steps) - 1 and step.target.id != ir.outputs[0].value.name:
        return None
    if sum(isinstance(s.value, Call) and s.value.func == value.func for s in steps) != 1:
        return None  # a shared Dense called twice is not a replaceable head
    return index


def _features_cut(ir: ModelIR, steps: list[Step], head_step: int, layer_classes: Mapping[str, str],
                  pre_logits: str) -> tuple[int, str] | None:
    """The last point before the head where one value alone flows on: preferably a global pooling's or
    Flatten's output, else the head's input itself."""
    live_after = _live_after(ir, steps)
    cuts = [(i + 1, s.bound[0]) for i, s in enumerate(steps[:head_step])
            if len(s.bound) == 1 and live_after[i] == {s.bound[0]}]
    pooled = [c for c in cuts if layer_classes.get(c[1]) in _FEATURE_LAYERS]
    if pooled:
        return pooled[-1]
    return next((c for c in cuts if c[1] == pre_logits and c[0] == head_step), None)


def _live_after(ir: ModelIR, steps: list[Step]) -> list[set[str]]:
    live = {ir.outputs[0].value.name}
    result: list[set[str]] = [set()] * len(steps)
    for index in range(len(steps) - 1, -1, -1):
        result[index] = set(live)
        live -= set(steps[index].bound)
        live |= set(free_names(steps[index].value))
    return result


def _renamed_step(step: Step, old_attr: str) -> Step:
    value = step.value
    if isinstance(value, Call) and isinstance(value.func, Attr) and value.func.value == SELF and \
            value.func.name == old_attr:
        return replace(step, value=replace(value, func=Attr(SELF, HEAD_ATTRIBUTE)))
    return step
