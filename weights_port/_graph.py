"""A saved Keras model's graph, read from its config as plain JSON data.

Both config dialects: Keras 3 (``inbound_nodes`` of ``{"args", "kwargs"}`` holding
``__keras_tensor__`` references) and Keras 2 / tf.keras (``inbound_nodes`` of
``[layer, node, tensor, kwargs]`` lists), Functional and Sequential models (also the bare
list Keras 2.0 wrote for a Sequential), nested models, shared layers. Nested models are
inlined: their layers keep a qualified name ("encoder/conv2d") matching what the weight
readers call them. Nothing in the config is executed.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from ._errors import KerasFileError

__all__ = ["Graph", "Layer", "Op", "TensorRef", "read_graph"]

MODEL_CLASSES = {"Functional", "Model", "Sequential"}


@dataclass(frozen=True)
class Layer:
    """A Keras layer as configured; ``name`` is qualified by the nested models it lives in."""

    name: str
    class_name: str
    config: Mapping[str, Any]
    module: str = ""
    """Where Keras defines it ("keras.layers", "keras.src.ops.numpy" for an operation node)."""

    def describe(self) -> str:
        return f"Keras layer '{self.name}' ({self.class_name})"


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

    @property
    def inputs(self) -> list[TensorRef]:
        return [t for t in _walk(self.args) if isinstance(t, TensorRef)] + \
               [t for t in _walk(list(self.kwargs.values())) if isinstance(t, TensorRef)]


@dataclass
class Graph:
    """Ops in an order where every input is produced before use; inputs and outputs by reference."""

    name: str
    inputs: list[tuple[TensorRef, Layer]]
    ops: list[Op]
    outputs: list[TensorRef]
    sequential: bool = False
    tensor_count: int = 0


def read_graph(model_config: Mapping[str, Any]) -> Graph:
    """The graph of a model config (``config.json``, ``model_config`` or ``to_json()``)."""
    builder = _Builder()
    class_name = _class_name(model_config)
    if class_name not in MODEL_CLASSES:
        raise KerasFileError(f"the model config describes a {class_name!r}, not a Functional or Sequential model")
    inputs, outputs = builder.model(model_config, "", None)
    name = str(_inner(model_config).get("name", "model")) if isinstance(_inner(model_config), Mapping) else "model"
    return Graph(name, inputs, builder.ops, outputs, class_name == "Sequential", builder.count)


def _class_name(entry: Mapping[str, Any]) -> str:
    return str(entry.get("class_name", "")).rsplit(">", 1)[-1]


def _inner(entry: Mapping[str, Any]) -> Any:
    return entry.get("config", {})


def _walk(value: Any) -> list[Any]:
    if isinstance(value, list | tuple):
        return [leaf for item in value for leaf in _walk(item)]
    if isinstance(value, dict):
        return [leaf for item in value.values() for leaf in _walk(item)]
    return [value]


class _Builder:
    def __init__(self) -> None:
        self.ops: list[Op] = []
        self.count = 0

    def tensor(self) -> TensorRef:
        self.count += 1
        return TensorRef(self.count - 1)

    def model(self, entry: Mapping[str, Any], prefix: str, given: list[TensorRef] | None
              ) -> tuple[list[tuple[TensorRef, Layer]], list[TensorRef]]:
        """Add a model's ops; ``given`` are the caller's tensors for its inputs (None at top level)."""
        if _class_name(entry) == "Sequential":
            return self.sequential(entry, prefix, given)
        config = _inner(entry)
        layers = config.get("layers")
        if not isinstance(layers, list):
            raise KerasFileError(f"model config '{prefix or config.get('name')}' has no layer list")
        by_name = {str(_layer_name(layer)): layer for layer in layers}
        produced: dict[tuple[str, int, int], TensorRef] = {}
        inputs = []
        for index, ref in enumerate(_as_ref_list(config.get("input_layers", []))):
            name = str(_ref_triple(ref)[0])
            layer = self.layer(by_name[name], prefix)
            tensor = given[index] if given is not None else self.tensor()
            produced[(name, 0, 0)] = tensor
            inputs.append((tensor, layer))
        if given is not None and len(given) != len(inputs):
            raise KerasFileError(f"nested model '{prefix}' takes {len(inputs)} inputs, called with {len(given)}")
        offsets = _node_offsets(layers)
        pending = [(entry_, node_index, node) for entry_ in layers
                   for node_index, node in enumerate(_nodes(entry_))]
        while pending:
            waiting = []
            for entry_, node_index, node in pending:
                args, kwargs = _parse_node(node)
                refs = _walk_refs(args, kwargs)
                keys = [(str(n), int(i) - offsets.get(str(n), 0), int(t)) for n, i, t in map(_ref_triple, refs)]
                if not all(key in produced for key in keys):
                    waiting.append((entry_, node_index, node))
                    continue
                resolved = {ref: produced[key] for ref, key in zip(refs, keys, strict=True)}
                outputs = self.call(entry_, prefix, _substitute(args, resolved), _substitute(kwargs, resolved))
                for tensor_index, tensor in enumerate(outputs):
                    produced[(str(_layer_name(entry_)), node_index, tensor_index)] = tensor
            if len(waiting) == len(pending):
                names = sorted({str(_layer_name(e)) for e, _, _ in waiting})[:5]
                raise KerasFileError(f"the model config's layer graph cannot be resolved (layers {names} wait for "
                                     "tensors no layer produces)")
            pending = waiting
        outputs = []
        for ref in _as_ref_list(config.get("output_layers", [])):
            name, node_index, tensor_index = _ref_triple(ref)
            key = (str(name), int(node_index) - offsets.get(str(name), 0), int(tensor_index))
            if key not in produced:
                raise KerasFileError(f"the model config names output {list(key)}, which no layer produces")
            outputs.append(produced[key])
        return inputs, outputs

    def sequential(self, entry: Mapping[str, Any], prefix: str, given: list[TensorRef] | None
                   ) -> tuple[list[tuple[TensorRef, Layer]], list[TensorRef]]:
        config = _inner(entry)
        layers = config if isinstance(config, list) else config.get("layers", [])
        if not layers:
            raise KerasFileError(f"Sequential model '{prefix}' has no layers")
        inputs = []
        if _class_name(layers[0]) == "InputLayer":
            input_layer = self.layer(layers[0], prefix)
            layers = layers[1:]
        else:
            shape = _inner(layers[0]).get("batch_input_shape") or _inner(layers[0]).get("batch_shape") or \
                (config.get("build_input_shape") if isinstance(config, Mapping) else None)
            dtype = _inner(layers[0]).get("dtype", "float32")
            input_layer = Layer(f"{prefix}input", "InputLayer",
                                {"batch_shape": shape, "dtype": dtype if isinstance(dtype, str) else "float32"})
        tensor = given[0] if given else self.tensor()
        inputs.append((tensor, input_layer))
        current = [tensor]
        for layer_entry in layers:
            current = self.call(layer_entry, prefix, [current[0]], {})
        return inputs, current

    def layer(self, entry: Mapping[str, Any], prefix: str) -> Layer:
        config = _inner(entry)
        return Layer(f"{prefix}{_layer_name(entry)}", _class_name(entry), config if isinstance(config, Mapping) else {},
                     str(entry.get("module") or ""))

    def call(self, entry: Mapping[str, Any], prefix: str, args: list[Any], kwargs: dict[str, Any]) -> list[TensorRef]:
        if _class_name(entry) in MODEL_CLASSES:
            tensors = [t for t in _walk(args) if isinstance(t, TensorRef)]
            return self.model(entry, f"{prefix}{_layer_name(entry)}/", tensors)[1]
        layer = self.layer(entry, prefix)
        count = _output_count(layer, kwargs)
        op = Op(layer, args, kwargs, [self.tensor() for _ in range(count)])
        self.ops.append(op)
        return op.outputs


def _layer_name(entry: Mapping[str, Any]) -> Any:
    config = _inner(entry)
    return entry.get("name") or (config.get("name") if isinstance(config, Mapping) else None) or _class_name(entry)


def _nodes(entry: Mapping[str, Any]) -> list[Any]:
    nodes = entry.get("inbound_nodes") or []
    return nodes if isinstance(nodes, list) else []


def _node_offsets(layers: Sequence[Mapping[str, Any]]) -> dict[str, int]:
    """Keras 2 numbers a nested model's calls from 1 (node 0 is the model's own construction)."""
    counts = {str(_layer_name(e)): len(_nodes(e)) for e in layers}
    highest: dict[str, int] = {}
    for entry in layers:
        for node in _nodes(entry):
            args, kwargs = _parse_node(node)
            for name, index, _ in (_ref_triple(r) for r in _walk_refs(args, kwargs)):
                highest[str(name)] = max(highest.get(str(name), -1), int(index))
    return {name: 1 for name, top in highest.items() if counts.get(name) and top >= counts[name]}


_KERAS3_TENSOR = "__keras_tensor__"


def _parse_node(node: Any) -> tuple[list[Any], dict[str, Any]]:
    """(args, kwargs) of one call, references left as ``("ref", name, node, tensor)`` tuples."""
    if isinstance(node, Mapping):  # Keras 3
        return [_keras3_value(a) for a in node.get("args", [])], \
            {k: _keras3_value(v) for k, v in (node.get("kwargs") or {}).items()}
    if isinstance(node, list) and node and isinstance(node[0], str):  # tf.keras TFOpLambda: one bare reference
        node = [node]
    if isinstance(node, list):  # Keras 2: [[name, node, tensor, kwargs], ...]
        refs, kwargs = [], {}
        for item in node:
            refs.append(("ref", item[0], item[1], item[2]))
            if len(item) > 3 and isinstance(item[3], Mapping):
                kwargs.update({k: _keras2_value(v) for k, v in item[3].items()})
        return ([refs] if len(refs) > 1 else refs), kwargs
    raise KerasFileError(f"unreadable inbound node {str(node)[:80]!r}")


def _keras3_value(value: Any) -> Any:
    if isinstance(value, Mapping) and value.get("class_name") == _KERAS3_TENSOR:
        name, node, tensor = value["config"]["keras_history"]
        return ("ref", name, node, tensor)
    if isinstance(value, list):
        return [_keras3_value(v) for v in value]
    if isinstance(value, Mapping):
        return {k: _keras3_value(v) for k, v in value.items()}
    return value


def _keras2_value(value: Any) -> Any:
    """tf.keras writes a tensor argument inside kwargs as [name, node, tensor] (TFOpLambda's ``y``)."""
    if isinstance(value, list) and len(value) == 3 and isinstance(value[0], str) and \
            all(isinstance(v, int) for v in value[1:]):
        return ("ref", value[0], value[1], value[2])
    if isinstance(value, list):
        return [_keras2_value(v) for v in value]
    return value


def _walk_refs(args: Any, kwargs: Any) -> list[tuple[Any, ...]]:
    found: list[tuple[Any, ...]] = []

    def visit(value: Any) -> None:
        if isinstance(value, tuple) and value and value[0] == "ref":
            found.append(value)
        elif isinstance(value, list | tuple):
            for item in value:
                visit(item)
        elif isinstance(value, dict):
            for item in value.values():
                visit(item)

    visit(args)
    visit(kwargs)
    return found


def _ref_triple(ref: Any) -> tuple[Any, Any, Any]:
    if isinstance(ref, tuple) and ref and ref[0] == "ref":
        return ref[1], ref[2], ref[3]
    if isinstance(ref, list | tuple) and len(ref) >= 3:
        return ref[0], ref[1], ref[2]
    raise KerasFileError(f"unreadable layer reference {ref!r}")


def _as_ref_list(value: Any) -> list[Any]:
    """``output_layers`` is a list of triples, or one bare triple for a single output."""
    if isinstance(value, list) and len(value) == 3 and isinstance(value[0], str):
        return [value]
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
    """How many tensors a call returns (recurrent layers with ``return_state`` return several)."""
    config = layer.config
    if layer.class_name == "Bidirectional":
        inner = config.get("layer", {}).get("config", {})
        if inner.get("return_state"):
            states = 2 if _class_name(config.get("layer", {})) in ("LSTM", "CuDNNLSTM") else 1
            merged = 1 if config.get("merge_mode", "concat") is not None else 2
            return merged + 2 * states
        return 1 if config.get("merge_mode", "concat") is not None else 2
    if config.get("return_state"):
        return 3 if layer.class_name in ("LSTM", "CuDNNLSTM", "ConvLSTM2D") else 2
    return 1
