"""A model file is data: no text from it reaches generated code except as a constant (weights_port.conversion).

The property puts arbitrary Unicode (quotes, triple quotes, backslashes, line and paragraph
separators, NUL, 100 kB strings, keywords, ``nn.Module`` attribute names, NFKC look-alikes,
code) into every string a file can carry — layer, model, input and output names, the
references between layers, the Keras version, the file name, ``class_name`` — of a real
saved model. The conversion either refuses with a ``PortError`` or yields source that
parses, names only the generator's vocabulary and its own generated identifiers, holds
each such string only inside constants, and imports, builds and runs without touching
the disk or starting a process.
"""

from __future__ import annotations

import ast
import builtins
import keyword
import os
import re
import sys
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import weights_port
from weights_port import KerasLayer, KerasSource, KerasWeight, PortError
from weights_port.conversion._names import MODULE_ATTRIBUTES, RESERVED, snake_identifier
from weights_port.conversion._render import is_generator_local
from weights_port.conversion._vocabulary import F_FUNCTIONS, NN_CLASSES, RUNTIME_HELPERS, TENSOR_METHODS, TORCH_FUNCTIONS

PAYLOAD = 'x"""; __import__("os").system("touch PWNED"); """'
SPECIAL = [
    PAYLOAD, "x'''; import os; '''", '"', "'", '"""', "'''", "\\", "\\n", "\r", "\n", "\u2028", "\u2029", "\u0085",
    "\x00", "#", "{}", "{0}", "%s", "a" * 100_000, "class", "def", "None", "self", "torch", "nn", "F", "OrderedDict",
    "super", "forward", "to", "training", "state_dict", "modules", "_modules", "eval", "__class__", "__init__",
    "__dict__", "_", "ｆｏｒｗａｒｄ", "ﬁlter", "ℌello", "\u202eevil", "λ", "1abc", "", " ", "pad_same", "Normalize",
    "RecurrentLoop", "float", "input", "x", "match", "case", "type",
]
payloads = st.one_of(st.sampled_from(SPECIAL), st.text(max_size=40),
                     st.text(alphabet=st.characters(codec="utf-8"), min_size=1, max_size=12))

VOCABULARY = (TORCH_FUNCTIONS | F_FUNCTIONS | NN_CLASSES | TENSOR_METHODS | RUNTIME_HELPERS |
              {"torch", "nn", "F", "OrderedDict", "self", "super", "float", "tuple", "Tensor", "float64", "__init__",
               "forward", "annotations", "_", "int64", "forward_features", "forward_head", "head", "bool", "device"})
IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")
FOREIGN = set("\"'\\#{};$`!?@") | {chr(c) for c in range(32) if chr(c) != "\n"} | {chr(c) for c in range(127, 0x3000)}
"""Characters generated code never holds outside string constants."""


@pytest.fixture(scope="module")
def saved(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """A real Keras 3 model (two inputs, two outputs, every rule family) saved once: its config and arrays."""
    import keras
    from keras import layers as L

    image = keras.Input((9, 8, 3), name="image")
    tokens = keras.Input((6,), name="tokens", dtype="int32")
    x = L.Conv2D(4, 3, strides=2, padding="same", activation="relu", name="conv")(image)
    x = L.BatchNormalization(name="bn")(x)
    x = L.MaxPooling2D(name="pool")(x)
    x = L.Flatten(name="flat")(x)
    t = L.Embedding(20, 5, name="embed")(tokens)
    t = L.LSTM(3, name="lstm")(t)
    x = L.Concatenate(name="merge")([x, t])
    logits = L.Dense(4, name="logits")(x)
    probability = L.Activation("softmax", name="probability")(logits)
    model = keras.Model([image, tokens], [logits, probability], name="two_heads")
    rng = np.random.default_rng(0)
    model.set_weights([rng.normal(size=w.shape).astype("float32") for w in model.get_weights()])
    path = tmp_path_factory.mktemp("safety") / "model.keras"
    model.save(path)
    with weights_port.open_keras(path) as source:
        layers = [(layer.name, layer.class_name, layer.config, [w.read() for w in layer.weights]) for layer in source]
        config = source.model_config
    return {"config": config, "layers": layers}


def _renamed(value: Any, names: Mapping[str, str]) -> Any:
    """The config with every layer name (entries, references, input/output lists) replaced."""
    if isinstance(value, dict):
        out = {}
        for key, item in value.items():
            if key == "name" and isinstance(item, str) and item in names:
                out[key] = names[item]
            elif key == "keras_history" and isinstance(item, list) and item and item[0] in names:
                out[key] = [names[item[0]], *item[1:]]
            elif key in ("input_layers", "output_layers") and isinstance(item, list):
                out[key] = [[names.get(ref[0], ref[0]), *ref[1:]] for ref in item]
            else:
                out[key] = _renamed(item, names)
        return out
    if isinstance(value, list):
        return [_renamed(v, names) for v in value]
    return value


def _source(saved: Mapping[str, Any], names: Mapping[str, str], model_name: str, version: str) -> KerasSource:
    config = _renamed(saved["config"], names)
    config["config"]["name"] = model_name
    layers = [KerasLayer(names.get(name, name), cls, _renamed(cfg, names),
                         tuple(KerasWeight(f"vars/{i}", array) for i, array in enumerate(arrays)))
              for name, cls, cfg, arrays in saved["layers"]]
    return KerasSource(f"{model_name} [crafted]", layers, True, keras_version=version, model_config=config)


LAYER_NAMES = ["image", "tokens", "conv", "bn", "pool", "flat", "embed", "lstm", "merge", "logits", "probability"]


class _Watch:
    """An audit hook (installed once; hooks cannot be removed) that records writes and processes while armed."""

    armed = False
    events: list[tuple[str, Any]] = []  # noqa: RUF012

    @classmethod
    def hook(cls, event: str, args: tuple[Any, ...]) -> None:
        if not cls.armed:
            return
        if event == "open":
            mode, flags = (*args, None, None)[1:3]
            writes = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_APPEND | os.O_TRUNC
            if (isinstance(mode, str) and set(mode) & set("wax+")) or (isinstance(flags, int) and flags & writes):
                cls.events.append((event, args[0]))
        elif event in ("os.system", "subprocess.Popen", "os.exec", "os.posix_spawn", "os.fork", "os.remove",
                       "os.rename", "os.mkdir", "os.rmdir", "shutil.rmtree", "socket.connect", "os.truncate",
                       "os.chmod", "os.symlink", "os.link", "os.startfile"):
            cls.events.append((event, args[0] if args else None))


sys.addaudithook(_Watch.hook)


@contextmanager
def _watched() -> Iterator[list[tuple[str, Any]]]:
    _Watch.events = []
    _Watch.armed = True
    try:
        yield _Watch.events
    finally:
        _Watch.armed = False


def _assert_safe(conversion: weights_port.Conversion, strings: list[str], tmp_path: Path) -> None:
    text = conversion.source
    tree = ast.parse(text)
    generated = set(conversion.manifest["names"]["attributes"]) | set(conversion.manifest["names"]["locals"]) | \
        {conversion.class_name} | set(conversion.manifest["names"]["class"])
    for node in ast.walk(tree):
        names = []
        if isinstance(node, ast.Name):
            names = [node.id]
        elif isinstance(node, ast.Attribute):
            names = [node.attr]
        elif isinstance(node, ast.arg):
            names = [node.arg]
        elif isinstance(node, ast.FunctionDef | ast.ClassDef):
            names = [node.name]
        for name in names:
            assert IDENTIFIER.match(name) and not keyword.iskeyword(name), name
    model = next(n for n in tree.body if isinstance(n, ast.ClassDef) and n.name == conversion.class_name)
    for node in ast.walk(model):
        if isinstance(node, ast.Name | ast.Attribute | ast.arg):
            name = node.id if isinstance(node, ast.Name) else node.attr if isinstance(node, ast.Attribute) else node.arg
            assert name in VOCABULARY or name in generated or is_generator_local(name, generated), name
    for name in conversion.manifest["names"]["attributes"]:
        assert name not in MODULE_ATTRIBUTES and name not in RESERVED
    stripped = ast.parse(text)
    for node in ast.walk(stripped):
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            node.value = 0
    code_only = ast.unparse(stripped)
    assert not set(code_only) & FOREIGN, "generated code holds a character only file text could bring"
    for string in strings:
        if set(string) & FOREIGN:  # our code never holds these outside constants: finding the string is a leak
            assert string not in code_only, f"{string!r} reached code outside constants"
    before = sorted(os.listdir(tmp_path))
    cwd = os.getcwd()
    os.chdir(tmp_path)
    try:
        with _watched() as events:
            namespace: dict[str, Any] = {"__name__": "converted_under_test"}
            exec(compile(text, "converted.py", "exec"), namespace)  # what importing the written file does
            net = namespace[conversion.class_name]()
            net.load_state_dict({k: torch.from_numpy(np.ascontiguousarray(v)) for k, v in conversion.state_dict.items()})
            inputs = [torch.zeros([2 if d is None else d for d in entry["torch_shape"]],
                                  dtype=torch.int64 if entry["dtype"] == "int64" else torch.float32)
                      for entry in conversion.manifest["inputs"]]
            with torch.no_grad():
                net.eval()(*inputs)
    finally:
        os.chdir(cwd)
    assert events == []
    assert sorted(os.listdir(tmp_path)) == before


@settings(max_examples=int(os.environ.get("ZOO_SAFETY_EXAMPLES", "25")), deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture, HealthCheck.data_too_large])
@given(names=st.lists(payloads.filter(lambda s: s and "/" not in s), min_size=len(LAYER_NAMES),
                     max_size=len(LAYER_NAMES), unique=True), model_name=payloads,
       version=payloads, class_name=st.one_of(st.none(), payloads))
def test_file_text_reaches_generated_code_only_as_constants(saved: dict[str, Any], tmp_path: Path, names: list[str],
                                                            model_name: str, version: str,
                                                            class_name: str | None) -> None:
    mapping = dict(zip(LAYER_NAMES, names, strict=True))
    try:
        conversion = weights_port.convert(_source(saved, mapping, model_name, version), class_name=class_name)
    except PortError as exc:
        assert "\n" not in str(exc) and "\r" not in str(exc), str(exc)
        return
    _assert_safe(conversion, [*names, model_name, version, class_name or ""], tmp_path)


def test_the_classic_payload_in_every_field_converts_safely(saved: dict[str, Any], tmp_path: Path) -> None:
    """Not refused: Keras accepts these names, so the conversion must work, with the payload inert."""
    mapping = {name: f"{name}{PAYLOAD}" for name in LAYER_NAMES}
    conversion = weights_port.convert(_source(saved, mapping, PAYLOAD, PAYLOAD), class_name=PAYLOAD)
    _assert_safe(conversion, [PAYLOAD], tmp_path)
    assert conversion.class_name == "XImportOsSystemTouchPWNED"
    assert conversion.manifest["names"]["attributes"]["convx_import_os_system_touch_pwned"] == f"conv{PAYLOAD}"


@pytest.mark.parametrize("hint", ["forward", "to", "training", "state_dict", "_modules", "__class__", "self", "torch",
                                  "F", "nn", "class", "ｆｏｒｗａｒｄ", "pad_same", "float", "_", "type"])
def test_a_dangerous_name_becomes_a_safe_distinct_identifier(saved: dict[str, Any], hint: str, tmp_path: Path) -> None:
    conversion = weights_port.convert(_source(saved, {"conv": hint, "logits": hint + "_"}, "m", "3.15.1"))
    _assert_safe(conversion, [hint], tmp_path)
    origins = {v: k for k, v in conversion.manifest["names"]["attributes"].items()}
    assert origins[hint] not in MODULE_ATTRIBUTES | RESERVED


def test_names_are_ascii_stable_under_nfkc_and_deterministic(saved: dict[str, Any]) -> None:
    import unicodedata

    for text in SPECIAL:
        name = snake_identifier(text)
        assert IDENTIFIER.match(name) and name == unicodedata.normalize("NFKC", name) and name.isascii()
    assert snake_identifier("ｆｏｒｗａｒｄ") == "forward"
    mapping = {"conv": "λ", "bn": "λ!", "lstm": "ｆｏｒｗａｒｄ"}
    first, second = (weights_port.convert(_source(saved, mapping, "m", "3")).source for _ in range(2))
    assert first == second


def test_no_public_module_attribute_can_be_a_generated_name() -> None:
    """Generated names never start with '_'; every public attribute of nn.Module/nn.Sequential is reserved."""
    attributes = set(dir(torch.nn.Sequential)) | set(vars(torch.nn.Sequential())) | set(vars(torch.nn.Module()))
    public = {a for a in attributes if not a.startswith("_")}
    assert public <= MODULE_ATTRIBUTES | set(dir(builtins)), public - MODULE_ATTRIBUTES - set(dir(builtins))
    assert all(not snake_identifier(a).startswith("_") for a in attributes)


def test_runtime_helpers_are_the_torch_modules_public_names() -> None:
    from weights_port import torch_modules

    assert set(torch_modules.__all__) == RUNTIME_HELPERS


# --------------------------------------------------------------------------- real files, the user's path


def _marker_payload(marker: Path) -> str:
    """Code that would create ``marker`` (Keras forbids '/' in names, so the path is spelled with chr(47))."""
    path = " + chr(47) + ".join(f'"{part}"' for part in marker.parts[1:])
    return f'x"""; __import__("os").system("touch " + chr(47) + {path}); """'


def _rewrite_keras_zip(path: Path, member: str, edit: Any) -> None:
    import zipfile

    with zipfile.ZipFile(path) as archive:
        members = {info.filename: archive.read(info) for info in archive.infolist()}
    members[member] = edit(members[member])
    with zipfile.ZipFile(path, "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)


def _import_generated(directory: Path, marker: Path) -> None:
    """Import the written module in a fresh interpreter, build it, run it: the marker must not appear."""
    from subprocess_helpers import run_python

    [module] = [p.stem for p in directory.glob("*.py")]
    result = run_python(f"""
        import json, torch, safetensors.torch
        import {module} as generated
        manifest = json.load(open({str(directory / (module + '.json'))!r}))
        net = getattr(generated, manifest["class_name"])()
        net.load_state_dict(safetensors.torch.load_file({str(directory / (module + '.safetensors'))!r}))
        inputs = [torch.zeros([2] + [3 if d is None else d for d in e["torch_shape"][1:]]) for e in manifest["inputs"]]
        net.eval()(*inputs)
        print("ran")
        """, cwd=str(directory))
    assert result.returncode == 0 and "ran" in result.stdout, result.stderr[-2000:]
    assert not marker.exists()


def _small_keras_model(name: str) -> Any:
    import keras

    inputs = keras.Input((6,), name="features")
    hidden = keras.layers.Dense(5, activation="relu", name="hidden")(inputs)
    return keras.Model(inputs, keras.layers.Dense(3, activation="softmax", name=name)(hidden), name=name)


def test_a_crafted_output_name_and_version_run_nothing_when_converted_and_imported(tmp_path: Path) -> None:
    from zoo._cli import main

    marker = tmp_path / "PWNED"
    path = tmp_path / 'craft"""; import os; """.keras'
    _small_keras_model(_marker_payload(marker)).save(path)
    _rewrite_keras_zip(path, "metadata.json", lambda data: data.replace(b'"keras_version": "',
                                                                        b'"keras_version": "\\"\\"\\"; import os; '))
    out = tmp_path / "out"
    assert main(["convert", str(path), "-o", str(out)]) == 0
    _import_generated(out, marker)
    assert "import os" in (out / next(out.glob("*.json")).name).read_text()  # kept as data in the manifest


def test_a_crafted_legacy_h5_version_runs_nothing(tmp_path: Path) -> None:
    import h5py
    import tf_keras

    from zoo._cli import main

    marker = tmp_path / "PWNED"
    model = tf_keras.Sequential([tf_keras.Input((4,)), tf_keras.layers.Dense(2, name="dense")], name="legacy")
    model.save(tmp_path / "legacy.h5")
    with h5py.File(tmp_path / "legacy.h5", "r+") as f:
        f.attrs["keras_version"] = _marker_payload(marker)
    assert main(["convert", str(tmp_path / "legacy.h5"), "-o", str(tmp_path / "out")]) == 0
    _import_generated(tmp_path / "out", marker)


def test_a_crafted_architecture_json_runs_nothing(tmp_path: Path) -> None:
    import json

    from zoo._cli import main

    marker = tmp_path / "PWNED"
    model = _small_keras_model("plain")
    model.save_weights(tmp_path / "plain.weights.h5")
    config = json.loads(model.to_json())
    config["config"]["name"] = _marker_payload(marker)
    (tmp_path / "arch.json").write_text(json.dumps(config))
    assert main(["convert", str(tmp_path / "arch.json"), "--weights", str(tmp_path / "plain.weights.h5"), "-o",
                 str(tmp_path / "out"), "--class-name", _marker_payload(marker)]) == 0
    _import_generated(tmp_path / "out", marker)


# --------------------------------------------------------------------------- any value in any config field


@pytest.fixture(scope="module")
def many_layers(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """A real model with one layer of most kinds the converter knows, saved once."""
    import keras
    from keras import layers as L

    image = keras.Input((12, 12, 3), name="image")
    x = L.Rescaling(0.5, offset=0.1)(image)
    x = L.ZeroPadding2D(1)(x)
    x = L.Conv2D(4, 3, strides=2, padding="same", activation="relu")(x)
    x = L.DepthwiseConv2D(3, padding="same")(x)
    x = L.SeparableConv2D(4, 3, padding="same")(x)
    x = L.BatchNormalization()(x)
    x = L.LayerNormalization()(x)
    x = L.Cropping2D(1)(x)
    x = L.UpSampling2D()(x)
    a = L.MaxPooling2D(2)(x)
    b = L.AveragePooling2D(2, padding="same")(x)
    x = L.Add()([a, b])
    x = L.Conv2DTranspose(4, 3, strides=2, padding="same")(x)
    x = L.GlobalAveragePooling2D()(x)
    x = L.Dropout(0.2)(x)
    x = L.Dense(6, activation="tanh")(x)
    x = L.LeakyReLU(0.1)(x)
    r = L.RepeatVector(5)(x)
    r = L.LSTM(4, return_sequences=True)(r)
    r = L.Bidirectional(L.GRU(3, return_sequences=True))(r)
    r = L.TimeDistributed(L.Dense(2))(r)
    r = L.Permute((2, 1))(r)
    r = L.Reshape((10,))(r)
    out = L.Concatenate()([x, r])
    out = L.Softmax()(L.Dense(3)(out))
    model = keras.Model(image, out)
    rng = np.random.default_rng(1)
    model.set_weights([rng.normal(size=w.shape).astype("float32") * 0.3 for w in model.get_weights()])
    path = tmp_path_factory.mktemp("fuzz") / "model.keras"
    model.save(path)
    with weights_port.open_keras(path) as source:
        layers = [(layer.name, layer.class_name, layer.config, [w.read() for w in layer.weights]) for layer in source]
        config = source.model_config
    return {"config": config, "layers": layers, "path": path}


json_values = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(-2**40, 2**40), st.sampled_from([0, -1, 1, 2, 3, 2**31, 2**62]),
              st.floats(allow_nan=True, allow_infinity=True), st.text(max_size=12),
              st.sampled_from(["same", "valid", "causal", "channels_first", "bilinear", "relu", "gelu", "SAME"])),
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=8), inner, max_size=3)),
    max_leaves=6)


def _layer_entries(config: dict[str, Any]) -> list[dict[str, Any]]:
    return [entry for entry in config["config"]["layers"] if entry["class_name"] != "InputLayer"]


@settings(max_examples=int(os.environ.get("ZOO_SAFETY_EXAMPLES", "25")) * 2, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture, HealthCheck.data_too_large])
@given(data=st.data())
def test_any_value_in_any_config_field_is_a_conversion_or_one_clean_error(many_layers: dict[str, Any],
                                                                          data: st.DataObject) -> None:
    import copy

    config = copy.deepcopy(many_layers["config"])
    for _ in range(data.draw(st.integers(1, 3))):
        entry = data.draw(st.sampled_from(_layer_entries(config)))
        layer_config = entry["config"]
        key = data.draw(st.sampled_from(sorted(set(layer_config) - {"name"})) | st.text(max_size=8).filter(
            lambda k: k != "name"))
        layer_config[key] = data.draw(json_values)
    layers = {entry["config"]["name"]: entry["config"] for entry in _layer_entries(config)}
    source = KerasSource("fuzz [crafted]", [KerasLayer(name, cls, layers.get(name, cfg), tuple(
        KerasWeight(f"vars/{i}", a) for i, a in enumerate(arrays))) for name, cls, cfg, arrays in many_layers["layers"]],
        True, keras_version="3.15.1", model_config=config)
    try:
        conversion = weights_port.convert(source)
    except PortError as exc:
        assert "\n" not in str(exc) and "Traceback" not in str(exc), str(exc)
        return
    net = conversion.build()
    with torch.no_grad():
        net(torch.rand(2, 3, 12, 12))


@pytest.mark.sweep
@settings(max_examples=int(os.environ.get("ZOO_SAFETY_EXAMPLES", "25")) * 4, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture, HealthCheck.data_too_large])
@given(data=st.data())
def test_a_crafted_config_the_converter_accepts_computes_what_keras_computes(many_layers: dict[str, Any],
                                                                             tmp_path_factory: pytest.TempPathFactory,
                                                                             data: st.DataObject) -> None:
    """The held-out check's criterion: a crafted file converts only into what Keras itself computes from it."""
    import copy
    import json
    import zipfile

    import keras

    from equivalence_tests import compare_arrays

    config = copy.deepcopy(many_layers["config"])
    entry = data.draw(st.sampled_from(_layer_entries(config)))
    key = data.draw(st.sampled_from(sorted(set(entry["config"]) - {"name", "dtype"})))
    entry["config"][key] = data.draw(json_values | st.sampled_from([1, 2, 3, 0.5, True, False, "same", "relu"]))
    layers = {e["config"]["name"]: e["config"] for e in _layer_entries(config)}
    source = KerasSource("fuzz [crafted]", [KerasLayer(name, cls, layers.get(name, cfg), tuple(
        KerasWeight(f"vars/{i}", a) for i, a in enumerate(arrays))) for name, cls, cfg, arrays in many_layers["layers"]],
        True, keras_version="3.15.1", model_config=config)
    try:
        conversion = weights_port.convert(source)
    except PortError:
        return
    directory = tmp_path_factory.mktemp("crafted")
    original = many_layers["path"]
    with zipfile.ZipFile(original) as archive:
        members = {info.filename: archive.read(info) for info in archive.infolist()}
    members["config.json"] = json.dumps(config).encode()
    with zipfile.ZipFile(directory / "crafted.keras", "w") as archive:
        for name, blob in members.items():
            archive.writestr(name, blob)
    try:
        reference = keras.models.load_model(directory / "crafted.keras", compile=False)
        image = np.random.default_rng(0).uniform(-1, 1, (2, 12, 12, 3)).astype("float32")
        expected = np.asarray(reference(image))
    except Exception as exc:
        pytest.fail(f"the converter accepted {key}={entry['config'][key]!r} on {entry['class_name']}, which Keras "
                    f"refuses: {type(exc).__name__}: {str(exc)[:200]}")
    with torch.no_grad():
        actual = conversion.build()(torch.from_numpy(image.transpose(0, 3, 1, 2).copy())).numpy()
    both_nan = np.isnan(actual) & np.isnan(expected)
    assert np.array_equal(np.isnan(actual), np.isnan(expected)), (key, entry["config"][key], entry["class_name"])
    assert compare_arrays(np.where(both_nan, 0, actual), np.where(both_nan, 0, expected), "float32").passed, (
        key, entry["config"][key], entry["class_name"])
