"""Every config value is checked against Keras's own rules before the converter uses it (conversion._settings).

Each case is one layer of a config Keras itself would refuse (or whose config contradicts
its weights); the conversion answers with one line naming the layer, the key, the value
and what Keras allows.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

import weights_port
from weights_port import ConfigValueError, KerasFileError, KerasLayer, KerasSource, KerasWeight, PortError


def _tensor(name: str) -> dict[str, Any]:
    return {"class_name": "__keras_tensor__", "config": {"keras_history": [name, 0, 0]}}


def convert_one(class_name: str, config: dict[str, Any], arrays: list[np.ndarray], input_shape: tuple[int, ...],
                name: str = "layer") -> weights_port.Conversion:
    layers = [
        {"class_name": "InputLayer", "name": "in", "inbound_nodes": [],
         "config": {"name": "in", "batch_shape": [None, *input_shape], "dtype": "float32"}},
        {"class_name": class_name, "name": name, "module": "keras.layers", "inbound_nodes": [
            {"args": [_tensor("in")], "kwargs": {}}], "config": {"name": name, "trainable": True, **config}},
    ]
    model = {"class_name": "Functional", "config": {"name": "m", "layers": layers, "input_layers": [["in", 0, 0]],
                                                    "output_layers": [[name, 0, 0]]}}
    weights = tuple(KerasWeight(f"vars/{i}", a.astype(np.float32)) for i, a in enumerate(arrays))
    source = KerasSource("m.keras [test]", [KerasLayer(name, class_name, layers[1]["config"], weights)] if arrays
                         else [], True, keras_version="3.15.1", model_config=model)
    return weights_port.convert(source)


KERNEL = [np.ones((3, 3, 2, 4)), np.zeros(4)]

CASES = [
    ("Conv2D", {"padding": "sameish"}, KERNEL, (8, 8, 2),
     "Keras layer 'layer' (Conv2D): config 'padding' is 'sameish'; Keras allows one of 'same', 'valid'"),
    ("Conv2D", {"data_format": "channels_middle"}, KERNEL, (8, 8, 2),
     "config 'data_format' is 'channels_middle'; Keras allows one of 'channels_first', 'channels_last'"),
    ("UpSampling2D", {"interpolation": "cubic"}, [], (4, 4, 2),
     "config 'interpolation' is 'cubic'; Keras allows one of 'area', 'bicubic', 'bilinear', 'lanczos3'"),
    ("Conv2D", {"strides": [0, 1]}, KERNEL, (8, 8, 2),
     "config 'strides' is [0, 1]; Keras allows 2 positive integers (or one for all axes)"),
    ("Conv2D", {"dilation_rate": -1}, KERNEL, (8, 8, 2), "config 'dilation_rate' is -1; Keras allows 2 positive"),
    ("Conv2D", {"kernel_size": [5, 5]}, KERNEL, (8, 8, 2),
     "config 'kernel_size' is [5, 5] but its weights hold a kernel of size (3, 3); the file is inconsistent"),
    ("Conv2D", {"strides": 2, "dilation_rate": 2}, KERNEL, (8, 8, 2),
     "config 'strides' 2 and 'dilation_rate' 2 are both above 1, which Keras does not allow"),
    ("Conv2D", {"filters": 5}, KERNEL, (8, 8, 2), "config 'filters' is 5 but its weights hold filters: 4"),
    ("Conv2D", {"groups": 3}, [np.ones((3, 3, 1, 4)), np.zeros(4)], (8, 8, 3),
     "config 'groups' is 3, which does not divide its 4 filters"),
    ("Conv2D", {"strides": "2"}, KERNEL, (8, 8, 2), "config 'strides' is '2'; Keras allows 2 positive integers"),
    ("Conv2D", {"use_bias": False}, KERNEL, (8, 8, 2), "config 'use_bias' is False but its weights hold a bias: True"),
    ("Conv2D", {}, KERNEL, (8, 8, 5), "its input has 5 channels, its weights expect 2; the file is inconsistent"),
    ("Conv2D", {"padding": "valid"}, KERNEL, (2, 8, 2), "a 3 window over input (2, 8) leaves no output"),
    ("MaxPooling2D", {"pool_size": 0}, [], (8, 8, 2), "config 'pool_size' is 0; Keras allows 2 positive integers"),
    ("MaxPooling2D", {"pool_size": [2, 2], "strides": [1, -1]}, [], (8, 8, 2), "config 'strides' is [1, -1]"),
    ("AveragePooling2D", {"padding": 3}, [], (8, 8, 2), "config 'padding' is 3; Keras allows one of 'same', 'valid'"),
    ("Reshape", {"target_shape": [7, 7]}, [], (4,), "config 'target_shape' is [7, 7], which cannot hold its input"),
    ("Reshape", {"target_shape": [-1, -1]}, [], (4,), "a list of positive sizes with at most 1 -1"),
    ("Reshape", {"target_shape": [2**20, 2**20, 2**20]}, [], (4,), "at most 2147483648 elements"),
    ("Permute", {"dims": [1, 1]}, [], (3, 4), "config 'dims' is [1, 1]; Keras allows a permutation of 1..2"),
    ("RepeatVector", {"n": -3}, [], (4,), "config 'n' is -3; Keras allows an integer ≥ 1"),
    ("RepeatVector", {"n": 2**40}, [], (4,), "config 'n' is 1099511627776; Keras allows an integer ≥ 1 (at most"),
    ("Cropping2D", {"cropping": [[5, 5], [0, 0]]}, [], (8, 8, 2), "leaves nothing of an axis of size 8"),
    ("ZeroPadding2D", {"padding": -1}, [], (8, 8, 2), "config 'padding' is -1; Keras allows non-negative integers"),
    ("BatchNormalization", {"epsilon": float("nan")}, [np.ones(2), np.zeros(2), np.zeros(2), np.ones(2)], (4, 2),
     "config 'epsilon' is nan; Keras allows a finite number"),
    ("BatchNormalization", {"axis": "x"}, [np.ones(2)] * 4, (4, 2), "config 'axis' is 'x'; Keras allows an integer"),
    ("LeakyReLU", {"negative_slope": float("inf")}, [], (4,), "config 'negative_slope' is inf; Keras allows a finite"),
    ("ReLU", {"max_value": -1.0}, [], (4,), "config 'max_value' is -1.0; Keras allows a finite number ≥ 0"),
    ("Softmax", {"axis": 5}, [], (4,), "config 'axis' is 5; Keras allows distinct axes between 1 and 1"),
    ("Dense", {"units": 3}, [np.ones((4, 2)), np.zeros(2)], (4,), "config 'units' is 3 but its weights hold units 2"),
    ("Dense", {"activation": 5}, [np.ones((4, 2)), np.zeros(2)], (4,),
     "config 'activation' is 5; Keras allows one of Keras's activations"),
    ("Dense", {"use_bias": "yes"}, [np.ones((4, 2)), np.zeros(2)], (4,), "config 'use_bias' is 'yes'; Keras allows"),
    ("Rescaling", {"scale": float("nan")}, [], (4,), "config 'scale' is nan; Keras allows finite numbers"),
    ("Embedding", {"input_dim": 7}, [np.ones((5, 3))], (4,), "config 'input_dim' is 7 but its weights hold a"),
    ("GroupNormalization", {"groups": 3}, [np.ones(4), np.zeros(4)], (5, 4),
     "config 'groups' is 3, which does not divide its 4 channels"),
    ("Dropout", {"rate": 1.5}, [], (4,), "config 'rate' is 1.5; Keras allows a finite number ≥ 0 and ≤ 1"),
    ("LSTM", {"units": 5}, [np.ones((3, 8)), np.ones((2, 8)), np.zeros(8)], (6, 3),
     "config 'units' is 5 but its weights hold units: 2"),
    ("Dense", {}, [np.ones((4, 2)), np.zeros(2), np.zeros(2)], (4,), "its weights hold 3 arrays; a Dense holds"),
]


@pytest.mark.parametrize(("class_name", "config", "arrays", "shape", "message"), CASES,
                         ids=[f"{c[0]}-{next(iter(c[1]), 'weights')}" for c in CASES])
def test_a_value_keras_refuses_is_refused_in_one_line(class_name: str, config: dict[str, Any], arrays: list[np.ndarray],
                                                      shape: tuple[int, ...], message: str) -> None:
    with pytest.raises(PortError) as refused:
        convert_one(class_name, config, arrays, shape)
    text = str(refused.value)
    assert message in text, text
    assert "\n" not in text and len(text) < 400


def test_a_declared_input_too_large_is_refused_before_anything_is_allocated() -> None:
    with pytest.raises(KerasFileError, match=r"has more than 2147483648 elements per sample"):
        convert_one("Flatten", {}, [], (2**20, 2**20, 3))
    with pytest.raises(KerasFileError, match=r"its shape \[None, 0\] is not a list of positive sizes"):
        convert_one("Flatten", {}, [], (0,))


def test_nan_constants_never_reach_the_source_and_inf_needs_no_bare_name() -> None:
    """A finite config converts; the only infinities in generated code are the generator's own (max-pool padding)."""
    conversion = convert_one("MaxPooling2D", {"pool_size": 3, "strides": 2, "padding": "same"}, [], (8, 8, 2))
    assert "float(\"-inf\")" in conversion.source.replace("'", '"') or "-float" in conversion.source
    assert "nan" not in conversion.source
    with pytest.raises(ConfigValueError):
        convert_one("ELU", {"alpha": float("nan")}, [], (4,))


@pytest.mark.parametrize(("config", "message"), [
    ({"kernel_initializer": 1}, "config 'kernel_initializer' is 1; Keras allows one of Keras's initializers"),
    ({"bias_regularizer": "l3"}, "config 'bias_regularizer' is 'l3'; Keras allows one of Keras's regularizers"),
    ({"kernel_constraint": {"class_name": "Evil", "config": {}}}, "Keras allows one of Keras's constraints"),
    ({"trainable": 1}, "config 'trainable' is 1; Keras allows true or false"),
    ({"dtype": "float31"}, "config 'dtype' is 'float31'; Keras allows a dtype name or a DTypePolicy"),
    ({"evil": 1}, "config key 'evil' is not an argument of Keras's Dense, so Keras refuses the file too"),
    ({"units": None}, "config 'units' is None; Keras allows an integer"),
])
def test_what_keras_cannot_deserialize_is_refused(config: dict[str, Any], message: str) -> None:
    """Keys and values that only matter for training still decide whether Keras can load the file at all."""
    with pytest.raises(ConfigValueError) as refused:
        convert_one("Dense", config, [np.ones((4, 2)), np.zeros(2)], (4,))
    assert message in str(refused.value), str(refused.value)


def test_a_layer_keras_accepts_still_converts() -> None:
    """The checks refuse what Keras refuses and nothing else: Keras lower-cases padding and data_format."""
    conversion = convert_one("Conv2D", {"padding": "SAME", "data_format": "Channels_Last", "strides": [1, 1]}, KERNEL,
                             (8, 8, 2))
    assert "nn.Conv2d(2, 4, kernel_size=3, padding=1)" in conversion.source
