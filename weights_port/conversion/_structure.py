"""Structure found in a converted model: nested Keras models as submodules, and the replaceable classifier head.

A nested Keras model (a ``backbone``, a siamese twin called twice) becomes its own
``nn.Module`` class, held once and called as often as Keras calls it.

A classifier read as a PyTorch engineer reads timm's models is ``forward_features`` (the
backbone up to its pooled or flattened features), ``forward_head(x, pre_logits=False)``
(what follows, ending in ``self.head``, which returns logits) and ``forward``, which applies
the Keras model's output activation after the head. ``model.head = nn.Linear(...)`` then
replaces the classifier and ``nn.CrossEntropyLoss`` takes ``forward_head``'s logits with
no edit of ``forward``.
"""

from __future__ import annotations

import ast
import re
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from ._ir import SELF, Attr, Call, Const, Global, ModelIR, ModuleSpec, Name, Step, Submodule, free_names, renamed
from ._names import NameTable, snake_identifier
from ._render import (
    discard_unused,
    ordered_calls,
    run_interface,
    statement,
    structured_steps,
    submodule_runs,
    through_paths,
)
from ._settings import model_named_by_keras, named_by_keras
from ._vocabulary import ELEMENTWISE_ACTIVATIONS, SHORT_NAMES

__all__ = ["HEAD_ATTRIBUTE", "HeadSplit", "extract_submodules", "fold_zero_pads", "free_attribute", "linear_classifier",
           "live_after", "model_class_apart", "named_by_kind", "rename_state", "split_head", "without_model_prefix"]

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
    steps = structured_steps(ir)
    if len(ir.inputs) != 1 or len(ir.outputs) != 1 or not steps:
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
    renamed = replace(ir, steps=[_renamed_step(s, old_attr) for s in ir.steps],
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


def named_by_kind(ir: ModelIR, state: dict[str, np.ndarray], manifest: dict[str, Any]) -> ModelIR:
    """``ir`` with the model's own modules Keras named by a session counter (``conv2d_6``,
    ``batch_normalization_6``) named by kind, numbered in ``forward``'s order where the kind recurs (``conv1``,
    ``conv2``, ``fc``), as torchvision names a stem; names a user gave stay (but for a part's kind said twice:
    ``conv1_conv`` → ``conv1``, see ``_unit_part_names``), and modules in blocks and nested models are named by
    structure already. ``state`` and the manifest follow."""
    owned = {flat for sub in ir.submodules for flat, _ in sub.attrs} | \
        {flat for stage in ir.stages for flat, _ in stage.paths}
    modules = {m.attr: m for m in ir.modules}
    called = dict.fromkeys(a for step in ir.steps for a in ordered_calls(step.value) if a in modules)
    renaming = [a for a in called if a not in owned and a != HEAD_ATTRIBUTE and named_by_keras(a)]
    taken = ({m.attr for m in ir.modules} - set(renaming)) | {s.attr for s in ir.submodules} | \
        {s.attr for s in ir.stages}
    paths = _kind_names([modules[attr] for attr in renaming], taken)
    paths.update(_unit_part_names([modules[a] for a in called if a not in owned and a not in paths],
                                  taken | set(paths.values())))
    return _renamed_modules(ir, state, manifest, paths) if paths else ir


_UNIT_PART = re.compile(r"([a-z]+)(\d+)_([a-z]+)")


def _unit_part_names(specs: list[ModuleSpec], taken: set[str]) -> dict[str, str]:
    """keras.applications' ``<unit><n>_<part>`` names whose unit and part are both kind words and whose part is the
    module's kind (``conv1_conv``, ``conv1_bn``, ``pool1_pool``) as torchvision writes them: the kind numbered by
    the unit (``conv1``, ``bn1``, ``pool1``). Where two would meet, or meet a name in ``taken``, both stay."""
    words = set(SHORT_NAMES.values())
    proposed: dict[str, str] = {}
    for spec in specs:
        match = _UNIT_PART.fullmatch(spec.attr)
        word = SHORT_NAMES.get(spec.constructor.path[-1])
        if match and word and match[1] in words and match[3] == word:
            proposed[spec.attr] = f"{word}{match[2]}"
    counts = Counter(proposed.values())
    return {old: new for old, new in proposed.items() if counts[new] == 1 and new not in taken}


def _renamed_modules(ir: ModelIR, state: dict[str, np.ndarray], manifest: dict[str, Any], paths: Mapping[str, str]
                     ) -> ModelIR:
    """``ir`` with the model's own modules renamed (``paths``: old attribute → new) in its modules and ``forward``;
    ``state`` keys and the manifest follow."""
    rename_state(state, manifest, paths)
    attributes = manifest["names"]["attributes"]
    for old, new in paths.items():
        attributes[new] = attributes.pop(old, old)
    through = {old: (new,) for old, new in paths.items()}
    return replace(ir, modules=[replace(m, attr=paths.get(m.attr, m.attr)) for m in ir.modules],
                   steps=[replace(step, value=through_paths(step.value, through)) for step in ir.steps])


def _kind_names(specs: list[ModuleSpec], taken: set[str]) -> dict[str, str]:
    """A name by kind for each module, in order: the kind's word where it occurs once (``fc``), else numbered
    (``conv1``, ``conv2``), none of ``taken``."""
    words = {spec.attr: SHORT_NAMES.get(kind, snake_identifier(kind, "layer"))
             for spec in specs for kind in [spec.constructor.path[-1]]}
    alone = {word for word, count in Counter(words.values()).items() if count == 1}
    taken = set(taken)
    counts: Counter[str] = Counter()
    names: dict[str, str] = {}
    for attr, word in words.items():
        if word in alone and word not in taken:
            names[attr] = word
        else:
            counts[word] += 1
            while f"{word}{counts[word]}" in taken:
                counts[word] += 1
            names[attr] = f"{word}{counts[word]}"
        taken.add(names[attr])
    return names


def model_class_apart(ir: ModelIR, manifest: dict[str, Any], hint: str) -> ModelIR:
    """``ir`` with the model's class renamed ``<Name>Model`` where a block or nested model's class took its name
    (a file ``encoder.keras`` holding ``Encoder`` blocks): the parts keep the names their structure gives. The
    manifest's entry of the name is the part's by now; ``hint`` is what the model's class was named after."""
    parts = {b.class_name for b in ir.blocks} | {s.class_name for s in ir.submodules}
    if ir.class_name not in parts:
        return ir
    names = NameTable()
    names.reserve(*parts, *(h.name for h in ir.helpers))
    name = names.allocate_class(f"{ir.class_name}Model")
    manifest["class_name"] = name
    manifest["names"]["class"][name] = hint
    return replace(ir, class_name=name)


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
    live = live_after(ir, steps)
    cuts = [(i + 1, s.bound[0]) for i, s in enumerate(steps[:head_step])
            if len(s.bound) == 1 and live[i] == {s.bound[0]}]
    pooled = [c for c in cuts if layer_classes.get(c[1]) in _FEATURE_LAYERS]
    if pooled:
        return pooled[-1]
    return next((c for c in cuts if c[1] == pre_logits and c[0] == head_step), None)


def live_after(ir: ModelIR, steps: list[Step]) -> list[set[str]]:
    """The locals still to be read after each step (the model's first output counts as read at the end)."""
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


def fold_zero_pads(ir: ModelIR, manifest: dict[str, Any]) -> ModelIR:
    """``ir`` with each zero pad that pads both sides of an axis alike and whose one reader is a convolution that pads
    nothing (Keras's ``ZeroPadding2D`` before a 'valid' ``Conv2D``: ResNet's stem, ResNetV2's 3×3) as that
    convolution's ``padding=``, as torchvision writes ``nn.Conv2d(3, 64, kernel_size=7, stride=2, padding=3)``. The
    same zeros enter the same sums. The pad layer's manifest entry then names no local (``"output": null``)."""
    reads = Counter(name for step in ir.steps for name in free_names(step.value))
    reads.update(port.value.name for port in ir.outputs)
    calls = Counter(step.value.func.name for step in ir.steps if isinstance(step.value, Call) and
                    isinstance(step.value.func, Attr) and step.value.func.value == SELF)
    modules = {m.attr: m for m in ir.modules}
    steps = list(ir.steps)
    folded: dict[str, ModuleSpec] = {}
    for index in range(len(steps) - 1, -1, -1):
        pad = steps[index]
        value = pad.value
        if not (isinstance(pad.target, Name) and isinstance(value, Call) and value.func == Global(("F", "pad")) and
                len(value.args) == 2 and isinstance(value.args[0], Name) and isinstance(value.args[1], Const) and
                not value.kwargs and reads[pad.target.id] == 1):
            continue
        amounts = value.args[1].value
        reader = next((j for j in range(index + 1, len(steps)) if pad.target.id in free_names(steps[j].value)), None)
        if reader is None or not isinstance(amounts, tuple) or amounts[0::2] != amounts[1::2]:
            continue
        call = steps[reader].value
        spec = modules.get(call.func.name) if isinstance(call, Call) and isinstance(call.func, Attr) else None
        if spec is None or not isinstance(call, Call) or call.args != (pad.target,) or call.kwargs or \
                calls[spec.attr] != 1 or pad.nested_call != steps[reader].nested_call or \
                not _pads_alike(spec, amounts, _non_negative(steps[:index], value.args[0])):
            continue
        padding = tuple(amounts[0::2])[::-1]
        kwargs = {**dict(spec.kwargs), "padding": Const(padding[0] if len(set(padding)) == 1 else padding)}
        folded[spec.attr] = replace(spec, kwargs=tuple(kwargs.items()))
        steps[reader] = replace(steps[reader], value=replace(call, args=(value.args[0],)))
        del steps[index]
        entry = manifest["layers"].get(pad.keras_layer)
        if entry is not None and entry.get("output") == pad.target.id:
            entry["output"] = None
    if not folded:
        return ir
    return replace(ir, steps=steps, modules=[folded.get(m.attr, m) for m in ir.modules])


_ELEMENTWISE = ELEMENTWISE_ACTIVATIONS | {("F", "leaky_relu"), ("torch", "relu"), ("F", "sigmoid")}
"""Activations a pooled classifier's steps may apply: each element alone decides its value, whatever the shape."""


def linear_classifier(ir: ModelIR, state: dict[str, np.ndarray], manifest: dict[str, Any]) -> ModelIR:
    """``ir`` with a classifier of 1×1 convolutions on a pooled ``(N, C, 1, 1)`` map (Keras's MobileNetV3: pooling
    that keeps its axes, a 1×1 ``Conv2D``, an activation, ``Dropout``, the logits' 1×1 ``Conv2D``, ``Flatten``) as
    ``nn.Linear`` layers on the ``(N, C)`` features, as torchvision's MobileNetV3 classifier is: the same sums, each
    kernel ``(out, in, 1, 1)`` stored ``(out, in)`` (``state`` changed in place), so the last one can be the
    replaceable head. Steps between may only be activation functions and ``nn.Dropout``, each the one reader of the
    one before. ``Flatten``'s manifest entry then names no local (``"output": null``)."""
    steps = list(ir.steps)
    modules = {m.attr: m for m in ir.modules}
    pooled = next((i for i in range(len(steps) - 1, -1, -1) if _pooling_with_axes(steps[i])), None)
    if pooled is None:
        return ir
    reads = Counter(name for step in steps for name in free_names(step.value))
    reads.update(port.value.name for port in ir.outputs)
    convs: list[str] = []
    index = pooled
    while index + 1 < len(steps):
        current, step = steps[index].target, steps[index + 1]
        value = step.value
        if not (isinstance(current, Name) and reads[current.id] == 1 and free_names(value) == [current.id] and
                isinstance(step.target, Name) and isinstance(value, Call)):
            return ir
        func = value.func
        if isinstance(func, Attr) and func.name == "flatten" and value.args == (Const(1),):
            break
        spec = modules.get(func.name) if isinstance(func, Attr) and func.value == SELF else None
        if spec is not None and _pointwise_conv(spec):
            convs.append(spec.attr)
        elif not ((spec is not None and spec.constructor == Global(("nn", "Dropout"))) or
                  (isinstance(func, Global) and func.path in _ELEMENTWISE and len(value.args) == 1)):
            return ir
        index += 1
    else:
        return ir
    flatten = index + 1
    if not convs or steps[flatten].target == steps[index].target:
        return ir
    mean = steps[pooled].value
    assert isinstance(mean, Call)
    steps[pooled] = replace(steps[pooled], value=replace(mean, kwargs=tuple(kv for kv in mean.kwargs
                                                                            if kv[0] != "keepdim")))
    flat_name, kept = steps[flatten].target, steps[index].target
    assert isinstance(flat_name, Name) and isinstance(kept, Name)
    entry = manifest["layers"].get(steps[flatten].keras_layer)
    if entry is not None and entry.get("output") == flat_name.id:
        entry["output"] = None
    del steps[flatten]
    steps = [replace(step, value=renamed(step.value, flat_name.id, kept.id)) for step in steps]
    outputs = [replace(port, value=replace(port.value, name=kept.id)) if port.value.name == flat_name.id else port
               for port in ir.outputs]
    linear = {}
    for attr in convs:
        spec = modules[attr]
        bias = dict(spec.kwargs).get("bias")
        linear[attr] = replace(spec, constructor=Global(("nn", "Linear")), args=spec.args[:2],
                               kwargs=(("bias", bias),) if bias is not None else ())
        kernel = state[f"{attr}.weight"]
        state[f"{attr}.weight"] = kernel.reshape(kernel.shape[:2])
    return replace(ir, steps=steps, outputs=outputs, modules=[linear.get(m.attr, m) for m in ir.modules])


def _pooling_with_axes(step: Step) -> bool:
    """``x.mean(dim=(2, 3), keepdim=True)``: a 2-D global average pooling that keeps its unit axes."""
    value = step.value
    return isinstance(value, Call) and isinstance(value.func, Attr) and value.func.name == "mean" and \
        not value.args and dict(value.kwargs) == {"dim": Const((2, 3)), "keepdim": Const(True)}


def _pointwise_conv(spec: ModuleSpec) -> bool:
    """A plain 1×1 ``nn.Conv2d`` (stride 1, no padding, one group, no dilation)."""
    kwargs = dict(spec.kwargs)
    return spec.constructor == Global(("nn", "Conv2d")) and len(spec.args) == 2 and \
        kwargs.get("kernel_size") in (Const(1), Const((1, 1))) and set(kwargs) <= {"kernel_size", "bias"}


_NON_NEGATIVE = {("F", "relu"), ("F", "relu6"), ("torch", "relu"), ("torch", "sigmoid"), ("F", "sigmoid")}


def _non_negative(steps: list[Step], value: Name) -> bool:
    """Whether the step that binds ``value`` last is an activation with no negative output."""
    producer = next((step for step in reversed(steps) if value.id in step.bound), None)
    return producer is not None and isinstance(producer.value, Call) and isinstance(producer.value.func, Global) and \
        producer.value.func.path in _NON_NEGATIVE


def _pads_alike(spec: ModuleSpec, amounts: tuple[Any, ...], non_negative: bool) -> bool:
    """Whether ``spec`` padding its input by ``amounts`` itself computes what it computes on the padded input:
    a convolution always (zeros either way; a separable one pads its depthwise part); an average pool counting
    the padding (PyTorch's default, as Keras's 'valid' pool over padded zeros); a max pool where its input is
    never negative (its own padding is −inf, which then never wins over a real value), the pad at most half the
    window (PyTorch's bound)."""
    kwargs = dict(spec.kwargs)
    n = len(amounts) // 2
    kind = spec.constructor.path[-1]
    if spec.constructor.path not in (("nn", kind), (f"SeparableConv{n}d",)) or \
            kwargs.get("padding", Const(0)) != Const(0) or "padding_mode" in kwargs or \
            kwargs.get("ceil_mode", Const(False)) != Const(False):
        return False
    if kind in (f"Conv{n}d", f"SeparableConv{n}d"):  # the runtime helper pads its depthwise convolution
        return True
    if kind not in (f"AvgPool{n}d", f"MaxPool{n}d") or (kind.startswith("Max") and not non_negative) or \
            kwargs.get("count_include_pad", Const(True)) != Const(True) or "dilation" in kwargs:
        return False
    window = spec.args[0].value if spec.args and isinstance(spec.args[0], Const) else None
    windows = (window,) * n if isinstance(window, int) else window
    return isinstance(windows, tuple) and all(isinstance(k, int) and 2 * a <= k
                                              for k, a in zip(windows, amounts[0::2][::-1], strict=True))


def without_model_prefix(ir: ModelIR, state: dict[str, np.ndarray], manifest: dict[str, Any]) -> ModelIR:
    """``ir`` with the model's own name left out of its modules' names where Keras begins every layer's name with it
    (keras.applications' ConvNeXt: ``convnext_tiny_head_layernorm`` → ``head_layernorm``), as torchvision names a
    model's parts; ``state`` keys and the manifest follow."""
    prefix = _model_prefix(ir, manifest)
    if not prefix:
        return ir
    names = NameTable()
    names.reserve(*(m.attr for m in ir.modules if not m.attr.startswith(prefix)))
    paths = {m.attr: names.allocate(m.attr[len(prefix):]) for m in ir.modules if m.attr.startswith(prefix)}
    return _renamed_modules(ir, state, manifest, paths)


def _model_prefix(ir: ModelIR, manifest: dict[str, Any]) -> str:
    """``<model name>_`` where the name of every layer that has modules (a nested model's, for its layers) begins
    with it, two layers or more; empty otherwise (Keras's own ``add_3`` hold no module and do not count)."""
    hint = manifest["names"]["class"].get(ir.class_name, "")
    prefix = snake_identifier(hint, "model") + "_" if hint else ""
    owners = [snake_identifier(name.split("/")[0], "layer") for name, entry in manifest["layers"].items()
              if entry["modules"]]
    if not prefix or len(owners) < 2 or not all(o.startswith(prefix) and len(o) > len(prefix) for o in owners):
        return ""
    return prefix


def extract_submodules(ir: ModelIR, state: dict[str, np.ndarray], manifest: dict[str, Any]) -> ModelIR:
    """``ir`` with each nested Keras model whose calls are self-contained runs of steps, all computing the same
    function of their inputs (a shared twin), as a ``Submodule``; ``state`` keys and the manifest's module
    names become the dotted paths (``backbone.conv2d.weight``)."""
    steps = discard_unused(ir)
    models = list(dict.fromkeys(s.nested_call[1] for s in steps if s.nested_call is not None))
    shared = _model_prefix(ir, manifest)
    taken = {m.attr for m in ir.modules}
    classes = NameTable()
    classes.reserve(*(h.name for h in ir.helpers))  # the model yields (model_class_apart)
    subs: list[Submodule] = []
    for model in models:
        owned = [m for m in ir.modules if m.owner == model]
        runs = submodule_runs(steps, model)
        if not owned or not _self_contained(steps, runs, {m.attr for m in owned}, ir) or \
                len({_canonical(steps, run, ir) for run in runs}) != 1:
            continue
        own = model.rsplit("/", 1)[-1]
        if model_named_by_keras(own):  # a ``sequential_3`` feeding the head or called twice is a backbone
            own = "backbone"
        snake = snake_identifier(own, "backbone")
        short = snake[len(shared):] if shared and snake.startswith(shared) else own
        attr = free_attribute(snake_identifier(short, "backbone"), taken)
        prefix = snake_identifier(model, "model") + "_"
        origins = manifest["names"]["attributes"]
        hints = {m.attr: _inner_hint(m.attr, prefix, origins.get(m.attr, ""), model) for m in owned}
        counted = [m for m in owned if named_by_keras(snake_identifier(origins.get(m.attr, m.attr).rsplit("/", 1)[-1]))]
        hints.update(_kind_names(counted, {hints[m.attr] for m in owned if m not in counted}))
        inner_names = NameTable()
        inner = tuple((m.attr, inner_names.allocate(hints[m.attr])) for m in owned)
        subs.append(Submodule(attr, classes.allocate_class(short), model, inner))
    if not subs:
        return ir
    rename_state(state, manifest, {flat: f"{sub.attr}.{name}" for sub in subs for flat, name in sub.attrs})
    attributes = manifest["names"]["attributes"]
    for sub in subs:
        attributes[sub.attr] = sub.keras_model
        for flat, name in sub.attrs:
            attributes[name] = attributes.get(flat, name)
    manifest["names"]["class"].update({sub.class_name: sub.keras_model for sub in subs})
    return replace(ir, submodules=subs)


def _inner_hint(attr: str, prefix: str, origin: str, model: str) -> str:
    """A nested model's module named inside it: its Keras layer's name without the words it shares with the
    model's (``convnext_tiny_downsampling_conv_0`` in ``convnext_tiny_downsampling_block_0`` → ``conv_0``), else
    the flat attribute without the model's prefix."""
    if origin.startswith(model + "/"):
        words = snake_identifier(origin.rsplit("/", 1)[-1], "layer").split("_")
        shared = 0
        for word, model_word in zip(words, snake_identifier(model, "model").split("_"), strict=False):
            if word != model_word:
                break
            shared += 1
        if words[shared:]:
            return "_".join(words[shared:])
    return attr[len(prefix):] if attr.startswith(prefix) else attr


def _self_contained(steps: list[Step], runs: list[list[int]], owned: set[str], ir: ModelIR) -> bool:
    """Each call is one unbroken run of steps that calls only the nested model's own modules, and the model's
    modules are called nowhere else."""
    inside = {i for run in runs for i in run}
    for run in runs:
        if run != list(range(run[0], run[-1] + 1)):
            return False
        if not run_interface(steps, run, [p.value.name for p in ir.outputs])[1]:
            return False
    for index, step in enumerate(steps):
        called = set(ordered_calls(step.value))
        if (index in inside and not called <= owned) or (index not in inside and called & owned):
            return False
    return True


def _canonical(steps: list[Step], run: list[int], ir: ModelIR) -> str:
    """A run's steps with locals renamed by order of appearance: equal for two calls of one function."""
    order: dict[str, str] = {}

    class Canon(ast.NodeTransformer):
        def visit_Name(self, node: ast.Name) -> ast.Name:
            if node.id == "self" or node.id in ("torch", "nn", "F"):
                return node
            return ast.Name(order.setdefault(node.id, f"v{len(order)}"), node.ctx)

    statements = [statement(steps[i]) for i in run]
    return ast.dump(ast.Module([Canon().visit(s) for s in statements], []))


def free_attribute(hint: str, taken: set[str]) -> str:
    """``hint``, else ``hint_2``, ``hint_3``...: the first not in ``taken``, which it joins."""
    name, count = hint, 2
    while name in taken:
        name, count = f"{hint}_{count}", count + 1
    taken.add(name)
    return name


def rename_state(state: dict[str, np.ndarray], manifest: dict[str, Any], paths: Mapping[str, str]) -> None:
    """State-dict keys and the manifest's module names moved to their structural paths (``conv1`` →
    ``stage1.0.conv1``, ``downsampling_block_0.conv_0`` → ``downsampling_block_0.conv``): a key moves with the
    longest module path of ``paths`` it begins with."""
    for key in list(state):
        parts = key.split(".")
        cut = next((cut for cut in range(len(parts) - 1, 0, -1) if ".".join(parts[:cut]) in paths), None)
        if cut is not None:
            state[".".join([paths[".".join(parts[:cut])], *parts[cut:]])] = state.pop(key)
    for entry in manifest["layers"].values():
        entry["modules"] = [paths.get(m, m) for m in entry["modules"]]
