"""The training proof: the same steps in Keras and in PyTorch leave the same weights.

A Keras model with random weights (and regularizers, if drawn) is compiled, optionally
trained a few steps and saved (``.keras`` or legacy ``.h5``, optimizer included); the
PyTorch model is ported from that file and given ``zoo.training_setup`` from it. Both then
take the same batches, one ``train_on_batch`` against one ``setup.step`` at a time, and
after every step the loss, every weight (BatchNorm statistics included) and the
optimizer's slots are compared. Dropout runs at rate 0: the frameworks cannot share a
random stream.
"""

from __future__ import annotations

import copy
import tempfile
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from weights_port._tolerance import TRAINING_TOLERANCES
from zoo._api import architecture
from zoo._train_loss import make_loss

from ._random import random_inputs, randomise_keras_weights

__all__ = ["TrainReport", "targets_for", "train_both"]

_TERMS = {"momentum": "the first moment (β₁ / momentum)", "velocity": "the second moment (β₂, ε inside)",
          "m": "the first moment (β₁)", "u": "the infinity norm (β₂)", "accumulator": "the accumulator (its start value)",
          "velocity_hat": "the AMSGrad maximum", "average_gradient": "the centred average"}


@dataclass
class TrainReport:
    name: str
    dtype: str
    steps: int
    losses: list[tuple[float, float]] = field(default_factory=list)
    worst: float = 0.0  # largest relative weight difference over all steps
    loss_gap: float = 0.0  # largest relative loss difference
    problem: str | None = None

    @property
    def ok(self) -> bool:
        return self.problem is None


def targets_for(loss: str, specs: Sequence[Any], batch: int, dtype: str, rng: np.random.Generator) -> list[np.ndarray]:
    """Targets a loss accepts for each output: class ids, one-hot/probabilities, or reals."""
    targets = []
    for spec in specs:
        shape = (batch, *spec.keras_shape)
        if loss == "sparse_categorical_crossentropy":
            targets.append(rng.integers(0, shape[-1], shape[:-1]).astype(np.int64))
        elif loss == "categorical_crossentropy":
            targets.append(np.eye(shape[-1], dtype=dtype)[rng.integers(0, shape[-1], shape[:-1])])
        elif loss == "binary_crossentropy":
            targets.append(rng.integers(0, 2, shape).astype(dtype))
        else:
            targets.append(rng.normal(0.0, 1.0, shape).astype(dtype))
    return targets


@contextmanager
def _floatx(dtype: str) -> Iterator[None]:
    """Keras computes the loss and keeps the learning rate in floatx: the proof in float64 needs it there too."""
    import keras

    previous = keras.config.floatx()
    keras.config.set_floatx(dtype)
    try:
        yield
    finally:
        keras.config.set_floatx(previous)


def train_both(name: str, config: Mapping[str, Any], dtype: str, optimizer: Mapping[str, Any],
               loss: str | Mapping[str, Any],
               steps: int, seed: int = 0, regularizers: Mapping[str, Any] | None = None, resume_steps: int = 0,
               file_format: str = ".keras", batch: int = 4) -> TrainReport:
    """Train ``name`` both ways for ``steps`` steps (after ``resume_steps`` in Keras alone) and compare."""
    import keras
    import torch

    import zoo

    arch = architecture(name)
    resolved = {**arch.defaults, **config}
    rng = np.random.default_rng(seed)
    in_specs, out_specs = arch.inputs(resolved), arch.outputs(resolved)
    report = TrainReport(name, dtype, steps)
    loss_kind = make_loss(loss).name  # the canonical name decides what targets look like

    def batch_pair() -> tuple[list[np.ndarray], list[np.ndarray]]:
        return (random_inputs(in_specs, batch, dtype, rng), targets_for(loss_kind, out_specs, batch, dtype, rng))

    with _floatx(dtype), tempfile.TemporaryDirectory() as folder:
        keras_model = zoo.get(name, backend="keras", dtype=dtype, **config)
        for layer in _all_layers(keras_model):
            if hasattr(layer, "rate"):
                layer.rate = 0.0  # dropout cannot share a random stream across frameworks
        randomise_keras_weights(keras_model, rng, calibration=batch_pair()[0])
        _add_regularizers(keras_model, regularizers or {})
        keras_loss_object = keras.losses.get(loss if isinstance(loss, str) else _keras_loss_config(loss))
        keras_model.compile(optimizer=keras.optimizers.deserialize(copy.deepcopy(dict(optimizer))), loss=keras_loss_object)
        for _ in range(resume_steps):
            x, y = batch_pair()
            keras_model.train_on_batch(_one(x), _one(y))
        path = Path(folder) / f"model{file_format}"
        keras_model.save(path)
        torch_model = _without_dropout(zoo.get(name, backend="torch", weights=path, dtype=dtype, **config))
        setup = zoo.training_setup(torch_model, path, floatx=dtype)
        reference = zoo.get(name, backend="torch", dtype=dtype, **config)
        tolerance = TRAINING_TOLERANCES[dtype]
        for step in range(steps):
            x, y = batch_pair()
            keras_loss = float(np.asarray(keras_model.train_on_batch(_one(x), _one(y))).reshape(-1)[0])
            torch_x = [torch.from_numpy(np.ascontiguousarray(s.keras_to_torch(a))) for s, a in zip(in_specs, x, strict=True)]
            torch_y = [torch.from_numpy(np.ascontiguousarray(s.keras_to_torch(a)) if a.ndim > 1 else a)
                       for s, a in zip(out_specs, y, strict=True)]
            torch_loss = setup.step(torch_x, torch_y)
            report.losses.append((keras_loss, torch_loss))
            problem = _compare(keras_model, torch_model, setup, reference, dtype, step, keras_loss, torch_loss,
                               tolerance, report)
            if problem:
                report.problem = problem
                break
        setup.close()
    return report


def _compare(keras_model: Any, torch_model: Any, setup: Any, reference: Any, dtype: str, step: int,
             keras_loss: float, torch_loss: float, tolerance: float, report: TrainReport) -> str | None:
    """Keras's weights and slots after this step, ported into ``reference``, against the trained model."""
    import torch

    import weights_port
    from zoo._api import _rules
    from zoo.training import training_setup

    rules = _rules()
    with weights_port.open_keras(keras_model) as source:
        state = weights_port.keras_to_state_dict(source, reference, rules)
    reference.load_state_dict({key: torch.from_numpy(array) for key, array in state.items()})
    loss_gap = abs(keras_loss - torch_loss) / max(1.0, abs(keras_loss))
    keras_slots = training_setup(reference, keras_model, floatx=dtype)
    keras_slots.close()
    reference_parameters = dict(reference.named_parameters())
    trained_parameters = dict(torch_model.named_parameters())
    for key, value in torch_model.state_dict().items():
        if key.endswith("num_batches_tracked"):
            continue
        want = reference.state_dict()[key].double()
        gap = float((value.double() - want).abs().max()) / max(1.0, float(want.abs().max()))
        report.worst = max(report.worst, gap)
        if gap <= tolerance:
            continue
        term = "the loss in training mode (forward, loss or regularizers)" if loss_gap > tolerance else None
        if term is None and key in reference_parameters:
            ours = setup.optimizer.state.get(trained_parameters[key], {})
            theirs = keras_slots.optimizer.state.get(reference_parameters[key], {})
            for slot, tensor in theirs.items():
                if slot in ours and float((ours[slot].double() - tensor.double()).abs().max()) > tolerance:
                    term = f"the optimizer's {_TERMS.get(slot, slot)}"
                    break
        term = term or ("the update rule (learning rate, epsilon, bias correction or clipping)"
                        if key in reference_parameters else "a moving statistic (BatchNorm in training mode)")
        return (f"step {step + 1}: '{key}' differs by {gap:.2e} relative (bound {tolerance:g}); "
                f"losses Keras {keras_loss:.10g} / PyTorch {torch_loss:.10g}; responsible: {term}")
    report.loss_gap = max(report.loss_gap, loss_gap)
    if loss_gap > tolerance:
        return f"step {step + 1}: losses differ, Keras {keras_loss:.10g} / PyTorch {torch_loss:.10g}"
    return None


def _keras_loss_config(loss: Mapping[str, Any]) -> dict[str, Any]:
    """A loss config with Keras's class name, whichever spelling was given."""
    classes = {"binary_crossentropy": "BinaryCrossentropy", "categorical_crossentropy": "CategoricalCrossentropy",
               "sparse_categorical_crossentropy": "SparseCategoricalCrossentropy", "mean_squared_error": "MeanSquaredError",
               "mean_absolute_error": "MeanAbsoluteError", "huber": "Huber"}
    return {"class_name": classes[make_loss(loss).name], "config": dict(loss.get("config") or {})}


def _add_regularizers(model: Any, regularizers: Mapping[str, Any]) -> None:
    """``{"kernel": L2 config, "bias": ..., "activity": ...}`` on every Dense and convolution layer."""
    import keras

    if not regularizers:
        return
    for layer in _all_layers(model):
        if type(layer).__name__ not in ("Dense", "Conv1D", "Conv2D", "Conv3D"):
            continue
        for kind, config in regularizers.items():
            regularizer = keras.regularizers.deserialize(dict(config))
            if kind == "activity":
                if getattr(layer, "activation", None) is keras.activations.linear:
                    layer.activity_regularizer = regularizer
                continue
            variable = getattr(layer, kind, None)
            if variable is not None:
                setattr(layer, f"{kind}_regularizer", regularizer)
                variable.regularizer = regularizer


def _all_layers(model: Any) -> list[Any]:
    layers = []
    for layer in model.layers:
        layers.append(layer)
        if hasattr(layer, "layers"):
            layers.extend(_all_layers(layer))
        for inner in ("layer", "forward_layer", "backward_layer"):
            if hasattr(layer, inner):
                layers.append(getattr(layer, inner))
    return layers


def _without_dropout(model: Any) -> Any:
    """Rate 0 on the PyTorch side too (the zoo's models carry Keras's dropout rates)."""
    import torch

    for module in model.modules():
        if isinstance(module, torch.nn.modules.dropout._DropoutNd):
            module.p = 0.0
    return model


def _one(arrays: list[np.ndarray]) -> Any:
    return arrays[0] if len(arrays) == 1 else arrays
