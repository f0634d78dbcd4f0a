"""Any Keras model → generated PyTorch source, proven against Keras (weights_port.convert).

Each model below is written independently of the converter, randomised (biases and
statistics included), saved to a real file, converted, and compared with Keras in float32
and float64 by ``check_conversion``; legacy tf.keras models are compared with tf.keras.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import keras
import numpy as np
import pytest
import tf_keras
import torch
from keras import layers as L
from keras import ops
from subprocess_helpers import run_python

import weights_port
from equivalence_tests import check_conversion, randomise_keras_weights
from equivalence_tests._convert_check import instantiate
from weights_port import UnsupportedLayerError


def _saved(model, tmp_path: Path, name: str = "model.keras", calibrate: bool = True) -> Path:
    rng = np.random.default_rng(0)
    shapes = [(8, *[4 if d is None else d for d in t.shape[1:]]) for t in model.inputs]
    inputs = [rng.uniform(-1, 1, shape).astype("float32") if "int" not in str(t.dtype) else rng.integers(0, 5, shape)
              for t, shape in zip(model.inputs, shapes, strict=True)]
    randomise_keras_weights(model, rng, calibration=inputs if calibrate else None)
    path = tmp_path / name
    model.save(path)
    return path


def _assert_equivalent(path: Path, weights: Path | None = None) -> None:
    check = check_conversion(path, weights)
    assert check.passed, (check.results, check.reports)
    assert {r.dtype for r in check.results} == {"float32", "float64"}


def test_image_layers(tmp_path: Path) -> None:
    image = keras.Input((13, 12, 3))
    x = L.Rescaling(1 / 127.5, offset=-1)(image)
    x = L.Normalization(mean=[0.1, 0.2, 0.3], variance=[1.5, 2.0, 0.5])(x)
    x = L.Conv2D(8, 3, strides=2, padding="same", activation="swish")(x)       # odd size: TF pads bottom/right
    x = L.BatchNormalization(center=False)(x)
    a = L.DepthwiseConv2D(3, depth_multiplier=2, padding="same", activation="relu6")(x)
    b = L.SeparableConv2D(16, 3, padding="same", dilation_rate=2)(x)
    x = L.Add()([a, b])
    x = L.Conv2D(16, 3, padding="same", groups=4)(x)
    x = L.PReLU(shared_axes=[1, 2])(x)
    x = L.LayerNormalization()(x)
    x = L.GroupNormalization(groups=4)(x)
    x = L.ZeroPadding2D(((1, 2), (0, 1)))(x)
    x = L.Cropping2D(((0, 1), (1, 0)))(x)
    x = L.MaxPooling2D(3, strides=2, padding="same")(x)
    t = L.Conv2DTranspose(8, 3, strides=2, padding="same")(x)
    t = L.AveragePooling2D(2, padding="same")(t)
    u = L.UpSampling2D(interpolation="bilinear")(L.Conv2D(8, 1)(x))
    u = L.AveragePooling2D(3, strides=2, padding="same")(u)
    x = L.Concatenate()([L.LeakyReLU(0.1)(t), L.ELU(0.5)(u), L.ReLU(max_value=2.0, threshold=0.1)(t)])
    x = L.Dense(6)(x)                                                            # over channels: a 1×1 conv
    merged = [L.Subtract()([x, x * 0.5]), L.Multiply()([x, x]), L.Average()([x, x]), L.Maximum()([x, -x]),
              L.Minimum()([x, -x])]
    x = L.Concatenate(axis=1)(merged)                                            # along height
    pooled = L.GlobalAveragePooling2D(keepdims=True)(x)
    x = L.Multiply()([x, L.Activation("sigmoid")(pooled)])
    x = L.Conv2DTranspose(4, 2, strides=1, padding="valid")(x)
    flat = L.Dense(5)(L.Flatten()(x))                                            # rows permuted at conversion
    head = L.Softmax()(L.Dense(7)(L.GlobalMaxPooling2D()(x)))
    _assert_equivalent(_saved(keras.Model(image, [flat, head]), tmp_path))


def test_flattening_a_one_by_one_map_needs_no_reordering(tmp_path: Path) -> None:
    """MobileNetV3's classifier: 1×1 convolutions on the pooled (N, 1, 1, C) map, then Flatten and softmax. Both
    layouts flatten to the channels, so the output is the flattened logits with no move back to Keras's order."""
    image = keras.Input((9, 9, 3))
    x = L.GlobalAveragePooling2D(keepdims=True)(L.Conv2D(6, 3)(image))
    x = L.Flatten()(L.Conv2D(5, 1, name="logits")(L.Conv2D(8, 1, activation="hard_swish")(x)))
    path = _saved(keras.Model(image, L.Softmax()(x)), tmp_path)
    _assert_equivalent(path)
    source = weights_port.convert(path).source
    assert "x = x.flatten(1)\n        return F.softmax(x, dim=1)" in source and "movedim" not in source


def test_one_and_three_dimensional_layers(tmp_path: Path) -> None:
    signal = keras.Input((20, 3))
    x = L.Conv1D(6, 3, padding="causal", dilation_rate=2, activation="tanh")(signal)
    x = L.DepthwiseConv1D(3, padding="same")(x)
    x = L.SeparableConv1D(5, 3, strides=2, padding="same")(x)
    x = L.ZeroPadding1D((1, 2))(x)
    x = L.Cropping1D((2, 0))(x)
    x = L.Conv1DTranspose(4, 3, strides=2)(x)
    x = L.UpSampling1D(2)(x)
    x = L.MaxPooling1D(2, padding="same")(x)
    x = L.AveragePooling1D(3, strides=1)(x)
    seq_out = L.GlobalAveragePooling1D()(x)
    volume = keras.Input((6, 7, 5, 2))
    v = L.Conv3D(4, 3, padding="same", strides=(1, 2, 1))(volume)
    v = L.ZeroPadding3D(1)(v)
    v = L.Cropping3D(((1, 0), (0, 1), (1, 1)))(v)
    v = L.UpSampling3D((1, 2, 1))(v)
    v = L.Conv3DTranspose(3, 2, strides=2)(v)
    vol_out = L.Dense(3)(L.GlobalMaxPooling3D()(v))
    _assert_equivalent(_saved(keras.Model([signal, volume], [seq_out, vol_out]), tmp_path))


def test_sequence_layers_and_activations(tmp_path: Path) -> None:
    tokens = keras.Input((9,), dtype="int32")
    meta = keras.Input((4,))
    x = L.Embedding(30, 6)(tokens)
    x = L.LSTM(5, return_sequences=True)(x)
    x = L.Bidirectional(L.GRU(4, return_sequences=True), merge_mode="sum")(x)
    x = L.TimeDistributed(L.Dense(6, activation="gelu"))(x)
    back = L.SimpleRNN(3, go_backwards=True, return_sequences=True, activation="relu")(x)
    seq, state = L.GRU(4, return_state=True)(x)
    both = L.Bidirectional(L.LSTM(3, return_state=True))(back)
    x = L.Concatenate()([seq, state, both[0], both[2], both[4], meta])
    x = L.Dense(8, activation="selu")(x)
    r = L.RepeatVector(3)(x)
    r = L.Permute((2, 1))(r)
    r = L.Reshape((4, 6))(r)
    r = L.LayerNormalization(axis=[1, 2])(r)
    dot = L.Dot(axes=(1, 1))([r, r])
    activations = [L.Activation(name)(x) for name in ("softplus", "softsign", "elu", "hard_sigmoid", "exponential",
                                                      "mish", "tanh", "silu", "hard_silu", "log_softmax")]
    model = keras.Model([tokens, meta], [L.Flatten()(dot), *activations])
    _assert_equivalent(_saved(model, tmp_path))


def test_three_dimensional_pooling_in_float32(tmp_path: Path) -> None:
    """TensorFlow has no float64 MaxPool3D/AvgPool3D CPU kernel: Keras cannot run this in float64; the check says so."""
    volume = keras.Input((6, 7, 5, 2))
    x = L.MaxPooling3D((2, 3, 2), strides=(2, 2, 1), padding="same")(L.Conv3D(3, 2)(volume))
    out = L.AveragePooling3D(2, padding="same")(x)
    path = _saved(keras.Model(volume, out), tmp_path)
    check = check_conversion(path)
    assert [r.dtype for r in check.results] == ["float32"] and check.passed
    assert any("float64 not checked" in note and "MaxPool3D" in note for note in check.notes), check.notes


def test_keras3_operation_nodes(tmp_path: Path) -> None:
    image = keras.Input((6, 5, 4))
    x = L.Conv2D(4, 3, padding="same")(image)
    y = ops.relu6(x + 3.0) * (1.0 / 6.0)                       # MobileNetV3's hard sigmoid
    m = ops.mean(y, axis=(1, 2), keepdims=True)
    z = ops.concatenate([y * m, ops.maximum(x, 0.5)], axis=-1)
    z = ops.transpose(ops.reshape(z, (-1, 30, 8)), (0, 2, 1))
    z = ops.expand_dims(ops.sum(z, axis=-1), 1)
    out = ops.squeeze(ops.sqrt(ops.square(z) + 1.0), axis=1) - ops.abs(ops.squeeze(z, axis=1))  # abs: "Absolute"
    model = keras.Model(image, out)
    _assert_equivalent(_saved(model, tmp_path))
    model.save(tmp_path / "legacy.h5")  # legacy configs drop the operations' module; Keras cannot reload this file
    check = check_conversion(tmp_path / "legacy.h5", keras_model=model)
    assert check.passed, check.reports


def _tf_keras_compare(model, conversion, inputs: list[np.ndarray]) -> float:
    expected = model(inputs if len(inputs) > 1 else inputs[0], training=False)
    expected = expected if isinstance(expected, list) else [expected]
    module = instantiate(conversion)
    tensors = [torch.from_numpy(a.transpose(e["permutation"]).copy()) for a, e in zip(inputs, conversion.manifest["inputs"],
                                                                                   strict=True)]
    actual = module(*tensors)
    actual = actual if isinstance(actual, tuple) else (actual,)
    return max(float(np.abs(a.detach().numpy() - np.asarray(e).transpose(spec["permutation"])).max())
               for a, e, spec in zip(actual, expected, conversion.manifest["outputs"], strict=True))


def test_legacy_recurrent_forms_convert_exactly(tmp_path: Path) -> None:
    """Keras 2's default gates (hard_sigmoid, clip(0.2x + 0.5)) and a reset-before GRU, from tf.keras."""
    K = tf_keras
    x = K.Input((7, 3), dtype="float64")
    h = K.layers.LSTM(5, recurrent_activation="hard_sigmoid", return_sequences=True, dtype="float64")(x)
    h = K.layers.GRU(4, reset_after=False, return_sequences=True, dtype="float64")(h)
    h = K.layers.Bidirectional(K.layers.GRU(3, reset_after=False, recurrent_activation="hard_sigmoid",
                                            dtype="float64"), dtype="float64")(h)
    model = K.Model(x, K.layers.Dense(2, dtype="float64")(h))
    rng = np.random.default_rng(3)
    model.set_weights([rng.uniform(-0.8, 0.8, w.shape) for w in model.get_weights()])
    model.save(tmp_path / "legacy.h5")
    (tmp_path / "arch.json").write_text(model.to_json())
    model.save_weights(tmp_path / "weights.h5")
    inputs = [rng.uniform(-2, 2, (3, 7, 3))]
    for conversion in (weights_port.convert(tmp_path / "legacy.h5", dtype="float64"),
                       weights_port.convert(tmp_path / "arch.json", tmp_path / "weights.h5", dtype="float64")):
        assert "RecurrentLoop(" in conversion.source and "hard_sigmoid_keras2" in conversion.source
        assert _tf_keras_compare(model, conversion, inputs) < 1e-12


def test_tf_keras_tf_op_layers(tmp_path: Path) -> None:
    import tensorflow as tf

    K = tf_keras
    x = K.Input((4, 5))
    y = K.layers.Dense(5)(x)
    z = tf.math.add(y, 2.0) * x
    z = tf.reduce_mean(z, axis=1, keepdims=True)
    z = tf.concat([z, tf.math.maximum(z, 0.3)], axis=-1)
    z = tf.reshape(z, (-1, 5, 2))
    z = tf.transpose(z, perm=[0, 2, 1])
    model = K.Model(x, tf.nn.relu(tf.squeeze(tf.expand_dims(z, 1), axis=1)))
    rng = np.random.default_rng(4)
    model.set_weights([rng.uniform(-1, 1, w.shape).astype("float32") for w in model.get_weights()])
    model.save(tmp_path / "ops.h5")
    conversion = weights_port.convert(tmp_path / "ops.h5")
    assert _tf_keras_compare(model, conversion, [rng.uniform(-1, 1, (3, 4, 5)).astype("float32")]) < 1e-5


@pytest.mark.sweep  # the applications sweep (nox -s convert) proves every application in both formats; the default
def test_one_application_in_both_formats(tmp_path: Path) -> None:  # run keeps test_blocks' real ResNet50
    model = keras.applications.MobileNetV2(input_shape=(32, 32, 3), alpha=0.35, weights=None, classes=5)
    path = _saved(model, tmp_path)
    _assert_equivalent(path)
    legacy = tmp_path / "legacy.h5"
    model.save(legacy)
    _assert_equivalent(legacy)


# --------------------------------------------------------------------------- the generated source


@pytest.fixture(scope="module")
def small_cnn(tmp_path_factory: pytest.TempPathFactory) -> Path:
    image = keras.Input((10, 10, 3), name="image")
    x = L.Conv2D(4, 3, strides=2, padding="same", activation="relu", name="Stem-Conv")(image)
    x = L.MaxPooling2D(name="pool")(x)
    logits = L.Dense(3, name="logits")(L.Flatten(name="flatten")(x))
    return _saved(keras.Model(image, [logits, x], name="small_cnn"), tmp_path_factory.mktemp("cnn"), calibrate=False)


def test_the_source_is_deterministic_lint_clean_and_exportable(small_cnn: Path, tmp_path: Path) -> None:
    first, second = weights_port.convert(small_cnn), weights_port.convert(small_cnn)
    assert first.source == second.source and first.class_name == "SmallCnn"
    written = first.write(tmp_path)
    assert [p.name for p in written] == ["small_cnn.py", "small_cnn.safetensors", "small_cnn.json"]
    lint = subprocess.run([sys.executable, "-m", "ruff", "check", "--isolated", str(written[0])],
                          capture_output=True, text=True)
    assert lint.returncode == 0, lint.stdout
    module = instantiate(first)
    exported = torch.export.export(module, (torch.randn(2, 3, 10, 10),))
    assert exported.module()(torch.ones(2, 3, 10, 10))[0].shape == (2, 3)
    assert "self.stem_conv = nn.Conv2d(3, 4, kernel_size=3, stride=2" in first.source
    assert "def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:" in first.source


def test_the_manifest_states_layouts_and_the_layer_map(small_cnn: Path, tmp_path: Path) -> None:
    conversion = weights_port.convert(small_cnn)
    conversion.write(tmp_path, "net")
    manifest = json.loads((tmp_path / "net.json").read_text())
    assert manifest["class_name"] == "SmallCnn"
    assert manifest["inputs"] == [{"name": "image", "torch_name": "image", "keras_shape": [None, 10, 10, 3],
                                   "torch_shape": [None, 3, 10, 10], "permutation": [0, 3, 1, 2], "dtype": "float"}]
    assert [o["permutation"] for o in manifest["outputs"]] == [[0, 1], [0, 3, 1, 2]]
    assert manifest["layers"]["Stem-Conv"]["modules"] == ["stem_conv"]
    assert manifest["layers"]["flatten"]["flat_from"] == [4, 2, 2]
    assert manifest["names"]["attributes"]["stem_conv"] == "Stem-Conv"


def test_float64_conversion_is_a_float64_module(small_cnn: Path) -> None:
    conversion = weights_port.convert(small_cnn, dtype="float64")
    assert all(a.dtype == np.float64 for a in conversion.state_dict.values())
    assert "self.to(torch.float64)" in conversion.source
    assert next(instantiate(conversion).parameters()).dtype == torch.float64


def test_conversion_imports_neither_tensorflow_nor_keras(small_cnn: Path, tmp_path: Path) -> None:
    result = run_python(f"""
        import sys, weights_port
        weights_port.convert({str(small_cnn)!r}).write({str(tmp_path)!r})
        print(sorted(m for m in ("tensorflow", "keras", "tf_keras") if m in sys.modules))
    """, not_installed=("tensorflow", "keras", "tf_keras"))
    assert result.returncode == 0 and result.stdout.strip() == "[]", result.stderr


def test_a_lambda_is_refused_by_name_and_never_run(tmp_path: Path) -> None:
    marker = tmp_path / "ran"
    x = keras.Input((3,))
    y = L.Lambda(eval(f"lambda t: (open({str(marker)!r}, 'w').close(), t)[1]"), name="my_lambda")(x)
    keras.Model(x, L.Dense(2)(y)).save(tmp_path / "lambda.keras")
    marker.unlink(missing_ok=True)
    with pytest.raises(UnsupportedLayerError, match="'my_lambda' \\(Lambda\\) holds Python code, which is never run"):
        weights_port.convert(tmp_path / "lambda.keras")
    assert not marker.exists()


def test_check_names_the_first_layer_that_differs(small_cnn: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A converter whose conv rule forgets the fused activation: the report blames that layer."""
    from weights_port.conversion import _rules_core

    original = _rules_core.apply_activation
    monkeypatch.setattr(_rules_core, "apply_activation",
                        lambda em, layer, value, activation, fused=True: value if layer.name == "Stem-Conv"
                        else original(em, layer, value, activation, fused))
    check = check_conversion(small_cnn, dtypes=("float64",))
    assert not check.passed
    assert "diverges at Keras layer 'Stem-Conv' (Conv2D) → stem_conv" in check.reports[0]


def test_cli_convert_with_check(small_cnn: Path, tmp_path: Path, capsys) -> None:
    from zoo._cli import main

    code = main(["convert", str(small_cnn), "-o", str(tmp_path / "out"), "--class-name", "Net", "--check"])
    out = capsys.readouterr().out
    assert code == 0, out
    assert "wrote" in out and "float64  logits" in out and "MISMATCH" not in out
    assert (tmp_path / "out" / "net.py").exists()
    code = main(["convert", str(tmp_path / "missing.keras"), "-o", str(tmp_path / "x")])
    assert code == 2 and "no such file" in capsys.readouterr().err


def test_tensorflow_op_layers_of_older_tf_keras(tmp_path: Path) -> None:
    """tf.keras 2.0–2.3 recorded raw TensorFlow ops as TensorFlowOpLayer (a NodeDef and its constants)."""
    import h5py
    import tensorflow as tf

    K = tf_keras
    image = K.Input((6, 5, 3))
    x = K.layers.Conv2D(4, 3, padding="same")(image)
    x = tf.pad(x, [[0, 0], [1, 2], [0, 1], [0, 0]])
    x = tf.nn.relu(x)
    x = tf.reduce_mean(x, axis=[1, 2])
    x = tf.math.add(x, 0.5)
    model = K.Model(image, K.layers.Dense(2)(x))
    rng = np.random.default_rng(6)
    model.set_weights([rng.uniform(-1, 1, w.shape).astype("float32") for w in model.get_weights()])
    model.save(tmp_path / "ops.h5")
    raw = {"tf.compat.v1.pad": ("Pad", {1: [[0, 0], [1, 2], [0, 1], [0, 0]]}, {}),
           "tf.nn.relu": ("Relu", {}, {}),
           "tf.math.reduce_mean": ("Mean", {1: [1, 2]}, {"keep_dims": {"b": False}}),
           "tf.math.add": ("AddV2", {1: 0.5}, {})}
    with h5py.File(tmp_path / "ops.h5", "r+") as h5:
        config = json.loads(h5.attrs["model_config"])
        for entry in config["config"]["layers"]:
            if entry["class_name"] == "TFOpLambda":
                op, constants, attr = raw[entry["config"]["name"].rsplit("_", 1)[0] if entry["config"]["name"][-1].isdigit()
                                          else entry["config"]["name"]]
                entry["class_name"] = "TensorFlowOpLayer"
                entry["config"] = {"name": op, "trainable": True, "dtype": "float32", "constants": constants,
                                   "node_def": {"name": op, "op": op, "input": [], "attr": attr}}
                entry["inbound_nodes"] = [[[*ref[:3], {}] for ref in node] if isinstance(node[0], list)
                                          else [[*node[:3], {}]] for node in entry["inbound_nodes"]]
        h5.attrs["model_config"] = json.dumps(config)
    conversion = weights_port.convert(tmp_path / "ops.h5")
    assert "F.pad(" in conversion.source and "movedim" not in conversion.source  # spatial padding stays channels-first
    assert _tf_keras_compare(model, conversion, [rng.uniform(-1, 1, (3, 6, 5, 3)).astype("float32")]) < 1e-5


def test_a_sequential_chain_becomes_nn_sequential(tmp_path: Path) -> None:
    """A Keras Sequential that is no classifier (a map to a map) is an ``nn.Sequential`` of its layers; one that
    ends in a Dense classifier gets a replaceable head instead (test_blocks: its repeated units become blocks)."""
    model = keras.Sequential([keras.Input((12, 12, 3)), L.Conv2D(4, 3, activation="relu", name="conv"), L.MaxPooling2D(),
                              L.Conv2D(6, 3, padding="same"), L.Activation("tanh"), L.Dropout(0.3),
                              L.Conv2D(1, 1, activation="sigmoid", name="mask")], name="chain")
    path = _saved(model, tmp_path)
    conversion = weights_port.convert(path)
    assert "class Chain(nn.Sequential):" in conversion.source and "def forward" not in conversion.source
    module = conversion.build()
    assert isinstance(module, torch.nn.Sequential) and list(dict(module.named_children()))[:2] == ["conv", "conv_relu"]
    torch.export.export(module, (torch.randn(2, 3, 12, 12),))
    _assert_equivalent(path)
    classifier = keras.Sequential([keras.Input((12, 12, 3)), L.Conv2D(4, 3, activation="relu"), L.Flatten(),
                                   L.Dense(5, activation="softmax")], name="classifier")
    source = weights_port.convert(_saved(classifier, tmp_path, "classifier.keras")).source
    assert "(nn.Sequential)" not in source and "self.head = nn.Linear(400, 5)" in source
    assert "return F.softmax(x, dim=1)" in source.split("def forward(", 1)[1]


def test_an_architecture_json_with_keras3_weights(tmp_path: Path) -> None:
    image = keras.Input((8, 8, 2))
    x = L.Conv2D(3, 3, activation="relu")(image)
    x = L.BatchNormalization()(x)
    model = keras.Model(image, L.Dense(4)(L.GlobalAveragePooling2D()(x)))
    _saved(model, tmp_path)
    (tmp_path / "arch.json").write_text(model.to_json())
    model.save_weights(tmp_path / "model.weights.h5")
    _assert_equivalent(tmp_path / "arch.json", tmp_path / "model.weights.h5")


def test_a_free_sequence_length_stays_free(tmp_path: Path) -> None:
    tokens = keras.Input((None,), dtype="int32")
    x = L.Bidirectional(L.GRU(3, return_sequences=True))(L.Embedding(20, 4)(tokens))
    x = L.GlobalMaxPooling1D()(L.Conv1D(5, 3, padding="same")(x))
    model = keras.Model(tokens, L.Dense(2)(x))
    conversion = weights_port.convert(_saved(model, tmp_path))
    assert conversion.manifest["inputs"][0]["keras_shape"] == [None, None]
    module = conversion.build()
    for length in (3, 11):
        ids = np.random.default_rng(length).integers(0, 20, (2, length))
        with torch.no_grad():
            assert np.abs(module(torch.from_numpy(ids)).numpy() - model(ids).numpy()).max() < 1e-5


def _free_size_model(tmp_path: Path) -> Path:
    """Four strided 3×3 valid convolutions on a free image size: too small an input (7×7) leaves nothing."""
    image = keras.Input((None, None, 3))
    x = image
    for filters in (4, 6, 8, 8):
        x = L.Conv2D(filters, 3, strides=2, activation="relu")(x)
    return _saved(keras.Model(image, L.Dense(3)(L.GlobalAveragePooling2D()(x))), tmp_path, calibrate=False)


def test_check_finds_an_input_size_a_free_shape_model_accepts(tmp_path: Path, capsys) -> None:
    from equivalence_tests._convert_check import input_shapes
    from zoo._cli import main

    path = _free_size_model(tmp_path)
    model = keras.models.load_model(path, compile=False)
    assert input_shapes(model) == [(32, 32, 3)]
    assert main(["convert", str(path), "-o", str(tmp_path / "out"), "--check"]) == 0
    assert main(["convert", str(path), "-o", str(tmp_path / "out2"), "--check", "--input-shape", "40,48,3"]) == 0
    assert "MISMATCH" not in capsys.readouterr().out
    assert main(["convert", str(path), "-o", str(tmp_path / "out3"), "--check", "--input-shape", "5,5,3"]) == 2
    error = capsys.readouterr().err
    assert error.startswith("zoo: error: ") and error.count("\n") == 1 and "Traceback" not in error


def _locals_at_return(module: torch.nn.Module, *inputs: torch.Tensor) -> dict[str, object]:
    captured: dict[str, object] = {}
    code = type(module).forward.__code__

    def profile(frame: Any, event: str, arg: Any) -> None:
        if event == "return" and frame.f_code is code:
            captured.update(frame.f_locals)

    sys.setprofile(profile)
    try:
        with torch.no_grad():
            module(*inputs)
    finally:
        sys.setprofile(None)
    return captured


def test_forward_releases_each_intermediate_after_its_last_use(tmp_path: Path) -> None:
    """A residual model: the written ``forward`` rebinds one trunk variable and ``del``s a branch once the sum has
    read it, so at ``return`` no tensor but the output is held; ``keep_intermediates`` keeps every layer's value
    (what ``--check`` reads to name the first layer that differs). Both compute the same numbers."""
    x = keras.Input((8, 8, 3))
    y = L.Conv2D(4, 3, padding="same", activation="relu", name="stem")(x)
    branch = L.BatchNormalization()(L.Conv2D(4, 3, padding="same")(y))
    y = L.Activation("relu")(L.Add()([y, branch]))
    both = L.Concatenate()([L.GlobalAveragePooling2D()(y), L.GlobalMaxPooling2D()(y)])
    conversion = weights_port.convert(_saved(keras.Model(x, L.Dense(3, activation="softmax")(both)), tmp_path))
    forward = conversion.source[conversion.source.index("def forward"):]
    assert "x = self.stem(x)" in forward and "del " in forward
    image = torch.from_numpy(np.random.default_rng(2).uniform(-1, 1, (2, 3, 8, 8)).astype("float32"))
    released, kept = conversion.build(), conversion.build(keep_intermediates=True)
    tensors = {k for k, v in _locals_at_return(released, image).items() if isinstance(v, torch.Tensor)}
    assert len(tensors) == 1, tensors                      # the output alone (the input was rebound)
    kept_locals = _locals_at_return(kept, image)
    assert all(entry["output"] in kept_locals for entry in conversion.manifest["layers"].values())
    with torch.no_grad():
        assert torch.equal(released(image), kept(image))


def test_dropout_layers_are_torch_dropout_modules(tmp_path: Path) -> None:
    """Dropout, AlphaDropout and SpatialDropout2D become nn.Dropout, nn.AlphaDropout and nn.Dropout2d with Keras's
    rate: identity in eval() (the equivalence check), and in train() the same kind of noise as Keras's training=True
    (kept values scaled by 1/(1-rate); spatial dropout zeroes whole channels)."""
    x = keras.Input((6, 6, 4))
    y = L.SpatialDropout2D(0.5)(L.Conv2D(8, 1)(x))
    y = L.AlphaDropout(0.2)(L.Dropout(0.5)(L.Dense(16, activation="selu")(L.Flatten()(y))))
    path = _saved(keras.Model(x, L.Dense(2)(y)), tmp_path)
    _assert_equivalent(path)
    module = weights_port.convert(path).build()
    kinds = {type(m).__name__: getattr(m, "p", None) for m in module.modules()}
    assert kinds["Dropout"] == 0.5 and kinds["AlphaDropout"] == 0.2 and kinds["Dropout2d"] == 0.5
    spatial = next(m for m in module.modules() if isinstance(m, torch.nn.Dropout2d)).train()
    ones = torch.ones(64, 8, 6, 6)
    dropped = spatial(ones)
    per_channel = dropped.flatten(2)
    assert torch.all((per_channel == 0).all(-1) | (per_channel == 2.0).all(-1))  # whole channels, scaled by 1/(1-p)


@pytest.mark.parametrize("flavour", ["keras", "tf_keras"])
def test_time_distributed_around_a_nested_model(flavour: str, tmp_path: Path) -> None:
    """``TimeDistributed(Sequential)`` and ``TimeDistributed(functional)`` (a per-frame CNN before an LSTM): batch
    and time merged, the wrapped model's layers inlined with their weights from the wrapper, split again."""
    K = keras if flavour == "keras" else tf_keras
    frames = K.Input((4, 8, 8, 3))
    cnn = K.Sequential([K.Input((8, 8, 3)), K.layers.Conv2D(4, 3, activation="relu"), K.layers.BatchNormalization(),
                        K.layers.GlobalMaxPooling2D()], name="per_frame")
    image = K.Input((8, 8, 3))
    branch = K.Model(image, K.layers.Dense(3)(K.layers.Flatten()(K.layers.Conv2D(2, 3, strides=2)(image))))
    steps = K.layers.Concatenate()([K.layers.TimeDistributed(cnn)(frames), K.layers.TimeDistributed(branch)(frames)])
    model = K.Model(frames, K.layers.LSTM(2)(steps))
    path = _saved(model, tmp_path, "video.keras" if flavour == "keras" else "video.h5")
    check = check_conversion(path, keras_model=model)
    assert check.passed, (check.results, check.reports)


def test_the_manifest_names_the_weight_a_rearranged_tensor_holds() -> None:
    """A rule that reshapes a kernel itself (attention projections) leaves no porter's record: the manifest finds the
    one file weight with the same values (extremes and sum, and the multiset where the tensor is not large), and
    names none where two weights hold the same values or none does."""
    from weights_port.conversion._emitter import _holding, _Weight

    rng = np.random.default_rng(0)
    kernel, bias = rng.normal(size=(8, 2, 4)), rng.normal(size=8)
    projection = [_Weight("query/vars/0", kernel), _Weight("query/vars/1", bias)]
    assert _holding(projection, kernel.reshape(8, -1).T) == ["query/vars/0"]
    assert _holding(projection, kernel.reshape(8, -1).T * 2) is None
    assert _holding([_Weight("vars/0", np.ones(3)), _Weight("vars/1", np.ones(3))], np.ones(3)) is None
    large = rng.normal(size=(1100, 1000))
    assert _holding([_Weight("vars/0", rng.normal(size=(1100, 1000))), _Weight("vars/1", large)], large.T.copy()) \
        == ["vars/1"]
