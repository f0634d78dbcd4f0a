"""The model graph read from configs, in both dialects (weights_port.conversion._graph)."""

from __future__ import annotations

import json
from typing import Any

import keras
import pytest
import tf_keras

from weights_port import KerasFileError
from weights_port.conversion import read_graph


def _shared_nested(K) -> object:
    inner = K.Sequential([K.Input((4,)), K.layers.Dense(3, name="d_in")], name="sub")
    a, b = K.Input((4,), name="a"), K.Input((4,), name="b")
    x, y = inner(a), inner(b)
    z = K.layers.Dense(2, activation="softmax", name="head")(K.layers.Add(name="add")([x, y]))
    return K.Model([a, b], [z, x])


@pytest.mark.parametrize("K", [keras, tf_keras], ids=["keras3", "keras2"])
def test_nested_shared_multi_input_output_in_both_dialects(K) -> None:
    graph = read_graph(json.loads(_shared_nested(K).to_json()))
    assert [layer.name for _, layer in graph.inputs] == ["a", "b"]
    assert [op.layer.name for op in graph.ops] == ["sub/d_in", "sub/d_in", "add", "head"]
    first, second, add, head = graph.ops
    assert first.inputs == [graph.inputs[0][0]] and second.inputs == [graph.inputs[1][0]]
    assert add.inputs == [first.outputs[0], second.outputs[0]] and len(add.args) == 1  # one list argument
    assert graph.outputs == [head.outputs[0], first.outputs[0]]


def test_keras_2_0_bare_list_sequential() -> None:
    config = {"class_name": "Sequential", "config": [
        {"class_name": "Dense", "config": {"name": "dense_1", "units": 3, "batch_input_shape": [None, 5]}},
        {"class_name": "Activation", "config": {"name": "activation_1", "activation": "relu"}},
    ]}
    graph = read_graph(config)
    assert graph.inputs[0][1].config["batch_shape"] == [None, 5]
    assert [op.layer.class_name for op in graph.ops] == ["Dense", "Activation"]
    assert graph.ops[1].inputs == graph.ops[0].outputs and graph.outputs == graph.ops[1].outputs


def test_return_state_gives_every_output_a_tensor() -> None:
    tokens = keras.Input((5, 3))
    sequence, _h, c = keras.layers.LSTM(4, return_sequences=True, return_state=True, name="lstm")(tokens)
    model = keras.Model(tokens, [sequence, c])
    graph = read_graph(json.loads(model.to_json()))
    (op,) = graph.ops
    assert len(op.outputs) == 3 and graph.outputs == [op.outputs[0], op.outputs[2]]


def test_an_unresolvable_graph_is_one_error() -> None:
    config = {"class_name": "Functional", "config": {
        "layers": [{"class_name": "Dense", "name": "d", "config": {"name": "d"},
                    "inbound_nodes": [[["missing", 0, 0, {}]]]}],
        "input_layers": [], "output_layers": [["d", 0, 0]]}}
    with pytest.raises(KerasFileError, match=r"cannot be resolved \(layers 'd' wait for tensors no layer produces\)"):
        read_graph(config)


def test_a_non_model_config_is_refused() -> None:
    with pytest.raises(KerasFileError, match="describes a 'Dense'"):
        read_graph({"class_name": "Dense", "config": {}})


def _keras3(layers: Any, inputs: Any = (("in", 0, 0),), outputs: Any = (("d", 0, 0),)) -> dict[str, Any]:
    return {"class_name": "Functional", "config": {"name": "m", "layers": layers, "input_layers": [list(i) for i in inputs],
                                                   "output_layers": [list(o) for o in outputs]}}


def _input() -> dict[str, Any]:
    return {"class_name": "InputLayer", "name": "in", "config": {"name": "in", "batch_shape": [None, 3]},
            "inbound_nodes": []}


def _dense(name: str, source: str, node: Any = 0, tensor: Any = 0) -> dict[str, Any]:
    ref = {"class_name": "__keras_tensor__", "config": {"keras_history": [source, node, tensor]}}
    return {"class_name": "Dense", "name": name, "config": {"name": name}, "inbound_nodes": [{"args": [ref]}]}


@pytest.mark.parametrize(("config", "message"), [
    (_keras3([_input(), _dense("d", "in", node=3)]), "cannot be resolved (layers 'd' wait for tensors no layer produces)"),
    ({"class_name": "Functional", "config": {"name": "m", "layers": [_input(), {
        "class_name": "Dense", "name": "d", "config": {"name": "d"}, "inbound_nodes": [[["in"]]]}],
        "input_layers": [["in", 0, 0]], "output_layers": [["d", 0, 0]]}},
     "Keras 2 writes [layer, node, tensor, kwargs] per input"),
    (_keras3([_input(), _dense("d", "in", node="0")]), "has a node index '0'; Keras writes a non-negative integer"),
    (_keras3([_input(), _dense("d", "in")], inputs=[("ghost", 0, 0)]),
     "names input 'ghost', which is not one of its layers"),
    ({"class_name": "Functional", "config": {"name": "m", "layers": {"in": _input()}}}, "model config 'm' has no layer list"),
    (_keras3([_input(), {"class_name": "Dense", "name": "d", "config": {"name": "d"},
                         "inbound_nodes": [{"args": [1.0], "kwargs": {}}]}]), "layer 'd' is called on no tensor"),
    (_keras3([_input(), _dense("d", "in"), _dense("d", "in")]), "has two layers named 'd'; Keras requires unique"),
    (_keras3([_input(), _dense("a/b", "in")], outputs=[("a/b", 0, 0)]), "contains '/', which Keras 3 does not allow"),
    (_keras3([_input(), {"class_name": "Dense", "name": "d", "config": {"name": "d"}, "inbound_nodes": "x"}]),
     "has inbound_nodes 'x', not a list"),
    (_keras3([_input(), {"class_name": 7, "name": "d", "config": {}}]), "a layer entry has no class name (7)"),
    ({"class_name": "Functional", "config": {"name": "m", "layers": [_input(), _dense("d", "in")],
                                             "input_layers": [["in", 0, 0]], "output_layers": "d"}},
     "output_layers is 'd', not a list"),
    ([1, 2], "the model config is not a JSON object"),
])
def test_a_damaged_graph_is_one_error(config: Any, message: str) -> None:
    with pytest.raises(KerasFileError) as refused:
        read_graph(config)
    assert message in str(refused.value), str(refused.value)


def test_layers_listed_last_first_resolve_in_one_pass() -> None:
    """A chain listed in reverse order resolves; the cost is linear (timed in bench/run.py, not here)."""
    chain = [_input()] + [_dense(f"d{i}", "in" if i == 0 else f"d{i - 1}") for i in range(2000)]
    graph = read_graph(_keras3(chain[::-1], outputs=[("d1999", 0, 0)]))
    assert [op.layer.name for op in graph.ops] == [f"d{i}" for i in range(2000)]
