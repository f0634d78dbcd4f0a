"""``data_format="channels_first"`` convolutions, pooling, padding, cropping, upsampling and Flatten.

TensorFlow's CPU kernels cannot run most channels-first convolutions and poolings, so the
reference is Keras itself on its torch backend, in a fresh interpreter: it writes the file,
reloads it and records its outputs. Float32 only: Keras 3.15's torch backend is not a
float64 reference (measured against NumPy's float64: its Dense is 2.8e-7 off the exact
product, GlobalAveragePooling2D 8.8e-9, BatchNormalization(axis=1) 2.6e-7, though its
own ``ops.batch_normalization`` is exact to 4e-16). The float64 path of each rule is
the channels-last one, proven in float64 on TensorFlow; BatchNormalization on axis 1 is
proven there too (test_operations).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from equivalence_tests import compare_arrays
from tests.subprocess_helpers import run_python
from weights_port import convert

_MAKE = """
import sys, numpy as np, keras
L = keras.layers
cf = "channels_first"

def build(dtype="float32"):
    image = keras.Input((3, 9, 10), dtype=dtype)
    h = L.Conv2D(4, 3, padding="same", strides=2, data_format=cf, dtype=dtype)(image)
    h = L.ZeroPadding2D(((1, 0), (0, 2)), data_format=cf, dtype=dtype)(h)
    h = L.MaxPooling2D(2, padding="same", data_format=cf, dtype=dtype)(h)
    h = L.UpSampling2D(2, data_format=cf, dtype=dtype)(h)
    h = L.Cropping2D(((1, 0), (0, 1)), data_format=cf, dtype=dtype)(h)
    h = L.DepthwiseConv2D(2, data_format=cf, dtype=dtype)(h)
    h = L.SeparableConv2D(3, 2, data_format=cf, dtype=dtype)(h)
    h = L.Conv2DTranspose(2, 3, strides=2, data_format=cf, dtype=dtype)(h)
    h = L.AveragePooling2D(2, data_format=cf, dtype=dtype)(h)
    pooled = L.GlobalAveragePooling2D(data_format=cf, keepdims=True, dtype=dtype)(h)
    flat = L.Dense(3, dtype=dtype)(L.Flatten(data_format=cf, dtype=dtype)(h))
    signal = keras.Input((2, 11), dtype=dtype)
    s = L.Conv1D(3, 3, padding="causal", data_format=cf, dtype=dtype)(signal)
    s = L.MaxPooling1D(2, data_format=cf, dtype=dtype)(s)
    s = L.GlobalMaxPooling1D(data_format=cf, dtype=dtype)(s)
    return keras.Model([image, signal], [pooled, h, flat, s])

rng = np.random.default_rng(0)
model = build()
model.set_weights([rng.uniform(0.5, 1.5, w.shape).astype("float32") for w in model.get_weights()])
model.save(sys.argv[1] + "/cf.keras")
reloaded = keras.models.load_model(sys.argv[1] + "/cf.keras")
x = [rng.uniform(-1, 1, (2, 3, 9, 10)).astype("float32"), rng.uniform(-1, 1, (2, 2, 11)).astype("float32")]
outputs = {"x0": x[0], "x1": x[1]}
for i, y in enumerate(reloaded(x)):
    outputs[f"y{i}"] = np.asarray(y.detach().cpu())
np.savez(sys.argv[1] + "/reference.npz", **outputs)
"""


@pytest.fixture(scope="module")
def channels_first_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("channels_first")
    done = run_python(f"import sys; sys.argv = ['make', {str(folder)!r}]\n" + _MAKE, env={"KERAS_BACKEND": "torch"})
    assert done.returncode == 0, done.stderr[-3000:]
    return folder


def test_channels_first_layers_match_keras(channels_first_file: Path) -> None:
    import torch

    reference = np.load(channels_first_file / "reference.npz")
    conversion = convert(channels_first_file / "cf.keras")
    module = conversion.build()
    with torch.no_grad():
        outputs = module(*(torch.from_numpy(reference[k]) for k in ("x0", "x1")))
    for i, actual in enumerate(outputs):
        agreement = compare_arrays(actual.numpy(), reference[f"y{i}"], "float32")
        assert agreement.passed, (i, agreement)
    assert "permute" not in conversion.source  # channels-first data stays in PyTorch's layout: no transposes
