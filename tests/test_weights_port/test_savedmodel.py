"""SavedModel folders written by tf_keras's own ``model.save(dir)``, read without TensorFlow.

The reference is tf_keras loading the same folder back (``tf_keras.models.load_model``):
the folder is the truth, not the live model that wrote it. Saving a recurrent model
traces its loop (about 30 s), so the recurrent case runs with the sweeps (``nox -s convert``).
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from keras_reference import siamese, text_classifier

import weights_port
import zoo
from weights_port import KerasFileError
from weights_port.tolerance import compare_arrays


def _randomised(model: Any, seed: int) -> Any:
    rng = np.random.default_rng(seed)
    model.set_weights([rng.uniform(-0.6, 0.6, w.shape).astype(w.dtype) for w in model.get_weights()])
    return model


def _reloaded(folder: Path) -> Any:
    import tf_keras

    return tf_keras.models.load_model(str(folder), compile=False)


def _outputs(values: Any) -> list[np.ndarray]:
    values = values if isinstance(values, list | tuple) else [values]
    return [np.asarray(v.detach() if isinstance(v, torch.Tensor) else v) for v in values]


SIAMESE = {"input_size": 65, "in_channels": 1, "embedding_dim": 6}
TEXT = {"vocab_size": 30, "embed_dim": 5, "maxlen": 6, "hidden": 4, "n_features": 3, "dense_units": 5}


@pytest.fixture(scope="module")
def siamese_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A twin kept as a sub-model: its layers are read under "encoder/…", as the HDF5 readers name them."""
    import tf_keras

    folder = tmp_path_factory.mktemp("savedmodel") / "siamese"
    _randomised(siamese(tf_keras, dtype="float32", nested=True, **SIAMESE), 2).save(str(folder))
    return folder


@pytest.fixture(scope="module")
def text_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    import tf_keras

    folder = tmp_path_factory.mktemp("savedmodel") / "text"
    _randomised(text_classifier(tf_keras, dtype="float32", **TEXT), 1).save(str(folder))
    return folder


@pytest.mark.sweep
def test_a_savedmodel_converts_to_what_tf_keras_reloads(text_folder: Path) -> None:
    rng = np.random.default_rng(0)
    tokens, meta = rng.integers(0, 30, (4, 6)).astype("int32"), rng.uniform(-1, 1, (4, 3)).astype("float32")
    expected = _outputs(_reloaded(text_folder)([tokens, meta]))
    module = weights_port.convert(text_folder).build()
    with torch.no_grad():
        actual = _outputs(module(torch.from_numpy(tokens), torch.from_numpy(meta)))
    np.testing.assert_allclose(actual[0], expected[0], atol=2e-6)


@pytest.mark.sweep
def test_zoo_get_ports_a_recurrent_savedmodel(text_folder: Path) -> None:
    rng = np.random.default_rng(1)
    tokens, meta = rng.integers(0, 30, (3, 6)).astype("int32"), rng.uniform(-1, 1, (3, 3)).astype("float32")
    expected = _outputs(_reloaded(text_folder)([tokens, meta]))
    ported = zoo.get("text_classifier", backend="torch", weights=text_folder, **TEXT)
    with torch.no_grad():
        actual = _outputs(ported(torch.from_numpy(tokens), torch.from_numpy(meta)))
    np.testing.assert_allclose(actual[0], expected[0], atol=2e-6)


@pytest.mark.filterwarnings("ignore:.*holds Python code")
def test_zoo_get_ports_a_savedmodel_with_a_nested_model(siamese_folder: Path) -> None:
    rng = np.random.default_rng(2)
    left, right = (rng.uniform(0, 1, (2, 65, 65, 1)).astype("float32") for _ in range(2))
    expected = _outputs(_reloaded(siamese_folder)([left, right]))
    ported = zoo.get("siamese", backend="torch", weights=siamese_folder, **SIAMESE)
    with torch.no_grad():
        actual = _outputs(ported(*(torch.from_numpy(a).permute(0, 3, 1, 2) for a in (left, right))))
    np.testing.assert_allclose(actual[0], expected[0], atol=2e-6)


def _copy(folder: Path, tmp_path: Path) -> Path:
    return Path(shutil.copytree(folder, tmp_path / "copy"))


def test_a_symlink_out_of_the_folder_is_refused(siamese_folder: Path, tmp_path: Path) -> None:
    copy = _copy(siamese_folder, tmp_path)
    outside = tmp_path / "elsewhere.index"
    shutil.move(copy / "variables" / "variables.index", outside)
    (copy / "variables" / "variables.index").symlink_to(outside)
    with pytest.raises(KerasFileError, match="refusing to read outside the SavedModel"):
        weights_port.convert(copy)


@pytest.mark.parametrize("damage", ["truncated index", "truncated shard", "no metadata", "bad metadata"])
def test_a_damaged_folder_gets_a_clear_error(siamese_folder: Path, tmp_path: Path, damage: str) -> None:
    copy = _copy(siamese_folder, tmp_path)
    index = copy / "variables" / "variables.index"
    shard = next((copy / "variables").glob("variables.data-*"))
    if damage == "truncated index":
        index.write_bytes(index.read_bytes()[: index.stat().st_size // 2])
    elif damage == "truncated shard":
        shard.write_bytes(shard.read_bytes()[:100])
    elif damage == "no metadata":
        (copy / "keras_metadata.pb").unlink()
    else:
        (copy / "keras_metadata.pb").write_bytes(b"\x0a\x05hello" * 3)
    with pytest.raises(KerasFileError) as raised:
        weights_port.convert(copy).build()
    assert str(copy) in str(raised.value)


@pytest.mark.sweep
def test_time_distributed_around_a_nested_model_from_a_savedmodel(tmp_path: Path) -> None:
    """``TimeDistributed(Sequential)`` saved as a SavedModel folder: the wrapped model's weights are found under the
    wrapper in the folder's object graph, and the module computes what tf_keras reloading the folder computes."""
    import tf_keras

    K = tf_keras
    frames = K.Input((3, 8, 8, 2))
    cnn = K.Sequential([K.Input((8, 8, 2)), K.layers.Conv2D(4, 3, activation="relu"), K.layers.BatchNormalization(),
                        K.layers.GlobalMaxPooling2D()], name="per_frame")
    pooled = K.layers.GlobalAveragePooling1D()(K.layers.TimeDistributed(cnn)(frames))
    folder = tmp_path / "video"
    model = _randomised(K.Model(frames, K.layers.Dense(3)(pooled)), 4)
    norm = cnn.layers[1]
    gamma, beta, mean, variance = norm.get_weights()
    norm.set_weights([gamma, beta, mean, np.abs(variance) + 0.5])  # a variance is positive
    model.save(str(folder))
    clips = np.random.default_rng(1).uniform(-1, 1, (2, 3, 8, 8, 2)).astype("float32")
    expected = _outputs(_reloaded(folder)(clips))
    conversion = weights_port.convert(folder)
    permutation = conversion.manifest["inputs"][0]["permutation"]
    with torch.no_grad():
        actual = _outputs(conversion.build()(torch.from_numpy(clips.transpose(permutation).copy())))
    agreement = compare_arrays(actual[0], expected[0], "float32")
    assert agreement.passed, agreement
