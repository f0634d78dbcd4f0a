"""Write the TensorFlow.js fixtures of ``tests/fixtures/tfjs`` with tensorflowjs's own converter.

tensorflowjs 4.22 pins TensorFlow 2.19, so it does not install beside this project's
TensorFlow 2.21; install it aside without its dependencies and run this once::

    pip download tensorflowjs==4.22.0 --no-deps -d /tmp/tfjs && \
        pip install --no-deps --target /tmp/tfjs_pkg /tmp/tfjs/tensorflowjs-4.22.0-py3-none-any.whl
    PYTHONPATH=/tmp/tfjs_pkg python scripts/make_tfjs_fixtures.py [--time-distributed]

(Its package ``__init__`` imports jax, tensorflow_hub and tensorflow_decision_forests,
which the layers-model path never uses; this script stubs them.) Each fixture folder holds
what the converter wrote and ``reference.npz``: an input and the producer's own reading
of the export, i.e. tensorflowjs's loader (``keras_tfjs_loader``, which dequantizes and
builds a tf_keras model) for the Keras 2 exports, and for the Keras 3 export (which that
loader cannot rebuild) the original Keras 3 model loaded with the weights tensorflowjs's
``read_weights`` decodes.
"""

from __future__ import annotations

import os
import sys
import tempfile
import types
from pathlib import Path
from typing import Any

import numpy as np

OUT = Path(__file__).resolve().parent.parent / "tests" / "fixtures" / "tfjs"


def _stub_unused_imports() -> None:
    for name in ("tensorflow_decision_forests", "tensorflow_hub"):
        sys.modules.setdefault(name, types.ModuleType(name))
    jax_conversion = types.ModuleType("tensorflowjs.converters.jax_conversion")
    jax_conversion.convert_jax = None  # type: ignore[attr-defined]
    sys.modules["tensorflowjs.converters.jax_conversion"] = jax_conversion


def _model(K: Any) -> Any:
    """A nested Sequential, an RNN wrapper, a convolution and a softmax head: names of every kind."""
    L = K.layers
    encoder = K.Sequential([K.Input((6,)), L.Dense(5, activation="tanh", name="dense"),
                            L.BatchNormalization(name="bn")], name="encoder")
    x = K.Input((6,), name="x")
    h = L.Dense(8, name="dense_top")(encoder(x))
    h = L.Reshape((4, 2), name="reshape")(h)
    h = L.Bidirectional(L.LSTM(3, return_sequences=True), name="bidirectional")(h)
    h = L.Conv1D(2, 2, name="conv")(h)
    h = L.GlobalMaxPooling1D(name="pool")(h)
    return K.Model(x, L.Dense(3, activation="softmax", name="head")(h), name="tfjs_fixture")


def _time_distributed_model(K: Any) -> Any:
    """A per-frame CNN (a Sequential) under TimeDistributed, pooled over time: the wrapped model's weights are
    stored under the wrapper."""
    L = K.layers
    cnn = K.Sequential([K.Input((6, 6, 2)), L.Conv2D(3, 3, activation="relu", name="conv"),
                        L.BatchNormalization(name="bn"), L.GlobalMaxPooling2D(name="frame_pool")], name="per_frame")
    clips = K.Input((3, 6, 6, 2), name="clips")
    pooled = L.GlobalAveragePooling1D(name="time_pool")(L.TimeDistributed(cnn, name="frames")(clips))
    return K.Model(clips, L.Dense(2, name="head")(pooled), name="tfjs_time_distributed")


def write_time_distributed() -> None:
    """``keras2-time-distributed``: a tf_keras TimeDistributed(Sequential) export, float32, with tensorflowjs's
    loader's reading of it as the reference."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    _stub_unused_imports()
    import tf_keras
    from tensorflowjs.converters import keras_h5_conversion, keras_tfjs_loader

    model = _time_distributed_model(tf_keras)
    rng = np.random.default_rng(3)
    model.set_weights([rng.uniform(0.5, 1.5, w.shape).astype("float32") if "moving_variance" in v.name
                       else rng.uniform(-0.8, 0.8, w.shape).astype("float32")
                       for v, w in zip(model.weights, model.get_weights(), strict=True)])
    folder = OUT / "keras2-time-distributed"
    keras_h5_conversion.save_keras_model(model, str(folder))
    x = np.random.default_rng(8).uniform(-1, 1, (2, 3, 6, 6, 2)).astype("float32")
    reloaded = keras_tfjs_loader.load_keras_model(str(folder / "model.json"))
    np.savez(folder / "reference.npz", x=x, y=np.asarray(reloaded(x)))
    print(f"wrote {folder}")


def main() -> None:
    if sys.argv[1:] == ["--time-distributed"]:
        write_time_distributed()
        return
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    _stub_unused_imports()
    import keras
    import tf_keras
    from tensorflowjs import read_weights
    from tensorflowjs.converters import converter, keras_h5_conversion, keras_tfjs_loader

    x = np.random.default_rng(7).uniform(-1, 1, (4, 6)).astype("float32")
    legacy = _model(tf_keras)
    rng = np.random.default_rng(1)
    legacy.set_weights([rng.uniform(0.5, 1.5, w.shape).astype("float32") if "moving_variance" in v.name
                        else rng.uniform(-0.8, 0.8, w.shape).astype("float32")
                        for v, w in zip(legacy.weights, legacy.get_weights(), strict=True)])
    variants = {"keras2-float32": None, "keras2-uint8": {"uint8": True},
                "keras2-uint16-float16": {"uint16": "dense*", "float16": True}}
    for name, quantization in variants.items():
        folder = OUT / name
        keras_h5_conversion.save_keras_model(legacy, str(folder), quantization_dtype_map=quantization,
                                             weight_shard_size_bytes=256 if quantization else 4 * 2**20)
        reloaded = keras_tfjs_loader.load_keras_model(str(folder / "model.json"))
        np.savez(folder / "reference.npz", x=x, y=np.asarray(reloaded(x)))

    modern = _model(keras)
    rng = np.random.default_rng(2)
    modern.set_weights([rng.uniform(0.5, 1.5, v.shape).astype("float32") if "moving_variance" in v.path
                        else rng.uniform(-0.8, 0.8, v.shape).astype("float32") for v in modern.weights])
    folder = OUT / "keras3-uint8"
    with tempfile.TemporaryDirectory() as scratch:
        saved = Path(scratch) / "model.keras"
        modern.save(saved)
        converter.dispatch_keras_keras_to_tfjs_layers_model_conversion(
            str(saved), str(folder), quantization_dtype_map={"uint8": True})
        import json

        import h5py

        manifest = json.loads((folder / "model.json").read_text())["weightsManifest"]
        decoded = read_weights.read_weights(manifest, str(folder), flatten=True)
        weights_path = Path(scratch) / "decoded.weights.h5"
        with h5py.File(Path(scratch) / "model.weights.h5") as original, h5py.File(weights_path, "w") as out:
            for path, obj in _groups(original):
                out.require_group(path).attrs.update(obj.attrs)
            for entry in decoded:
                out.create_dataset(entry["name"], data=entry["data"])
        modern.load_weights(weights_path)
    np.savez(folder / "reference.npz", x=x, y=np.asarray(modern(x)))
    print(f"wrote {sorted(p.name for p in OUT.iterdir())} under {OUT}")


def _groups(h5: Any) -> list[tuple[str, Any]]:
    import h5py

    found: list[tuple[str, Any]] = []
    h5.visititems(lambda path, obj: found.append((path, obj)) if isinstance(obj, h5py.Group) else None)
    return found


if __name__ == "__main__":
    main()
