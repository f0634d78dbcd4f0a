"""Every Keras weights format read into the same layer list (weights_port.readers)."""

from __future__ import annotations

import shutil
import zipfile
from pathlib import Path

import keras
import keras_reference as ref
import numpy as np
import pytest
import tf_keras
from porting import FORMATS, keras_module, save

from weights_port import KerasFileError, open_keras


def _nested_siamese(K, dtype="float32"):
    return ref.siamese(K, input_size=65, in_channels=1, embedding_dim=8, dtype=dtype, nested=True)


@pytest.mark.parametrize("fmt", list(FORMATS))
def test_every_format_gives_the_same_arrays_in_model_order(fmt: str, tmp_path: Path) -> None:
    flavour, how = FORMATS[fmt]
    model = _nested_siamese(keras_module(flavour))
    expected = [np.asarray(w) for w in model.get_weights()]
    with open_keras(save(model, tmp_path, how)) as source:
        layers = list(source.layers)
        if not source.ordered:  # Keras 3 .weights.h5 records creation order per layer type only
            assert how == "model.weights.h5"
            assert [layer.class_name for layer in layers] == ["Dense", "Conv2D", "Conv2D", "Conv2D", "Conv2D", "Dense"]
            layers = layers[1:] + layers[:1]
        assert [layer.class_name for layer in layers] in (["Conv2D"] * 4 + ["Dense"] * 2, [None] * 6)
        got = [w.read() for layer in layers for w in layer.weights]
    assert len(got) == len(expected)
    for a, b in zip(got, expected, strict=False):
        np.testing.assert_array_equal(a, b)


def test_keras3_weights_h5_knows_classes_and_real_names(tmp_path: Path) -> None:
    model = _nested_siamese(keras)
    with open_keras(save(model, tmp_path, "model.weights.h5")) as source:
        names = [layer.name for layer in source.layers]
        classes = [layer.class_name for layer in source.layers]
    assert classes.count("Conv2D") == 4 and classes.count("Dense") == 2
    assert sum(name.startswith("encoder/") for name in names) == 5  # the nested twin, by its real name


def test_legacy_save_weights_keeps_layer_order_and_splits_the_nested_twin(tmp_path: Path) -> None:
    model = _nested_siamese(tf_keras)
    with open_keras(save(model, tmp_path, "weights.h5")) as source:
        assert [layer.name.split("/")[0] for layer in source.layers] == ["encoder"] * 5 + [model.layers[-1].name]
        assert [w.key for w in source.layers[0].weights] == ["kernel", "bias"]


def test_in_memory_model_is_a_source() -> None:
    model = _nested_siamese(keras)
    source = open_keras(model)
    assert len(source.layers) == 6 and source.layers[0].class_name == "Conv2D"
    np.testing.assert_array_equal(source.layers[-1].weights[0].read(), model.layers[-1].get_weights()[0])


def test_compressed_keras_archive_is_read_and_the_temp_copy_removed(tmp_path: Path) -> None:
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])
    model.save(tmp_path / "plain.keras")
    with zipfile.ZipFile(tmp_path / "plain.keras") as src, \
            zipfile.ZipFile(tmp_path / "deflated.keras", "w", zipfile.ZIP_DEFLATED) as dst:
        for item in src.infolist():
            dst.writestr(item.filename, src.read(item.filename))
    temp_dir = Path(__import__("tempfile").gettempdir())
    before = set(temp_dir.glob("*.weights.h5"))
    with open_keras(tmp_path / "deflated.keras") as source:
        np.testing.assert_array_equal(source.layers[0].weights[0].read(), model.get_weights()[0])
    assert set(temp_dir.glob("*.weights.h5")) == before


def test_keras_config_is_data_a_lambda_is_never_run(tmp_path: Path) -> None:
    model = _nested_siamese(keras)  # its head is a Lambda layer
    model.save(tmp_path / "lambda.keras")
    with open_keras(tmp_path / "lambda.keras") as source:  # safe_mode Keras would refuse this file
        assert len(source.layers) == 6


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (b"", "is empty"),
        (b"hello world, not a model", "not a Keras file"),
        (b"PK\x03\x04" + b"\0" * 100, "not a readable .keras archive"),
        (b"\x89HDF\r\n\x1a\n" + b"\xff" * 100, "not a readable HDF5 file"),
    ],
)
def test_bad_bytes_raise_keras_file_error(tmp_path: Path, content: bytes, expected: str) -> None:
    path = tmp_path / "model.h5"
    path.write_bytes(content)
    with pytest.raises(KerasFileError, match=expected):
        open_keras(path)


def test_missing_file_and_directory(tmp_path: Path) -> None:
    with pytest.raises(KerasFileError, match="no such file"):
        open_keras(tmp_path / "missing.keras")
    with pytest.raises(KerasFileError, match="is a directory"):
        open_keras(tmp_path)


def test_hdf5_that_is_not_keras(tmp_path: Path) -> None:
    import h5py

    with h5py.File(tmp_path / "data.h5", "w") as f:
        f["images"] = np.zeros((2, 2))
    with pytest.raises(KerasFileError, match="not a Keras one.*images"):
        open_keras(tmp_path / "data.h5")


def test_keras_zip_without_weights_member(tmp_path: Path) -> None:
    with zipfile.ZipFile(tmp_path / "empty.keras", "w") as archive:
        archive.writestr("config.json", "{}")
    with pytest.raises(KerasFileError, match="no 'model.weights.h5'"):
        open_keras(tmp_path / "empty.keras")


def test_truncated_files(tmp_path: Path) -> None:
    model = _nested_siamese(keras)
    for how in ("model.keras", "model.h5", "model.weights.h5"):
        full = save(model, tmp_path, how)
        cut = tmp_path / f"cut-{how}"
        shutil.copy(full, cut)
        with cut.open("r+b") as handle:
            handle.truncate(full.stat().st_size // 2)
        with pytest.raises(KerasFileError):
            with open_keras(cut) as source:
                [w.read() for layer in source.layers for w in layer.weights]


def test_keras_file_saved_on_windows_converts(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Keras 3.0 on Windows joined the HDF5 group paths of a ``.keras`` with ``os.path.join`` (keras-team/keras
    #18528): ``layers\\dense/vars/0``, which Keras on Linux cannot load. The fixture is Keras's own saver with
    Windows' path joining; the reader unifies the separators and the conversion matches the model."""
    import io
    import ntpath
    import os
    import zipfile

    import h5py
    import keras
    from keras.src.saving import saving_lib

    from equivalence_tests import check_conversion, randomise_keras_weights

    class WindowsJoined(str):
        def replace(self, old: str, new: str, count: int = -1) -> str:  # type: ignore[override]
            return self if old == "\\" else WindowsJoined(str.replace(self, old, new, count))

    joined = saving_lib.file_utils.join
    monkeypatch.setattr(saving_lib.file_utils, "join", lambda path, *parts: joined(path, *parts)
                        if os.path.isabs(path) else WindowsJoined(ntpath.join(path, *parts)))
    x = keras.Input((4,))
    model = keras.Model(x, keras.layers.Dense(2)(keras.layers.Dense(3, activation="tanh")(x)))
    randomise_keras_weights(model, np.random.default_rng(0))
    model.save(tmp_path / "windows.keras")
    monkeypatch.undo()
    with zipfile.ZipFile(tmp_path / "windows.keras") as archive:
        names: list[str] = []
        h5py.File(io.BytesIO(archive.read("model.weights.h5")), "r").visit(names.append)
    assert "layers\\dense/vars/0" in names
    check = check_conversion(tmp_path / "windows.keras", keras_model=model)
    assert check.passed, check.results
