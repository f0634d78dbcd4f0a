"""Training resumed from a saved file, free-running, in float64: the path a user takes (zoo.training_setup).

Keras trains two steps, saves ``.keras`` with its optimizer state, and continues; PyTorch
ports the file, reads its training set-up from it alone (nothing re-synced from Keras) and
takes the same steps. After each step every weight is compared.

The bound. A float64 step differs from Keras by rounding; a shallow network keeps that
at 1e-16, inside 1e-10 + 1e-9·max|w|. A deep network amplifies any rounding-level
difference step after step, as it amplifies Keras's own: measured on mobilenet_v2
(RMSprop with momentum, 6 steps), Keras against itself with every weight moved by one ulp
at the file grows 2.9e-13, 2.4e-12, 8.4e-11, 4.9e-9, 1.6e-8, 4.4e-8, and PyTorch against
Keras 2.0e-13, 5.4e-12, 2.4e-10, 1.2e-8, 8.1e-8, 4.1e-7 (at most 9.3× Keras's own). So each
step is held to max(1e-10 + 1e-9·max|w|, AMPLIFICATION × Keras's own one-ulp divergence at
that step), with Keras's divergence measured in the same test.

One kernel may add to that: ExponentialDecay's rate is a float32 power. Ours is correctly rounded,
and TensorFlow's Pow was on the AMD EPYC of this check, but one earlier machine had it one ulp off
(test_training); a one-ulp rate (9.5e-8 of 0.05·0.7^(2/3)) moves the weights 3.3e-9 apart at once,
as NumPy's float32 power (one ulp off on AVX-512) did here before ours was rounded correctly. The
test measures TensorFlow's rate beside ours at each step and allows that relative gap times Keras's
own step, ×1/(1 − momentum) for the velocity that carries it on (zero where they agree); the loss of
the next step may then differ by the gradient's L1 norm times the weights' distance.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from porting import SMALL_CONFIGS

import weights_port
import zoo
from equivalence_tests import random_inputs, randomise_keras_weights
from zoo._api import architecture
from zoo._spec import resolve_config
from zoo.architectures import keras_dtype_policy


@contextmanager
def keras_in_float64() -> Iterator[Any]:
    """floatx and the global dtype policy float64 (a policy set elsewhere would override floatx), restored after."""
    import keras

    with keras_dtype_policy("float64"):
        yield keras


AMPLIFICATION = 16.0
"""PyTorch's free-running divergence over Keras's own one-ulp divergence: measured at most 9.3 (module doc)."""
STEPS = 3


def _mlp_with_regularizers(keras: Any) -> Any:
    penalties = {"kernel_regularizer": keras.regularizers.L1L2(1e-3, 2e-3),
                 "bias_regularizer": keras.regularizers.L2(1e-3)}
    return keras.Sequential([keras.Input((12,)), keras.layers.Dense(9, activation="relu", **penalties),
                             keras.layers.Dense(7, activation="relu", **penalties),
                             keras.layers.Dense(10, activation="softmax")])


def _cases(keras: Any) -> dict[str, tuple[Callable[[], Any] | None, Any, Any, str]]:
    o, losses, schedules = keras.optimizers, keras.losses, keras.optimizers.schedules
    return {
        "mlp": (lambda: _mlp_with_regularizers(keras), lambda: o.Adam(1e-2), "categorical_crossentropy", "onehot"),
        "cifar_cnn": (None, lambda: o.SGD(schedules.ExponentialDecay(0.05, 3, 0.7), momentum=0.9, nesterov=True),
                      losses.SparseCategoricalCrossentropy(from_logits=True), "sparse"),
        "mobilenet_v2": (None, lambda: o.RMSprop(1e-3, momentum=0.9, clipnorm=1.0),
                         losses.CategoricalCrossentropy(label_smoothing=0.1), "onehot"),
        "damped_sine": (None, lambda: o.Adam(1e-2, amsgrad=True, global_clipnorm=1.0), "mse", "regression"),
        "siamese": (None, lambda: o.AdamW(1e-3), "binary_crossentropy", "binary"),
    }


def _targets(kind: str, shape: tuple[int, ...], rng: np.random.Generator, n: int) -> np.ndarray:
    if kind == "onehot":
        return np.eye(shape[-1])[rng.integers(0, shape[-1], n)]
    if kind == "sparse":
        return rng.integers(0, shape[-1], n)
    if kind == "binary":
        return rng.integers(0, 2, (n, *shape)).astype("float64")
    return rng.normal(size=(n, *shape))


def _weights_apart(a: Any, b: Any) -> float:
    return max(float(np.abs(np.asarray(u) - np.asarray(v)).max()) for u, v in zip(a.get_weights(), b.get_weights(),
                                                                               strict=True))


@pytest.mark.parametrize("name", [
    "mlp", "cifar_cnn",
    pytest.param("mobilenet_v2", marks=pytest.mark.sweep), pytest.param("damped_sine", marks=pytest.mark.sweep),
    pytest.param("siamese", marks=pytest.mark.sweep),
])
def test_float64_training_resumed_from_the_file_runs_free_as_keras(name: str, tmp_path: Path) -> None:
    with keras_in_float64() as keras:
        build, optimizer, loss, kind = _cases(keras)[name]
        config = SMALL_CONFIGS.get(name, {}) if name != "mlp" else {"in_features": 12, "hidden": (9, 7)}
        rng = np.random.default_rng(0)
        arch = architecture(name)
        resolved = resolve_config(arch, config)
        model = build() if build else zoo.get(name, backend="keras", dtype="float64", **config)
        randomise_keras_weights(model, rng)
        model.compile(optimizer(), loss)
        specs, out = arch.inputs(resolved), arch.outputs(resolved)[0].keras_shape
        batches = [(random_inputs(specs, 4, "float64", rng), _targets(kind, out, rng, 4)) for _ in range(2 + STEPS)]
        for x, y in batches[:2]:
            model.train_on_batch(x if len(x) > 1 else x[0], y)
        path = tmp_path / "resumed.keras"
        model.save(path)
        nudged = keras.models.load_model(path)  # Keras against itself: every weight one ulp away
        nudged.set_weights([np.nextafter(w, np.inf) if w.dtype.kind == "f" else w for w in nudged.get_weights()])
        torch_model = zoo.get(name, backend="torch", weights=path, dtype="float64", **config)
        setup = zoo.training_setup(torch_model, path)  # the file alone: floatx, optimizer state, regularizers
        pow_allowance, previous_apart = 0.0, 0.0
        for step, (x, y) in enumerate(batches[2:], start=1):
            before = [np.asarray(w) for w in model.get_weights()]
            gap = _tensorflow_rate_gap(model.optimizer, 2 + step - 1)
            keras_loss = float(model.train_on_batch(x if len(x) > 1 else x[0], y))
            moved = max(float(np.abs(np.asarray(w) - b).max()) for w, b in zip(model.get_weights(), before,
                                                                                strict=True))
            pow_allowance += gap * moved / (1 - float(model.optimizer.get_config().get("momentum") or 0.0))
            nudged.train_on_batch(x if len(x) > 1 else x[0], y)
            tensors = [torch.from_numpy(np.ascontiguousarray(s.keras_to_torch(a))) for s, a in zip(specs, x,
                                                                                                  strict=True)]
            torch_loss = setup.step(tensors if len(tensors) > 1 else tensors[0], torch.from_numpy(y))
            state = {k: v.detach().numpy() for k, v in torch_model.state_dict().items()}
            pairs = weights_port.torch_to_keras(state, torch_model, model)
            apart = max(float(np.abs(np.asarray(variable.numpy()) - array).max()) for variable, array in pairs)
            scale = max(float(np.abs(np.asarray(variable.numpy())).max()) for variable, _ in pairs)
            own = _weights_apart(model, nudged)
            bound = max(1e-10 + 1e-9 * scale, AMPLIFICATION * own) + pow_allowance
            assert apart <= bound, f"step {step}: weights {apart:.2e} apart, bound {bound:.2e} (Keras's own {own:.2e})"
            gradient = sum(float(p.grad.abs().sum()) for p in torch_model.parameters() if p.grad is not None)
            assert abs(torch_loss - keras_loss) <= max(1e-10 * abs(keras_loss), AMPLIFICATION * own) + \
                2 * gradient * previous_apart, (step, torch_loss, keras_loss)
            previous_apart = apart


def _tensorflow_rate_gap(optimizer: Any, iteration: int) -> float:
    """|TensorFlow's ExponentialDecay rate − ours| / ours at ``iteration`` (0 for other rates): Keras's schedule
    inside a graph, as train_on_batch computes it, against zoo.training's."""
    import tensorflow as tf

    from zoo.training._optim import Schedule

    rate = optimizer.get_config()["learning_rate"]
    if not (isinstance(rate, dict) and rate.get("class_name") == "ExponentialDecay"):
        return 0.0
    schedule = optimizer._learning_rate  # Keras's schedule object
    theirs = float(tf.function(lambda step: schedule(step))(tf.constant(iteration, tf.int64)))
    ours = Schedule("ExponentialDecay", rate["config"])(iteration)
    return abs(theirs - ours) / ours


def test_floatx_is_read_from_the_file(tmp_path: Path) -> None:
    """The simplest case of the report: SGD(0.05) in float64 is 0.05, not float32's 0.05000000074505806."""
    with keras_in_float64() as keras:
        model = _mlp_with_regularizers(keras)
        model.compile(keras.optimizers.SGD(0.05), "categorical_crossentropy")
        model.save(tmp_path / "sgd.keras")
    torch_model = zoo.get("mlp", backend="torch", weights=tmp_path / "sgd.keras", dtype="float64", in_features=12,
                          hidden=(9, 7))
    setup = zoo.training_setup(torch_model, tmp_path / "sgd.keras")
    assert setup.optimizer.param_groups[0]["lr"] == 0.05
    assert setup.losses[0].floatx == "float64"


def _schedule(name: str, **config: Any) -> dict[str, Any]:
    return {"module": "keras.optimizers.schedules", "class_name": name, "config": config}


FAMILIES = [
    ("SGD", {"learning_rate": 0.05}, "mse"),
    ("SGD", {"learning_rate": _schedule("PiecewiseConstantDecay", boundaries=[3], values=[0.05, 0.01]),
             "momentum": 0.8}, "mae"),
    ("Adam", {"learning_rate": _schedule("CosineDecay", initial_learning_rate=0.01, decay_steps=5)},
     "categorical_crossentropy"),
    ("AdamW", {"learning_rate": 0.003, "weight_decay": 0.01, "clipvalue": 0.5}, "categorical_crossentropy"),
    ("RMSprop", {"learning_rate": 0.002, "centered": True}, "huber"),
    ("Adagrad", {"learning_rate": 0.05, "clipnorm": 0.5}, "binary_crossentropy"),
    ("Adamax", {"learning_rate": 0.01}, "categorical_crossentropy"),
    ("Nadam", {"learning_rate": 0.01, "global_clipnorm": 0.7}, "mse"),
]


@pytest.mark.sweep
@pytest.mark.parametrize(("family", "settings", "loss"), FAMILIES, ids=[f"{f}-{loss}" for f, _, loss in FAMILIES])
def test_every_optimizer_family_resumes_in_float64(family: str, settings: dict[str, Any], loss: str,
                                                   tmp_path: Path) -> None:
    """Each family, schedule, clipping and several losses on the regularised mlp: resumed, free-running."""
    with keras_in_float64() as keras:
        rng = np.random.default_rng(5)
        model = _mlp_with_regularizers(keras)
        randomise_keras_weights(model, rng)
        model.compile(keras.optimizers.deserialize({"class_name": family, "config": settings}), loss)
        batches = [(rng.normal(size=(4, 12)), np.eye(10)[rng.integers(0, 10, 4)]) for _ in range(2 + STEPS)]
        for x, y in batches[:2]:
            model.train_on_batch(x, y)
        model.save(tmp_path / "resumed.keras")
        torch_model = zoo.get("mlp", backend="torch", weights=tmp_path / "resumed.keras", dtype="float64",
                              in_features=12, hidden=(9, 7))
        setup = zoo.training_setup(torch_model, tmp_path / "resumed.keras")
        for x, y in batches[2:]:
            keras_loss = float(model.train_on_batch(x, y))
            torch_loss = setup.step(torch.from_numpy(x), torch.from_numpy(y))
            assert abs(torch_loss - keras_loss) <= 1e-10 * max(1.0, abs(keras_loss))
        pairs = weights_port.torch_to_keras({k: v.detach().numpy() for k, v in torch_model.state_dict().items()},
                                            torch_model, model)
        apart = max(float(np.abs(np.asarray(variable.numpy()) - array).max()) for variable, array in pairs)
        assert apart <= 1e-10 + 1e-9 * max(float(np.abs(np.asarray(v.numpy())).max()) for v, _ in pairs)
