"""Every keras.applications model that builds offline, converted and proven (``nox -s convert``).

Each is built with ``weights=None`` at a small input size, randomised with calibrated
BatchNorm statistics, saved as Keras 3 ``.keras`` and as legacy ``.h5`` (Keras 3's writer,
and tf-keras's where it builds the model), converted without TensorFlow, and compared
with Keras in float32 and float64. The table goes to ``sweeps/applications.md``.
"""

from __future__ import annotations

import time
from pathlib import Path

import keras
import numpy as np
import pytest

import weights_port
from equivalence_tests import check_conversion, randomise_keras_weights

SIZES = {"Xception": 71, "InceptionV3": 75, "InceptionResNetV2": 75}
APPLICATIONS = [
    "VGG16", "VGG19", "ResNet50", "ResNet101", "ResNet152", "ResNet50V2", "ResNet101V2", "InceptionV3",
    "InceptionResNetV2", "Xception", "MobileNet", "MobileNetV2", "MobileNetV3Small", "MobileNetV3Large", "DenseNet121",
    "DenseNet169", "NASNetMobile", "EfficientNetB0", "EfficientNetB3", "EfficientNetV2B0", "EfficientNetV2S",
    "ConvNeXtTiny",
]
ROWS: list[str] = []


@pytest.fixture(scope="module", autouse=True)
def table():
    """Rows of this run replace those of the same model and format in ``applications.md``; others stay."""
    yield
    path = Path(__file__).parent / "applications.md"
    header = ["| model | format | float32 max rel | float64 max rel | convert s | source lines | flat lines | result |",
              "|---|---|---|---|---|---|---|---|"]
    rows = {_key(row): row for row in (path.read_text().splitlines()[2:] if path.exists() else []) if row.strip()}
    rows.update({_key(row): row for row in ROWS})
    order = {name: index for index, name in enumerate([*APPLICATIONS, *SIZE_VARIANTS,
                                                       *(f"{n} (input_shape=None)" for n in DEFAULT_SHAPE)])}
    lines = [*header, *sorted(rows.values(), key=lambda row: (order.get(_key(row)[0], 999), _key(row)[1]))]
    path.write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


def _key(row: str) -> tuple[str, str]:
    cells = [cell.strip() for cell in row.strip("|").split("|")]
    return cells[0], cells[1]


def _build(module, name: str):
    size = SIZES.get(name, 64)
    return getattr(module.applications, name)(input_shape=(size, size, 3), weights=None), size


@pytest.mark.parametrize("flavour", ["keras", "tf_keras"])
@pytest.mark.parametrize("name", APPLICATIONS)
def test_application(name: str, flavour: str, tmp_path: Path) -> None:
    if flavour == "keras":
        module = keras
    else:
        import tf_keras as module
    model, size = _build(module, name)
    rng = np.random.default_rng(0)
    randomise_keras_weights(model, rng, calibration=[rng.uniform(-1, 1, (16, size, size, 3)).astype("float32")])
    paths = [tmp_path / f"{name}.keras", tmp_path / f"{name}.h5"] if flavour == "keras" else [tmp_path / f"{name}.h5"]
    for path in paths:
        model.save(path)
        label = f"{'Keras 3' if flavour == 'keras' else 'tf-keras'} {path.suffix}"
        start = time.perf_counter()
        try:
            conversion = weights_port.convert(path)
        except weights_port.UnsupportedLayerError as exc:  # tf-keras builds some with a Lambda: refused by name
            ROWS.append(f"| {name} | {label} | - | - | - | - | - | refused: {str(exc)[:90]} |")
            assert "Lambda" in str(exc)
            continue
        seconds = time.perf_counter() - start
        check = check_conversion(path, keras_model=model)  # Keras cannot reload all its own .h5 files
        flat_check = check_conversion(path, keras_model=model, flat=True)
        errors = {r.dtype: max(x.agreement.max_rel for x in check.results if x.dtype == r.dtype) for r in check.results}
        flat = weights_port.convert(path, flat=True)
        ROWS.append(f"| {name} | {label} | {errors.get('float32', float('nan')):.1e} | "
                    f"{errors.get('float64', float('nan')):.1e} | {seconds:.2f} | {conversion.source.count(chr(10))} | "
                    f"{flat.source.count(chr(10))} | {'ok' if check.passed and flat_check.passed else 'MISMATCH'} |")
        assert check.passed, check.reports
        assert flat_check.passed, flat_check.reports
        _same_state_through_the_manifest(conversion, flat)


def _same_state_through_the_manifest(structured: weights_port.Conversion, flat: weights_port.Conversion) -> None:
    """Each structured state key holds the same array as the flat key the manifest maps to the same Keras weight
    (``stage1.0.conv1.weight`` and ``conv2_block1_1_conv.weight``); a pooled classifier's 1×1 kernel is the
    structured ``nn.Linear``'s weight without its unit axes (MobileNetV3's ``(1000, 1024, 1, 1)`` as
    ``(1000, 1024)``), nothing else may change shape."""
    by_origin = {(o["keras_layer"], tuple(o["keras_weights"] or ()), k.rsplit(".", 1)[-1]): k
                 for k, o in flat.manifest["state"].items()}
    assert len(by_origin) == len(flat.state_dict) == len(structured.state_dict)
    for key, origin in structured.manifest["state"].items():
        array = structured.state_dict[key]
        twin = by_origin[(origin["keras_layer"], tuple(origin["keras_weights"] or ()), key.rsplit(".", 1)[-1])]
        expected = flat.state_dict[twin]
        if array.shape != expected.shape and expected.shape[2:] == (1, 1) and array.shape == expected.shape[:2]:
            expected = expected.reshape(array.shape)
        np.testing.assert_array_equal(array, expected, err_msg=f"{key} / {twin}")


SIZE_VARIANTS = [
    "ResNet152V2", "DenseNet201", "NASNetLarge", "EfficientNetB1", "EfficientNetB2", "EfficientNetB4",
    "EfficientNetB5", "EfficientNetB6", "EfficientNetB7", "EfficientNetV2B1", "EfficientNetV2B2", "EfficientNetV2B3",
    "EfficientNetV2M", "EfficientNetV2L", "ConvNeXtSmall", "ConvNeXtBase", "ConvNeXtLarge", "ConvNeXtXLarge",
]
"""Deeper or wider members of the families above (the same layer types): Keras 3 ``.keras`` only."""


@pytest.mark.parametrize("name", SIZE_VARIANTS)
def test_size_variant(name: str, tmp_path: Path) -> None:
    model, size = _build(keras, name)
    rng = np.random.default_rng(0)
    randomise_keras_weights(model, rng, calibration=[rng.uniform(-1, 1, (16, size, size, 3)).astype("float32")])
    path = tmp_path / f"{name}.keras"
    model.save(path)
    start = time.perf_counter()
    conversion = weights_port.convert(path)
    seconds = time.perf_counter() - start
    check = check_conversion(path, keras_model=model)
    errors = {r.dtype: max(x.agreement.max_rel for x in check.results if x.dtype == r.dtype) for r in check.results}
    ROWS.append(f"| {name} | Keras 3 .keras | {errors.get('float32', float('nan')):.1e} | "
                f"{errors.get('float64', float('nan')):.1e} | {seconds:.2f} | {conversion.source.count(chr(10))} | - | "
                f"{'ok' if check.passed else 'MISMATCH'} |")
    assert check.passed, check.reports


DEFAULT_SHAPE = ["MobileNetV3Small", "MobileNetV2", "EfficientNetB0", "ResNet50", "ConvNeXtTiny", "DenseNet121"]
"""Saved with ``input_shape=None`` (free height and width): ``--check`` must find sizes the model accepts."""


@pytest.mark.parametrize("name", DEFAULT_SHAPE)
def test_default_shape_application(name: str, tmp_path: Path) -> None:
    model = getattr(keras.applications, name)(input_shape=None, weights=None)
    rng = np.random.default_rng(0)
    size = model.input_shape[1] or 64  # Keras 3.15 builds some of these at 224 even with input_shape=None
    randomise_keras_weights(model, rng, calibration=[rng.uniform(-1, 1, (4, size, size, 3)).astype("float32")])
    path = tmp_path / f"{name}.keras"
    model.save(path)
    start = time.perf_counter()
    conversion = weights_port.convert(path)
    seconds = time.perf_counter() - start
    check = check_conversion(path, keras_model=model)
    errors = {r.dtype: max(x.agreement.max_rel for x in check.results if x.dtype == r.dtype) for r in check.results}
    ROWS.append(f"| {name} (input_shape=None) | Keras 3 .keras | {errors.get('float32', float('nan')):.1e} | "
                f"{errors.get('float64', float('nan')):.1e} | {seconds:.2f} | {conversion.source.count(chr(10))} | - | "
                f"{'ok' if check.passed else 'MISMATCH'} |")
    assert check.passed, check.reports
