"""resnet50 and mobilenet_v2 as users hold them: keras.applications files at full size."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

import zoo
from equivalence_tests import randomise_keras_weights
from zoo.architectures import keras_dtype_policy

APPLICATIONS = {"resnet50": "ResNet50", "mobilenet_v2": "MobileNetV2"}
# ResNet50 at full size costs seconds per case: the default run keeps MobileNetV2 (same mechanisms, BatchNorm,
# strided padding) and `nox -s convert` runs both (marker "sweep").
NAMES = [pytest.param("resnet50", marks=pytest.mark.sweep), "mobilenet_v2"]


def _application(K: Any, name: str, dtype: str = "float32", **kwargs: Any) -> Any:
    constructor = getattr(K.applications, APPLICATIONS[name])
    if K.__name__ == "keras":
        with keras_dtype_policy(dtype):
            return constructor(weights=None, **kwargs)
    return constructor(weights=None, **kwargs)


def _image_batch(seed: int, dtype: str = "float32", size: int = 224) -> np.ndarray:
    return np.random.default_rng(seed).uniform(-1, 1, (2, size, size, 3)).astype(dtype)


def _torch_forward(model: torch.nn.Module, x: np.ndarray, logits: bool = False) -> np.ndarray:
    captured: list[torch.Tensor] = []
    if logits:
        model.classifier.register_forward_hook(lambda module, args, out: captured.append(out))
    with torch.no_grad():
        out = model(torch.from_numpy(np.moveaxis(x, -1, 1).copy()))
    return (captured[0] if logits else out).numpy()


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize(("flavour", "filename"), [("keras", "model.keras"),
                                                    pytest.param("tf_keras", "model.h5", marks=pytest.mark.sweep)])
def test_full_size_application_file_ports_softmax_within_1e_4(name: str, flavour: str, filename: str,
                                                              tmp_path: Path) -> None:
    from porting import keras_module

    keras_model = _application(keras_module(flavour), name)
    randomise_keras_weights(keras_model, np.random.default_rng(0))
    keras_model.save(tmp_path / filename)
    x = _image_batch(1)
    expected = keras_model(x, training=False).numpy()
    model = zoo.get(name, backend="torch", weights=tmp_path / filename)
    actual = _torch_forward(model, x)
    assert actual.shape == (2, 1000) and np.abs(actual - expected).max() <= 1e-4


@pytest.mark.parametrize("name", NAMES)
def test_full_size_logits_as_close_to_float64_as_keras_own(name: str, tmp_path: Path) -> None:
    """The logits before the softmax head, float32, against Keras computing the same weights in float64: PyTorch's
    error is within twice Keras's own float32 error (the order of summation differs between oneDNN and PyTorch's
    kernels). Measured with these seeds: ResNet50 Keras 1.1e-5, PyTorch 8.2e-6 (|logits| ≤ 16; an absolute 1e-5
    against Keras's float32 was below Keras's own error); MobileNetV2 5.1e-7 and 3.1e-7."""
    import keras

    keras_model = _application(keras, name, classes=37)
    randomise_keras_weights(keras_model, np.random.default_rng(2))
    keras_model.save(tmp_path / "model.keras")
    reference = _application(keras, name, dtype="float64", classes=37)
    reference.set_weights([np.asarray(w, np.float64) for w in keras_model.get_weights()])
    x = _image_batch(3)

    def keras_logits(model: Any, images: np.ndarray) -> np.ndarray:
        head = model.layers[-1]
        features = keras.Model(model.inputs, head.input)(images, training=False)
        return np.asarray(keras.ops.matmul(features, head.kernel) + head.bias)  # Keras's Dense before its softmax

    exact = keras_logits(reference, x.astype("float64"))
    keras_error = np.abs(keras_logits(keras_model, x) - exact).max()
    model = zoo.get(name, backend="torch", weights=tmp_path / "model.keras", num_classes=37)
    assert np.abs(_torch_forward(model, x, logits=True) - exact).max() <= 2 * keras_error


@pytest.mark.parametrize("name", NAMES)
def test_a_logits_head_is_another_architecture(name: str, tmp_path: Path) -> None:
    """classifier_activation=None computes something else than the catalog's softmax head: refused, naming it."""
    import keras

    from weights_port import LayoutMismatchError

    keras_model = _application(keras, name, classifier_activation=None, classes=5, input_shape=(64, 64, 3))
    randomise_keras_weights(keras_model, np.random.default_rng(2))
    keras_model.save(tmp_path / "logits.keras")
    with pytest.raises(LayoutMismatchError, match="after its last weighted layer 'predictions' \\(Dense, activation="):
        zoo.get(name, backend="torch", weights=tmp_path / "logits.keras", num_classes=5, input_size=64)


@pytest.mark.sweep  # float64 ports are proven on small configs in the default run; full size here
@pytest.mark.parametrize("name", NAMES)
def test_full_size_float64_within_1e_10(name: str, tmp_path: Path) -> None:
    import keras

    keras_model = _application(keras, name, dtype="float64")
    randomise_keras_weights(keras_model, np.random.default_rng(4))
    keras_model.save(tmp_path / "f64.keras")
    x = _image_batch(5, "float64")
    model = zoo.get(name, backend="torch", weights=tmp_path / "f64.keras", dtype="float64")
    assert np.abs(_torch_forward(model, x) - keras_model(x, training=False).numpy()).max() <= 1e-10


@pytest.mark.parametrize(("name", "config"), [
    pytest.param("resnet50", {"num_classes": 5, "input_size": 97}, marks=pytest.mark.sweep),
    ("resnet50", {"include_top": False, "input_size": 64}),
    ("mobilenet_v2", {"num_classes": 3, "input_size": 75, "alpha": 0.35}),
    ("mobilenet_v2", {"num_classes": 4, "input_size": 64, "alpha": 1.4}),
])
def test_fine_tuned_variants_port_with_the_matching_config(name: str, config: dict[str, Any], tmp_path: Path) -> None:
    import tf_keras

    kwargs = {"input_shape": (config["input_size"],) * 2 + (3,)}
    if "num_classes" in config:
        kwargs["classes"] = config["num_classes"]
    if "alpha" in config:
        kwargs["alpha"] = config["alpha"]
    if "include_top" in config:
        kwargs["include_top"] = config["include_top"]
    keras_model = _application(tf_keras, name, **kwargs)
    randomise_keras_weights(keras_model, np.random.default_rng(6))
    keras_model.save_weights(str(tmp_path / "finetuned.h5"))
    x = _image_batch(7, size=config["input_size"])
    expected = keras_model(x, training=False).numpy()
    actual = _torch_forward(zoo.get(name, backend="torch", weights=tmp_path / "finetuned.h5", **config), x)
    if actual.ndim == 4:
        actual = np.moveaxis(actual, 1, -1)
    np.testing.assert_allclose(actual, expected, atol=1e-5, rtol=1e-4)


def test_torch_model_structure_is_readable() -> None:
    resnet = zoo.get("resnet50", backend="torch")
    assert [name for name, _ in resnet.stages.named_children()] == ["conv2", "conv3", "conv4", "conv5"]
    assert len(resnet.stages.conv4) == 6 and resnet.stem.bn.eps == pytest.approx(1.001e-5)
    statistics = sum(b.numel() for n, b in resnet.named_buffers() if n.endswith(("running_mean", "running_var")))
    assert sum(p.numel() for p in resnet.parameters()) + statistics == 25_636_712  # Keras's count_params()
    mobilenet = zoo.get("mobilenet_v2", backend="torch")
    assert len(mobilenet.blocks) == 17 and mobilenet.blocks[1].depthwise.conv.groups == 96
    assert mobilenet.stem.bn.eps == pytest.approx(1e-3)
