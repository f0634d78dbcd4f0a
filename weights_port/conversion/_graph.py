"""A saved Keras model's graph, read from its config as plain JSON data.

Both config dialects: Keras 3 (``inbound_nodes`` of ``{"args", "kwargs"}`` holding
``__keras_tensor__`` references) and Keras 2 / tf.keras (``inbound_nodes`` of
``[layer, node, tensor, kwargs]`` lists), Functional and Sequential models (also the bare
list Keras 2.0 wrote for a Sequential), nested models, shared layers. Nested models are
inlined: their layers keep a qualified name ("encoder/conv2d") matching what the weight
readers call them. Nothing in the config is executed; every structural value is checked
for its type, so a damaged config is a ``KerasFileError``, and nodes are resolved in one
pass over a dependency count (a model listed last-first costs no more than in order).
"""

from __future__ import annotations

import heapq
import reprlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from .._errors import KerasFileError

__all__ = ["Graph", "Layer", "Op", "TensorRef", "quoted", "read_graph"]

MODEL_CLASSES = {"Functional", "Model", "Sequential"}
MAX_NESTING = 32
MAX_LAYERS = 1_000_000


def quoted(text: Any, limit: int = 80) -> str:
    """A name (or value) from a file in a message: its repr, control characters escaped, bounded (one line),
    without building the repr of a huge structure first."""
    brief = reprlib.Repr()
    brief.maxstring = brief.maxother = max(limit, 12)
    brief.maxlist = brief.maxdict = brief.maxtuple = 6
    brief.maxlevel = 3
    return brief.repr(text)


@dataclass(frozen=True)
class Layer:
    """A Keras layer as configured; ``name`` is qualified by the nested models it lives in."""

    name: str
    class_name: str
    config: Mapping[str, Any]
    module: str = ""
    """Where Keras defines it ("keras.layers", "keras.src.ops.numpy" for an operation node)."""
    registered: str | None = None
    """A custom class's registered name ("package>Class"), as Keras records it."""

    @property
    def custom(self) -> bool:
        """A class Keras does not define (a plugin's layer): Keras's own rules for its config do not apply."""
        return self.registered is not None or bool(self.module and not self.module.startswith(("keras", "tf_keras")))

    def describe(self) -> str:
        return f"Keras layer {quoted(self.name)} ({quoted(self.class_name, 40)[1:-1]})"


@dataclass(frozen=True)
class TensorRef:
    """A tensor of the graph, by number."""

    id: int


@dataclass
class Op:
    """One call of a layer: ``args`` holds ``TensorRef``s where the call took tensors."""

    layer: Layer
    args: list[Any]
    kwargs: dict[str, Any]
    outputs: list[TensorRef] = field(default_factory=list)
    nested_call: tuple[int, str] | None = None
    """(call number, model name) of the top-level call of a nested Keras model this op belongs to."""
    reshape: str = ""
    """Set by the reader alone, never from a file: "fold_time" merges batch and time before a model that
    ``TimeDistributed`` wraps, "unfold_time" splits them after it (its second argument is the folded input)."""

    @property
    def inputs(self) -> list[TensorRef]:
        return [t for t in _walk(self.args) if isinstance(t, TensorRef)] + \
               [t for t in _walk(list(self.kwargs.values())) if isinstance(t, TensorRef)]

    @property
    def data_inputs(self) -> list[TensorRef]:
        """The tensors a layer computes on: every one but the masks Keras 3 records as the ``mask`` argument."""
        return [t for t in _walk(self.args) if isinstance(t, TensorRef)] + \
               [t for k, v in self.kwargs.items() if k != "mask" for t in _walk([v]) if isinstance(t, TensorRef)]

    @property
    def mask_inputs(self) -> list[TensorRef | None]:
        """The masks Keras 3 passed to this call (``mask=``), in the positions given ([query, value] for attention)."""
        mask = self.kwargs.get("mask")
        if isinstance(mask, TensorRef):
            return [mask]
        if isinstance(mask, list) and any(isinstance(m, TensorRef) for m in mask):
            return [m if isinstance(m, TensorRef) else None for m in mask]
        return []


@dataclass
class Graph:
    """Ops in an order where every input is produced before use; inputs and outputs by reference."""

    name: str
    inputs: list[tuple[TensorRef, Layer]]
    ops: list[Op]
    outputs: list[TensorRef]
    sequential: bool = False
    tensor_count: int = 0

    def producer(self, tensor: int) -> str:
        """The name of the layer (or input) that produces a tensor."""
        for op in self.ops:
            if any(o.id == tensor for o in op.outputs):
                return op.layer.name
        return next((layer.name for ref, layer in self.inputs if ref.id == tensor), f"output_{tensor}")


def read_graph(model_config: Any, keras_major: int = 3) -> Graph:
    """The graph of a model config (``config.json``, ``model_config`` or ``to_json()``).

    ``keras_major``: the Keras that wrote it; Keras 3 refuses '/' in a layer name, tf.keras
    allows it (DenseNet's "conv1/conv").
    """
    if not isinstance(model_config, Mapping):
        raise KerasFileError("the model config is not a JSON object")
    builder = _Builder(keras_major)
    class_name = _class_name(model_config)
    if class_name not in MODEL_CLASSES:
        raise KerasFileError(f"the model config describes a {quoted(class_name)}, not a Functional or Sequential model")
    inputs, outputs = builder.model(model_config, "", None, 0)
    inner = _inner(model_config)
    name = inner.get("name") if isinstance(inner, Mapping) else None
    if not inputs:
        raise KerasFileError("the model config declares no inputs")
    if not outputs:
        raise KerasFileError("the model config declares no outputs")
    return Graph(name if isinstance(name, str) else "model", inputs, builder.ops, outputs, class_name == "Sequential",
                 builder.count)


def _class_name(entry: Any) -> str:
    if not isinstance(entry, Mapping):
        raise KerasFileError(f"a layer entry of the model config is not a JSON object ({quoted(entry, 40)})")
    name = entry.get("class_name", "")
    if not isinstance(name, str) or not name:
        raise KerasFileError(f"a layer entry has no class name ({quoted(name, 40)})")
    return name.rsplit(">", 1)[-1]


def _inner(entry: Mapping[str, Any]) -> Any:
    return entry.get("config", {})


def _walk(value: Any) -> list[Any]:
    if isinstance(value, list | tuple):
        return [leaf for item in value for leaf in _walk(item)]
    if isinstance(value, dict):
        return [leaf for item in value.values() for leaf in _walk(item)]
    return [value]


def _index(value: Any, what: str) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise KerasFileError(f"the model config has a {what} {quoted(value, 40)}; Keras writes a non-negative integer")
    return value


class _Builder:
    def __init__(self, keras_major: int) -> None:
        self.ops: list[Op] = []
        self.count = 0
        self.slash_allowed = keras_major < 3
        self.nested_call: tuple[int, str] | None = None
        self.nested_calls = 0

    def tensor(self) -> TensorRef:
        self.count += 1
        return TensorRef(self.count - 1)

    def model(self, entry: Mapping[str, Any], prefix: str, given: list[TensorRef] | None, depth: int
              ) -> tuple[list[tuple[TensorRef, Layer]], list[TensorRef]]:
        """Add a model's ops; ``given`` are the caller's tensors for its inputs (None at top level)."""
        if depth > MAX_NESTING:
            raise KerasFileError(f"models are nested more than {MAX_NESTING} deep")
        if _class_name(entry) == "Sequential":
            return self.sequential(entry, prefix, given, depth)
        config = _inner(entry)
        layers = config.get("layers") if isinstance(config, Mapping) else None
        where = quoted(prefix.rstrip("/") or (config.get("name") if isinstance(config, Mapping) else "") or "model")
        if not isinstance(layers, list):
            raise KerasFileError(f"model config {where} has no layer list")
        if len(layers) > MAX_LAYERS:
            raise KerasFileError(f"model config {where} lists {len(layers)} layers (at most {MAX_LAYERS})")
        by_name: dict[str, Mapping[str, Any]] = {}
        for layer in layers:
            _class_name(layer)
            name = _layer_name(layer, self.slash_allowed)
            if name in by_name:
                raise KerasFileError(f"model config {where} has two layers named {quoted(name)}; Keras requires "
                                     "unique layer names")
            by_name[name] = layer
        produced: dict[tuple[str, int, int], TensorRef] = {}
        inputs = []
        input_refs = _as_ref_list(config.get("input_layers", []), "input_layers")
        if given is not None and len(given) != len(input_refs):
            raise KerasFileError(f"nested model {where} takes {len(input_refs)} inputs, called with {len(given)}")
        for index, ref in enumerate(input_refs):
            name, _, _ = _ref_triple(ref)
            if name not in by_name:
                raise KerasFileError(f"model config {where} names input {quoted(name)}, which is not one of its layers")
            layer = self.layer(by_name[name], prefix)
            tensor = given[index] if given is not None else self.tensor()
            produced[(name, 0, 0)] = tensor
            inputs.append((tensor, layer))
        offsets = _node_offsets(layers)
        nodes: list[tuple[Mapping[str, Any], int, list[Any], dict[str, Any], list[tuple[str, int, int]], list[Any]]] = []
        for entry_ in layers:
            for node_index, node in enumerate(_nodes(entry_)):
                args, kwargs = _parse_node(node)
                refs = _walk_refs(args, kwargs)
                keys = [(name, index - offsets.get(name, 0), tensor) for name, index, tensor in map(_ref_triple, refs)]
                nodes.append((entry_, node_index, args, kwargs, keys, refs))
        waiting: dict[tuple[str, int, int], list[int]] = {}
        missing = []
        ready: list[int] = []
        for number, (_, _, _, _, keys, _) in enumerate(nodes):
            unknown = {k for k in keys if k not in produced}
            missing.append(len(unknown))
            for key in unknown:
                waiting.setdefault(key, []).append(number)
            if not unknown:
                ready.append(number)
        heapq.heapify(ready)
        done = 0
        while ready:
            number = heapq.heappop(ready)
            entry_, node_index, args, kwargs, keys, refs = nodes[number]
            resolved = {ref: produced[key] for ref, key in zip(refs, keys, strict=True)}
            outputs = self.call(entry_, prefix, _substitute(args, resolved), _substitute(kwargs, resolved), depth)
            done += 1
            for tensor_index, tensor in enumerate(outputs):
                key = (_layer_name(entry_), node_index, tensor_index)
                if key in produced:
                    continue
                produced[key] = tensor
                for follower in waiting.pop(key, []):
                    missing[follower] -= 1
                    if missing[follower] == 0:
                        heapq.heappush(ready, follower)
        if done != len(nodes):
            stuck = sorted({_layer_name(nodes[n][0]) for n, count in enumerate(missing) if count})[:5]
            raise KerasFileError(f"the layer graph of {where} cannot be resolved (layers {', '.join(map(quoted, stuck))} "
                                 "wait for tensors no layer produces)")
        outputs = []
        for ref in _as_ref_list(config.get("output_layers", []), "output_layers"):
            name, node_index, tensor_index = _ref_triple(ref)
            key = (name, node_index - offsets.get(name, 0), tensor_index)
            if key not in produced:
                raise KerasFileError(f"the model config names output {quoted(list(key))}, which no layer produces")
            outputs.append(produced[key])
        return inputs, outputs

    def sequential(self, entry: Mapping[str, Any], prefix: str, given: list[TensorRef] | None, depth: int
                   ) -> tuple[list[tuple[TensorRef, Layer]], list[TensorRef]]:
        config = _inner(entry)
        layers = config if isinstance(config, list) else config.get("layers") if isinstance(config, Mapping) else None
        if not isinstance(layers, list) or not layers:
            raise KerasFileError(f"Sequential model {quoted(prefix.rstrip('/') or 'model')} has no layer list")
        names = [_layer_name(layer, self.slash_allowed) for layer in layers]
        if len(set(names)) != len(names):
            twice = next(n for n in names if names.count(n) > 1)
            raise KerasFileError(f"Sequential model has two layers named {quoted(twice)}; Keras requires unique names")
        inputs = []
        if _class_name(layers[0]) == "InputLayer":
            input_layer = self.layer(layers[0], prefix)
            layers = layers[1:]
        else:
            first = _inner(layers[0]) if isinstance(_inner(layers[0]), Mapping) else {}
            shape = first.get("batch_input_shape") or first.get("batch_shape") or \
                (config.get("build_input_shape") if isinstance(config, Mapping) else None)
            dtype = first.get("dtype", "float32")
            input_layer = Layer(f"{prefix}input", "InputLayer",
                                {"batch_shape": shape, "dtype": dtype if isinstance(dtype, str) else "float32"})
        tensor = given[0] if given else self.tensor()
        inputs.append((tensor, input_layer))
        current = [tensor]
        for layer_entry in layers:
            if not current:
                raise KerasFileError("a Sequential layer returns no tensor for the next one")
            current = self.call(layer_entry, prefix, [current[0]], {}, depth)
        return inputs, current

    def layer(self, entry: Mapping[str, Any], prefix: str) -> Layer:
        config = _inner(entry)
        module = entry.get("module")
        raw, registered = entry.get("class_name"), entry.get("registered_name")
        custom = raw if isinstance(raw, str) and ">" in raw else registered if isinstance(registered, str) and \
            registered != raw else None
        return Layer(f"{prefix}{_layer_name(entry)}", _class_name(entry), config if isinstance(config, Mapping) else {},
                     module if isinstance(module, str) else "", custom)

    def call(self, entry: Mapping[str, Any], prefix: str, args: list[Any], kwargs: dict[str, Any],
             depth: int) -> list[TensorRef]:
        tensors = [t for t in _walk([args, kwargs]) if isinstance(t, TensorRef)]
        if not tensors:
            raise KerasFileError(f"layer {quoted(_layer_name(entry))} is called on no tensor")
        if _class_name(entry) in MODEL_CLASSES:
            if self.nested_call is not None:  # a model inside a nested model stays part of the outer call
                return self.model(entry, f"{prefix}{_layer_name(entry)}/", tensors, depth + 1)[1]
            self.nested_call = (self.nested_calls, f"{prefix}{_layer_name(entry)}")
            self.nested_calls += 1
            try:
                return self.model(entry, f"{prefix}{_layer_name(entry)}/", tensors, depth + 1)[1]
            finally:
                self.nested_call = None
        wrapped = _inner(entry).get("layer") if isinstance(_inner(entry), Mapping) else None
        if _class_name(entry) == "TimeDistributed" and isinstance(wrapped, Mapping) and \
                _class_name(wrapped) in MODEL_CLASSES:
            return self.time_distributed_model(entry, wrapped, prefix, tensors, depth)
        layer = self.layer(entry, prefix)
        count = _output_count(layer, kwargs)
        op = Op(layer, args, kwargs, [self.tensor() for _ in range(count)], self.nested_call)
        self.ops.append(op)
        return op.outputs


    def time_distributed_model(self, entry: Mapping[str, Any], wrapped: Mapping[str, Any], prefix: str,
                               tensors: list[TensorRef], depth: int) -> list[TensorRef]:
        """``TimeDistributed(model)``: batch and time merged, the model's layers inlined under the wrapper's
        name (where the file keeps their weights), batch and time split again."""
        if len(tensors) != 1:
            raise KerasFileError(f"layer {quoted(_layer_name(entry))} (TimeDistributed) is called on "
                                 f"{len(tensors)} tensors; it takes one")
        layer = self.layer(entry, prefix)
        folded = Op(replace(layer, name=f"{layer.name}/steps"), [tensors[0]], {}, [self.tensor()], self.nested_call,
                    "fold_time")
        self.ops.append(folded)
        outputs = self.model(wrapped, f"{layer.name}/", folded.outputs, depth + 1)[1]
        if len(outputs) != 1:
            raise KerasFileError(f"{layer.describe()} wraps a model with {len(outputs)} outputs; Keras's "
                                 "TimeDistributed takes one")
        unfolded = Op(layer, [outputs[0], tensors[0]], {}, [self.tensor()], self.nested_call, "unfold_time")
        self.ops.append(unfolded)
        return unfolded.outputs


def _layer_name(entry: Any, slash_allowed: bool = True) -> str:
    if not isinstance(entry, Mapping):
        raise KerasFileError(f"a layer entry of the model config is not a JSON object ({quoted(entry, 40)})")
    config = _inner(entry)
    name = entry.get("name") or (config.get("name") if isinstance(config, Mapping) else None) or _class_name(entry)
    if not isinstance(name, str):
        raise KerasFileError(f"a layer's name is {quoted(name, 40)}, not a string")
    if "/" in name and not slash_allowed:
        raise KerasFileError(f"layer name {quoted(name)} contains '/', which Keras 3 does not allow in a name")
    return name


def _nodes(entry: Mapping[str, Any]) -> list[Any]:
    nodes = entry.get("inbound_nodes")
    if nodes is None:
        return []
    if not isinstance(nodes, list):
        raise KerasFileError(f"layer {quoted(_layer_name(entry))} has inbound_nodes {quoted(nodes, 40)}, not a list")
    return nodes


def _node_offsets(layers: Sequence[Any]) -> dict[str, int]:
    """Keras 2 numbers a nested model's calls from 1 (node 0 is the model's own construction)."""
    counts = {_layer_name(e): len(_nodes(e)) for e in layers}
    highest: dict[str, int] = {}
    for entry in layers:
        for node in _nodes(entry):
            args, kwargs = _parse_node(node)
            for name, index, _ in (_ref_triple(r) for r in _walk_refs(args, kwargs)):
                highest[name] = max(highest.get(name, -1), index)
    return {name: 1 for name, top in highest.items() if counts.get(name) and top >= counts[name]}


_KERAS3_TENSOR = "__keras_tensor__"
_CONSTANT_VALUE = "_CONSTANT_VALUE"


def _parse_node(node: Any) -> tuple[list[Any], dict[str, Any]]:
    """(args, kwargs) of one call, references left as ``("ref", name, node, tensor)`` tuples."""
    if isinstance(node, Mapping):  # Keras 3
        args, kwargs = node.get("args", []), node.get("kwargs") or {}
        if not isinstance(args, list) or not isinstance(kwargs, Mapping):
            raise KerasFileError(f"unreadable inbound node {quoted(node)}")
        return [_keras3_value(a) for a in args], {str(k): _keras3_value(v) for k, v in kwargs.items()}
    if isinstance(node, list) and node and isinstance(node[0], str):  # tf.keras TFOpLambda: one bare reference
        node = [node]
    if isinstance(node, list) and node:  # Keras 2: [[name, node, tensor, kwargs], ...]
        refs, kwargs = [], {}
        for item in node:
            if not isinstance(item, list) or len(item) < 3:
                raise KerasFileError(f"unreadable inbound node {quoted(node)}: Keras 2 writes [layer, node, tensor, "
                                     "kwargs] per input")
            if item[0] == _CONSTANT_VALUE:  # tf.keras: a constant first argument, [name, -1, value, kwargs]
                refs.append(item[2])
            else:
                refs.append(("ref", *_ref_triple(item)))
            if len(item) > 3 and isinstance(item[3], Mapping):
                kwargs.update({str(k): _keras2_value(v) for k, v in item[3].items()})
        return ([refs] if len(refs) > 1 else refs), kwargs
    raise KerasFileError(f"unreadable inbound node {quoted(node)}")


def _keras3_value(value: Any) -> Any:
    if isinstance(value, Mapping) and value.get("class_name") == _KERAS3_TENSOR:
        config = value.get("config")
        history = config.get("keras_history") if isinstance(config, Mapping) else None
        if not isinstance(history, list) or len(history) != 3:
            raise KerasFileError(f"unreadable tensor reference {quoted(value)}")
        return ("ref", *_ref_triple(history))
    if isinstance(value, list):
        return [_keras3_value(v) for v in value]
    if isinstance(value, Mapping):
        return {str(k): _keras3_value(v) for k, v in value.items()}
    return value


def _keras2_value(value: Any) -> Any:
    """tf.keras writes a tensor argument inside kwargs as [name, node, tensor] (TFOpLambda's ``y``)."""
    if isinstance(value, list) and len(value) == 3 and isinstance(value[0], str) and \
            all(isinstance(v, int) and not isinstance(v, bool) for v in value[1:]):
        return ("ref", *_ref_triple(value))
    if isinstance(value, list):
        return [_keras2_value(v) for v in value]
    return value


def _walk_refs(args: Any, kwargs: Any) -> list[tuple[Any, ...]]:
    found: list[tuple[Any, ...]] = []
    stack = [kwargs, args]
    while stack:
        value = stack.pop()
        if isinstance(value, tuple) and value and value[0] == "ref":
            found.append(value)
        elif isinstance(value, list | tuple):
            stack.extend(reversed(value))
        elif isinstance(value, dict):
            stack.extend(reversed(list(value.values())))
    return found


def _ref_triple(ref: Any) -> tuple[str, int, int]:
    if isinstance(ref, tuple) and ref and ref[0] == "ref":
        ref = ref[1:]
    if not isinstance(ref, list | tuple) or len(ref) < 3 or not isinstance(ref[0], str):
        raise KerasFileError(f"unreadable layer reference {quoted(ref)}: Keras writes [layer name, node, tensor]")
    return ref[0], _index(ref[1], "node index"), _index(ref[2], "tensor index")


def _as_ref_list(value: Any, key: str) -> list[Any]:
    """``output_layers`` is a list of triples, or one bare triple for a single output."""
    if isinstance(value, list) and len(value) == 3 and isinstance(value[0], str):
        return [value]
    if not isinstance(value, list):
        raise KerasFileError(f"the model config's {key} is {quoted(value, 40)}, not a list")
    return list(value)


def _substitute(value: Any, resolved: Mapping[tuple[Any, ...], TensorRef]) -> Any:
    if isinstance(value, tuple) and value and value[0] == "ref":
        return resolved[value]
    if isinstance(value, list):
        return [_substitute(v, resolved) for v in value]
    if isinstance(value, dict):
        return {k: _substitute(v, resolved) for k, v in value.items()}
    return value


def _output_count(layer: Layer, kwargs: Mapping[str, Any]) -> int:
    """How many tensors a call returns (recurrent layers with ``return_state`` return several, attention with
    ``return_attention_scores`` two)."""
    config = layer.config
    if kwargs.get("return_attention_scores") is True:
        return 2
    if layer.class_name == "Split" and layer.module.startswith("keras.src.ops"):  # keras.ops.split
        sections = config.get("indices_or_sections")
        if isinstance(sections, int) and not isinstance(sections, bool) and 0 < sections <= 4096:
            return sections
        if isinstance(sections, list) and len(sections) < 4096:
            return len(sections) + 1
        raise KerasFileError(f"{layer.describe()}: its indices_or_sections {quoted(sections)} is not a count or a list")
    if layer.class_name == "TopK" and layer.module.startswith("keras.src.ops"):  # keras.ops.top_k: values, indices
        return 2
    if layer.class_name == "Bidirectional":
        wrapped = config.get("layer")
        inner = wrapped.get("config") if isinstance(wrapped, Mapping) else None
        merged = 1 if config.get("merge_mode", "concat") is not None else 2
        if isinstance(inner, Mapping) and inner.get("return_state") is True:
            return merged + 2 * _state_count(wrapped)
        return merged
    if config.get("return_state") is True:
        return 1 + _state_count({"class_name": layer.class_name, "config": config})
    return 1


def _state_count(entry: Any) -> int:
    """The state tensors a recurrent layer returns: two for an LSTM (h, c), one per other cell; ``RNN(cell)``
    counts its cell's, a ``StackedRNNCells`` each of its cells' in turn."""
    name = _class_name(entry) if isinstance(entry, Mapping) and isinstance(entry.get("class_name"), str) else ""
    if name in ("LSTM", "CuDNNLSTM", "LSTMCell", "ConvLSTM1D", "ConvLSTM2D", "ConvLSTM3D"):
        return 2
    config = entry.get("config") if isinstance(entry, Mapping) else None
    if name == "RNN" and isinstance(config, Mapping):
        return _state_count(config.get("cell"))
    cells = config.get("cells") if isinstance(config, Mapping) else None
    if name == "StackedRNNCells" and isinstance(cells, list) and 0 < len(cells) <= 4096:
        return sum(_state_count(cell) for cell in cells)
    return 1
