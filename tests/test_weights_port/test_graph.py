"""The model graph read from configs, in both dialects (weights_port._graph)."""

from __future__ import annotations

import json

import keras
import pytest
import tf_keras

from weights_port import KerasFileError
from weights_port._graph import read_graph


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
    with pytest.raises(KerasFileError, match=r"layers \['d'\] wait for tensors no layer produces"):
        read_graph(config)


def test_a_non_model_config_is_refused() -> None:
    with pytest.raises(KerasFileError, match="describes a 'Dense'"):
        read_graph({"class_name": "Dense", "config": {}})
