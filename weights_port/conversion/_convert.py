"""Any saved Keras model → a typed representation → one readable PyTorch source file, its state dict and a manifest.

``convert`` reads the architecture as JSON data and the weights with h5py (no TensorFlow,
no Keras, nothing executed), walks the graph once with the conversion table into a
``ModelIR`` and returns a ``Conversion``. ``Conversion.build()`` compiles the checked
syntax tree of that representation (never text); ``Conversion.source`` is the same tree
formatted; ``Conversion.write`` puts the three files in place atomically.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np

from .._errors import ConfigValueError, KerasFileError, PortError, UnknownLayerError, UnsupportedLayerError
from .._files import atomic_write, check_output_path
from ..porting import DEFAULT_RULES, RuleContext, RuleMismatch, RuleSet, TorchTarget, checked_array
from ..readers import KerasLayer, KerasSource, open_keras, parse_json_object
from ._blocks import extract_stages, merge_alike_submodules
from ._emitter import Emitter
from ._graph import Graph, Layer, Op, TensorRef, quoted, read_graph
from ._ir import Global, ModelIR, Port, Value
from ._names import NameTable, module_name_for, snake_identifier
from ._render import build_module, render_source
from ._rules_core import emit_time_reshape
from ._rules_ops import emit_keras_op, emit_tf_op, emit_tf_op_layer, is_operation
from ._settings import check_layer_config, model_named_by_keras
from ._structure import (
    extract_submodules,
    fold_zero_pads,
    linear_classifier,
    model_class_apart,
    named_by_kind,
    split_head,
    without_model_prefix,
)
from ._table import ConvertRule, ConvertRuleSet
from ._vocabulary import RUNTIME_HELPERS

__all__ = ["Conversion", "convert"]


@dataclass
class Conversion:
    """A converted model: its representation, ``state_dict`` (NumPy) and manifest; ``source`` on demand."""

    class_name: str
    ir: ModelIR
    state_dict: dict[str, np.ndarray]
    manifest: dict[str, Any] = field(default_factory=dict)

    @cached_property
    def source(self) -> str:
        """The generated file: the checked tree, unparsed and formatted by ruff."""
        return render_source(self.ir)

    def build(self, keep_intermediates: bool = False) -> Any:
        """The generated class, built from the checked tree with no argument, its state loaded strictly, in eval mode.

        ``keep_intermediates``: ``forward`` keeps each Keras layer's value in the local the manifest's
        ``layers[...]["output"]`` names until it returns (for finding where two models diverge); the
        written file releases each value after its last use instead.
        """
        return build_module(self.ir, self.state_dict, keep_intermediates)

    def write(self, directory: str | os.PathLike[str], module_name: str | None = None) -> list[Path]:
        """``<module>.py``, ``<module>.safetensors`` and ``<module>.json`` in ``directory``, all or none."""
        from safetensors.numpy import save_file

        out = Path(directory)
        if out.exists() and not out.is_dir():
            raise PortError(f"{out}: exists and is not a directory; give an output directory")
        stem = module_name or module_name_for(self.class_name)
        paths = [out / f"{stem}.py", out / f"{stem}.safetensors", out / f"{stem}.json"]
        source = self.source  # rendered before anything is created
        out.mkdir(parents=True, exist_ok=True)
        for path in paths:
            check_output_path(path)
        arrays = {k: np.ascontiguousarray(v) for k, v in self.state_dict.items()}
        writers = [lambda t: Path(t).write_text(source),
                   lambda t: save_file(arrays, t, metadata={"format": "pt", "class_name": self.class_name}),
                   lambda t: Path(t).write_text(json.dumps(self.manifest, indent=2) + "\n")]
        written: list[Path] = []
        try:
            for path, write in zip(paths, writers, strict=True):
                written.append(atomic_write(path, write))
        except BaseException:
            for path in written:
                path.unlink(missing_ok=True)
            raise
        return written


def convert(model: str | os.PathLike[str] | KerasSource, weights: str | os.PathLike[str] | None = None, *,
            class_name: str | None = None, dtype: str = "float32", rules: ConvertRuleSet | None = None,
            port_rules: RuleSet = DEFAULT_RULES, stub_unknown: bool = False, flat: bool = False) -> Conversion:
    """Convert a saved Keras model (``.keras``, full-model ``.h5``, or a ``to_json()`` file with ``weights``).

    ``model`` may also be an open ``KerasSource`` that records its architecture. ``class_name``
    (any text) becomes a safe Python class name. ``stub_unknown`` turns each layer without a
    rule into an ``UnconvertedLayer`` that holds its weights and whose ``forward`` raises
    (listed in the manifest's ``stubs``), instead of refusing the model. ``flat`` keeps one
    ``forward`` with one step per Keras layer (no ``forward_features``/``forward_head`` split).
    """
    from . import DEFAULT_CONVERT_RULES

    rules = rules if rules is not None else DEFAULT_CONVERT_RULES
    if dtype not in ("float32", "float64"):
        raise PortError(f"dtype must be 'float32' or 'float64', got {quoted(dtype)}")
    if class_name is not None and not isinstance(class_name, str):
        raise PortError(f"class_name must be text, got {quoted(class_name)}")
    if isinstance(model, KerasSource):
        if model.model_config is None:
            raise KerasFileError(f"{model.description}: records no architecture to convert")
        return _convert(model.model_config, model, model.description.split(" [")[0], class_name, dtype, rules,
                        port_rules, stub_unknown, flat)
    path = Path(model)
    config, source = _open(path, Path(weights) if weights is not None else None)
    with source:
        return _convert(config, source, path.name, class_name, dtype, rules, port_rules, stub_unknown, flat)


def _convert(config: Mapping[str, Any], source: KerasSource, file_name: str, class_name: str | None, dtype: str,
             rules: ConvertRuleSet, port_rules: RuleSet, stub_unknown: bool = False, flat: bool = False
             ) -> Conversion:
    recorded = config.get("keras_version")
    version = source.keras_version or (recorded if isinstance(recorded, str) else "3")
    graph = read_graph(config, _keras_major(version))
    converter = _Converter(graph, source, version, rules, port_rules, dtype, stub_unknown)
    return converter.run(class_name if class_name is not None else _class_hint(graph.name, file_name),
                         Path(file_name).name, flat)


def _class_hint(model_name: str, file_name: str) -> str:
    """What the generated class is named after: the Keras model's name, or the file's where Keras named the model
    by a session counter (``functional_28``, ``sequential_3``, tf.keras's ``model_2``)."""
    stem = Path(file_name).name.split(".")[0]
    return stem if stem and model_named_by_keras(model_name) else model_name


def _open(path: Path, weights: Path | None) -> tuple[Mapping[str, Any], KerasSource]:
    if weights is not None:
        if not path.is_file():
            raise KerasFileError(f"{path}: no such file; pass the model.to_json() file and its weights")
        config = parse_json_object(path.read_bytes(), f"{path}")
        if config is None:
            raise KerasFileError(f"{path}: not a model.to_json() architecture (no JSON object)")
        return config, open_keras(weights, model_config=config)
    source = open_keras(path)
    if source.model_config is None:
        source.close()
        raise KerasFileError(f"{path}: holds weights but no architecture; pass the architecture too "
                             "(zoo convert model.json --weights FILE, with model.json from model.to_json())")
    return source.model_config, source


def _keras_major(version: str) -> int:
    major = version.split(".")[0]
    return int(major) if major.isdigit() and len(major) < 4 else 3


class _Converter:
    def __init__(self, graph: Graph, source: KerasSource, version: str, rules: ConvertRuleSet, port_rules: RuleSet,
                 dtype: str, stub_unknown: bool = False) -> None:
        self.graph, self.source, self.rules, self.port_rules = graph, source, rules, port_rules
        self.stub_unknown = stub_unknown
        self.stubs: dict[str, str] = {}
        """Layers stubbed (``stub_unknown``): Keras layer name → its class as the file names it."""
        self.version, self.dtype = version, np.dtype(dtype)
        self.by_name = {layer.name: layer for layer in source.layers}
        self.used: set[str] = set()
        self.em = Emitter(self.arrays, self.port, _keras_major(version), rules, self.named_arrays)
        self.em.float_type = Global(("torch", self.dtype.name))

    # ------------------------------------------------------------------ weights

    def keras_layer(self, layer: Layer) -> KerasLayer | None:
        found = self.by_name.get(layer.name) or self.by_name.get(layer.name.rsplit("/", 1)[-1])
        if found is not None:
            self.used.add(found.name)
        return found

    def weights(self, layer: Layer) -> list[Any]:
        """The file's weights of ``layer``; for the layer a SpectralNormalization wraps, its own (the kernel
        it computes with at inference), not the wrapper's power-iteration state."""
        found = self.keras_layer(layer)
        if found is None:
            return []
        if found.class_name == "SpectralNormalization" and layer.class_name != found.class_name:
            return [w for w in found.weights if w.key.startswith("layer/")]
        return list(found.weights)

    def arrays(self, layer: Layer) -> list[np.ndarray]:
        found = self.keras_layer(layer)
        if found is None:
            return []
        weights = self.weights(layer)
        arrays = [w.read() for w in weights]  # integer arrays (a Normalization's count) are the rule's to use
        return [checked_array(found, w.key, a) if a.dtype.kind not in "iub" else a
                for w, a in zip(weights, arrays, strict=True)]

    def named_arrays(self, layer: Layer) -> dict[str, np.ndarray]:
        """The layer's arrays by their path in the file ("query_dense/vars/0", "query/kernel:0")."""
        found = self.keras_layer(layer)
        if found is None:
            return {}
        return dict(zip((w.key for w in self.weights(layer)), self.arrays(layer), strict=True))

    def port(self, layer: Layer, torch_type: str, keys: Sequence[str], hints: Mapping[str, Any] | None = None,
             attributes: Mapping[str, Any] | None = None) -> dict[str, np.ndarray]:
        found = self.keras_layer(layer)
        if found is None:
            raise KerasFileError(f"{layer.describe()} has no weights in the file")
        keras_layer = KerasLayer(found.name, layer.class_name, layer.config, tuple(self.weights(layer)))
        rule = next((r for r in self.port_rules.for_torch_type(torch_type) if r.keras_class == layer.class_name), None)
        if rule is None:
            raise UnsupportedLayerError(f"{layer.describe()}: no weights rule pairs it with PyTorch {torch_type}")
        target = TorchTarget(snake_identifier(layer.name), torch_type, {k: () for k in keys}, dict(hints or {}),
                             dict(attributes or {}))
        try:
            state = rule.to_torch(self.arrays(layer), RuleContext(keras_layer, target, self.version))
        except RuleMismatch as exc:
            raise UnsupportedLayerError(f"{layer.describe()}: {exc}") from None
        if sorted(state) != sorted(keys):
            raise UnsupportedLayerError(f"{layer.describe()}: its weights give {sorted(state)}, the module holds "
                                        f"{sorted(keys)}")
        self._record_origins(layer, rule, RuleContext(keras_layer, target, self.version), state)
        return dict(state)

    def _record_origins(self, layer: Layer, rule: Any, context: RuleContext, state: Mapping[str, np.ndarray]) -> None:
        """Which of the file's weights fills each tensor ``state`` holds: the rule run once per weight on a marker
        (ones in that weight, zeros elsewhere), as the training set-up pairs variables. For the manifest."""
        arrays = self.arrays(layer)
        keys = [w.key for w in self.weights(layer)]
        sources: dict[str, list[str]] = {name: [] for name in state}
        for index, key in enumerate(keys):
            markers = [np.zeros(a.shape) for a in arrays]
            markers[index] = np.ones(arrays[index].shape)
            try:
                marked = rule.to_torch(markers, context)
            except Exception:  # a rule that cannot take markers (it divides by a variance): left unmapped
                return
            for name, array in marked.items():
                if name in sources and np.any(np.asarray(array) != 0):
                    sources[name].append(key)
        for name, array in state.items():
            self.em.origins[id(array)] = (array, tuple(sources[name]))

    # ------------------------------------------------------------------ graph

    def run(self, class_hint: str, file_name: str, flat: bool = False) -> Conversion:
        values: dict[int, Value] = {}
        preferred = self.preferred_layouts()
        inputs: list[Port] = []
        for tensor, layer in self.graph.inputs:
            check_layer_config(layer, self.em.keras_major)
            shape = _input_shape(layer)
            integer = str(layer.config.get("dtype", "float32")).startswith(("int", "uint", "bool"))
            layout = "cf" if len(shape) >= 3 and preferred.get(tensor.id) == "cf" and not integer else "keras"
            values[tensor.id] = Value(self.em.fresh(layer.name), shape, layout, integer=integer)
            inputs.append(Port(layer.name, values[tensor.id]))
        layer_outputs: dict[str, list[Value]] = {}
        implicit: dict[int, Value | None] = {}  # the masks Keras computes, by tensor
        consumers: dict[int, list[Op]] = {}
        for op in self.graph.ops:
            for ref in op.inputs:
                consumers.setdefault(ref.id, []).append(op)
        for op in self.graph.ops:
            emit = self.emitter(op)
            operation = emit in (emit_keras_op, emit_tf_op, emit_tf_op_layer, emit_time_reshape)
            rule = None if operation else self.rules.for_layer(op.layer)
            if not operation:
                check_layer_config(op.layer, self.em.keras_major)
            refs = op.inputs if operation else op.data_inputs
            incoming = [implicit.get(t.id) for t in refs]
            masks = self.masks_for(op, rule, values, incoming)
            if op.layer.class_name == "MultiHeadAttention" and self.em.keras_major >= 3:
                self.refuse_order_dependent_masks(op, refs, incoming, consumers)
            self.em.nested_call = op.nested_call
            self.em.begin(op.layer, masks, *_bound(op, values))
            self.em.implicit_masks = {values[t.id].name: m for t, m in zip(refs, incoming, strict=True)}
            try:
                outputs = emit(op, [values[t.id] for t in refs], self.em)
            except PortError:
                raise
            except (TypeError, ValueError, IndexError, KeyError, AttributeError, ArithmeticError) as exc:
                # a config shape no rule expected: one line, not a traceback from inside a rule
                raise ConfigValueError(f"{op.layer.describe()}: its config cannot be converted ({type(exc).__name__}: "
                                       f"{quoted(str(exc), 100)[1:-1]}); if Keras loads this file, please report it") from None
            if len(outputs) != len(op.outputs):
                raise UnsupportedLayerError(f"{op.layer.describe()}: returns {len(op.outputs)} tensors in Keras, "
                                            f"the conversion gives {len(outputs)}")
            for ref, value in zip(op.outputs, outputs, strict=True):
                values[ref.id] = value
            given: list[Value | None] = [next(m for m in masks if m is not None)] if any(
                m is not None for m in masks) else []
            previous = given or incoming  # Keras's "previous mask": the one passed, else the inputs' own
            produced = [None] * len(outputs) if operation else self.output_masks(op, rule, previous, outputs)
            for ref, mask in zip(op.outputs, produced, strict=True):  # an operation node passes no mask on
                implicit[ref.id] = mask
            if op.layer.class_name == "MultiHeadAttention" and self.em.keras_major >= 3:
                for ref in refs:  # Keras 3's call sets its inputs' masks to None: later readers see none
                    implicit[ref.id] = None
            layer_outputs.setdefault(op.layer.name, outputs)
        self.em.nested_call = None
        unused = [layer.name for layer in self.source.layers if layer.name not in self.used]
        if unused:
            raise KerasFileError(f"the file holds weights of layers the architecture does not use: "
                                 f"{', '.join(quoted(n) for n in unused[:5])}")
        outputs = [Port(self.graph.producer(t.id), self.em.to_layout(values[t.id], "keras")
                        if values[t.id].layout == "flat_cf" else values[t.id]) for t in self.graph.outputs]
        classes = NameTable()
        classes.reserve(*RUNTIME_HELPERS, *(h.name for h in self.em.helpers))
        class_name = classes.allocate_class(class_hint)
        ir = ModelIR(class_name, inputs, self.em.modules, self.em.steps, outputs, self.em.helpers,
                     self.dtype == np.float64, file_name, self.version, len({op.layer.name for op in self.graph.ops}),
                     self.graph.sequential)
        manifest = self.manifest(ir, layer_outputs, class_hint)
        state = {k: np.asarray(v, dtype=self.dtype) if np.asarray(v).dtype.kind not in "iub" else np.asarray(v)
                 for k, v in self.em.state.items()}
        if not flat:  # reshapes a pooled classifier's 1×1 kernels, so before the arrays are traced
            ir = linear_classifier(ir, state, manifest)
        origins = {id(state[key]): self.em.state_origin(key) for key in state}  # the passes below rename keys only
        if not flat:
            layer_classes = {value.name: op.layer.class_name for op in self.graph.ops
                             for value in layer_outputs.get(op.layer.name, [])}
            ir = fold_zero_pads(without_model_prefix(ir, state, manifest), manifest)
            ir = merge_alike_submodules(extract_submodules(ir, state, manifest), state, manifest)
            ir = extract_stages(ir, state, manifest)
            ir = named_by_kind(split_head(ir, layer_classes, state, manifest), state, manifest)
            ir = model_class_apart(ir, manifest, class_hint)
        manifest["state"] = {key: origins[id(array)] for key, array in state.items() if id(array) in origins}
        return Conversion(ir.class_name, ir, state, manifest)

    def masks_for(self, op: Op, rule: ConvertRule | None, values: Mapping[int, Value],
                  incoming: list[Value | None]) -> list[Value | None]:
        """The masks Keras passes to this call: recorded (``mask=``) or implied (a layer whose ``call`` takes a
        mask receives the masks its inputs carry, in both Keras versions). A rule that cannot apply them refuses.

        Masks Keras reads off the inputs themselves (MultiHeadAttention's query and value masks)
        reach the rule as ``emitter.implicit_masks``; rules that cannot apply those refuse too.
        """
        if op.mask_inputs:
            masks: list[Value | None] = [None if t is None else values[t.id] for t in op.mask_inputs]
        elif is_operation(op.layer) or op.layer.class_name in _TF_OPERATION_LAYERS:
            masks = []  # keras.ops calls and tf.keras's TF-op layers take no mask and drop it (expects_mask_arg)
        elif self.em.keras_major >= 3 and _tensor_arguments(op) > 1:
            masks = []  # Keras 3 fills ``mask`` only for a call with one tensor argument (an RNN's initial_state)
        elif _masking(op.layer, "call_takes_mask", self.em.keras_major) is not False:
            masks = incoming
        else:
            masks = []
        if rule is None and self.stubbed(op.layer):
            return []  # its forward is the user's to write; the manifest says which masks Keras passed
        if any(m is not None for m in masks) and (rule is None or not rule.masks):
            raise UnsupportedLayerError(f"{op.layer.describe()} is called with a mask, which Keras applies and "
                                        "this conversion does not apply yet; remove the masking or convert the layer "
                                        "by hand")
        return masks

    def refuse_order_dependent_masks(self, op: Op, refs: list[TensorRef], incoming: list[Value | None],
                                     consumers: Mapping[int, list[Op]]) -> None:
        """Keras 3's MultiHeadAttention removes the masks from its input tensors, so another layer reading the
        same tensor's mask sees it or not by Keras's execution order: refused rather than guessed. A layer that
        reads the attention's output (a residual ``Add([x, attention(x, x)])``) always runs after it and sees no
        mask on ``x``: the caller clears those masks once the attention is emitted."""
        after = _downstream(op, consumers)
        for ref, mask in zip(refs, incoming, strict=True):
            if mask is None:
                continue
            for other in consumers.get(ref.id, []):
                if other is op or id(other) in after or is_operation(other.layer) or \
                        other.layer.class_name == "MultiHeadAttention":
                    continue
                uses = _masking(other.layer, "call_takes_mask", 3) is not False or \
                    _masking(other.layer, "supports_masking", 3) is not False
                if uses and not other.mask_inputs:
                    raise UnsupportedLayerError(
                        f"{op.layer.describe()} removes the mask of its input, which {other.layer.describe()} also "
                        "reads; which of the two Keras runs first decides what the second sees, so it is not "
                        "converted (give each its own masked tensor)")

    def output_masks(self, op: Op, rule: ConvertRule | None, masks: list[Value | None],
                     outputs: list[Value]) -> list[Value | None]:
        """The masks of a call's outputs where Keras computes them implicitly (tf.keras files), from its inputs'."""
        if rule is not None and rule.compute_mask is not None:
            return rule.compute_mask(op, masks, outputs, self.em)
        if rule is None and self.stubbed(op.layer):
            return [None] * len(outputs)
        incoming = [implicit for implicit in masks if implicit is not None]
        if not incoming:
            return [None] * len(outputs)
        supports = _masking(op.layer, "supports_masking", self.em.keras_major)
        if supports is None:
            raise UnsupportedLayerError(f"{op.layer.describe()} receives a mask, and whether Keras passes it on is "
                                        "not known for this class; remove the masking or convert by hand")
        return [incoming[0] if supports else None] + [None] * (len(outputs) - 1)

    def emitter(self, op: Op) -> Any:
        """The rule's emitter; operation nodes (keras.ops calls, TFOpLambda) go through the ops table."""
        layer = op.layer
        if op.reshape:
            return emit_time_reshape
        if is_operation(layer):
            return emit_keras_op
        if layer.class_name in ("TFOpLambda", "SlicingOpLambda"):
            return emit_tf_op
        if layer.class_name == "TensorFlowOpLayer":
            return emit_tf_op_layer
        rule = self.rules.for_layer(layer)
        if rule is None:
            if self.stub_unknown:
                return self.emit_stub
            raise _unknown(layer)
        return rule.emit

    def stubbed(self, layer: Layer) -> bool:
        return self.stub_unknown and not is_operation(layer) and layer.class_name not in _TF_OPERATION_LAYERS

    def emit_stub(self, op: Op, inputs: list[Value], em: Emitter) -> list[Value]:
        """An ``UnconvertedLayer`` holding the layer's weights under its variables' names (``weight_0``, … in
        creation order where the file records none, as Keras 3 files do); its outputs have the inputs' rank and
        unknown sizes (what the layer computes is not known)."""
        layer = op.layer
        named = em.named_arrays(layer)
        names = NameTable()
        weights, state = [], {}
        for key, array in named.items():
            leaf = key.rsplit("/", 1)[-1].split(":")[0]
            name = names.allocate(snake_identifier(leaf if not leaf.isdigit() else f"weight_{leaf}", "weight"))
            weights.append((name, tuple(int(d) for d in array.shape)))
            state[name] = array
        shown_class = layer.registered or layer.class_name
        self.stubs[layer.name] = shown_class
        settings = {k: v for k, v in layer.config.items() if k not in ("name", "dtype", "trainable")}
        text = json.dumps(settings, default=str, sort_keys=True)
        module = em.module(layer, em.runtime("UnconvertedLayer"), shown_class,
                           text if len(text) <= 300 else text[:297] + "...", tuple(weights), state=state)
        held = [em.to_layout(v, "keras") for v in inputs]
        like = held[0].with_(shape=tuple(None for _ in held[0].shape), integer=False) if held else \
            Value("stub", (None,))
        if len(op.outputs) == 1:
            return [em.let(layer.name, module(*held), like)]
        result = em.unpack(module(*held), [f"{layer.name}_{i}" for i in range(len(op.outputs))])
        return [like.with_(name=name) for name in result]

    def preferred_layouts(self) -> dict[int, str]:
        """Per tensor, the layout its first decisive consumer prefers (for choosing input layouts)."""
        preferred: dict[int, str] = {}
        for op in reversed(self.graph.ops):
            rule = None if is_operation(op.layer) else self.rules.for_layer(op.layer)
            wanted = rule.layout if rule else "any"
            if wanted == "cf" and isinstance(op.layer.config, Mapping) and \
                    op.layer.config.get("data_format") == "channels_first":
                wanted = "keras"  # PyTorch's own layout already
            if wanted == "cf" and isinstance(op.layer.config, Mapping) and \
                    op.layer.config.get("axis", -1) not in (-1, [-1], (-1,)):
                wanted = "keras"  # a normalisation over a named axis: channels-first data when that axis is 1
            if wanted == "any":
                wanted = next((preferred[o.id] for o in op.outputs if o.id in preferred), "keras")
            for tensor in op.inputs:
                preferred[tensor.id] = wanted
        return preferred

    def manifest(self, ir: ModelIR, layer_outputs: Mapping[str, list[Value]], class_hint: str) -> dict[str, Any]:
        return {
            "class_name": ir.class_name,
            "converted_from": ir.source_file,
            "keras_version": self.version,
            "dtype": self.dtype.name,
            "inputs": [_tensor_entry(port) for port in ir.inputs],
            "outputs": [_tensor_entry(port) for port in ir.outputs],
            "layers": {name: {"modules": self.em.layer_map.get(name, []), "output": values[0].name,
                              "permutation": list(values[0].permutation), "flat_from": values[0].flat_from}
                       for name, values in layer_outputs.items()},
            "names": {"attributes": dict(self.em.attributes.origins), "locals": dict(self.em.locals.origins),
                      "class": {ir.class_name: class_hint}},
            "stubs": dict(self.stubs),
        }


def _bound(op: Op, values: Mapping[int, Value]) -> tuple[list[Any], dict[str, Any]]:
    """The call's arguments with each tensor as its Value (for rules that read arguments by name)."""
    def swap(item: Any) -> Any:
        if isinstance(item, TensorRef):
            return values[item.id]
        if isinstance(item, list):
            return [swap(v) for v in item]
        if isinstance(item, dict):
            return {k: swap(v) for k, v in item.items()}
        return item

    return swap(op.args), {k: swap(v) for k, v in op.kwargs.items() if k != "mask"}


def _tensor_arguments(op: Op) -> int:
    """How many of a call's arguments hold tensors (a list of tensors is one argument), ``mask`` aside."""
    def holds(value: Any) -> bool:
        if isinstance(value, TensorRef):
            return True
        if isinstance(value, list | tuple):
            return any(holds(v) for v in value)
        if isinstance(value, dict):
            return any(holds(v) for v in value.values())
        return False

    return sum(holds(a) for a in op.args) + sum(holds(v) for k, v in op.kwargs.items() if k != "mask")


def _downstream(op: Op, consumers: Mapping[int, list[Op]]) -> set[int]:
    """The ops (by ``id``) that read ``op``'s outputs, directly or through others."""
    seen: set[int] = set()
    stack = list(op.outputs)
    while stack:
        for other in consumers.get(stack.pop().id, []):
            if id(other) not in seen:
                seen.add(id(other))
                stack.extend(other.outputs)
    return seen


_TF_OPERATION_LAYERS = ("TFOpLambda", "SlicingOpLambda", "TensorFlowOpLayer")


def _masking(layer: Layer, key: str, keras_major: int) -> bool | None:
    """What Keras's own class does with masks (``keras_catalog.json``): None where it is not known."""
    from ._settings import keras_catalog

    entry = keras_catalog()["keras3" if keras_major >= 3 else "keras2"]["masking"].get(layer.class_name, {})
    value = entry.get(key)
    return None if value is None else bool(value)


def _input_shape(layer: Layer) -> tuple[int | None, ...]:
    from ._settings import MAX_DIMENSION, MAX_ELEMENTS

    shape = layer.config.get("batch_shape") or layer.config.get("batch_input_shape") or [None]
    if not isinstance(shape, list | tuple) or len(shape) > 9 or not all(
            d is None or (isinstance(d, int) and not isinstance(d, bool) and 0 < d <= MAX_DIMENSION) for d in shape):
        raise KerasFileError(f"{layer.describe()}: its shape {quoted(shape)} is not a list of positive sizes "
                             f"(at most {MAX_DIMENSION}) or nulls")
    known = [d for d in shape[1:] if d is not None]
    if int(np.prod(known, dtype=np.float64)) > MAX_ELEMENTS:
        raise KerasFileError(f"{layer.describe()}: its shape {quoted(shape)} has more than {MAX_ELEMENTS} elements "
                             "per sample")
    return (None, *shape[1:])


def _tensor_entry(port: Port) -> dict[str, Any]:
    value = port.value
    return {"name": port.keras_name, "torch_name": value.name, "keras_shape": list(value.shape),
            "torch_shape": list(value.torch_shape), "permutation": list(value.permutation),
            "dtype": "int64" if value.integer else "float"}


def _unknown(layer: Layer) -> UnknownLayerError:
    if layer.class_name == "Lambda":
        return UnknownLayerError(
            f"{layer.describe()} holds Python code, which is never run or unmarshalled; replace the Lambda by a "
            "built-in layer and re-save, or write its PyTorch equivalent into the generated module by hand")
    return UnknownLayerError(
        f"{layer.describe()} has no conversion rule; a plugin can add one through the zoo_convert_rules hook, "
        "or replace the layer by built-in ones and re-save")
