"""The training proof: one training step in Keras and in PyTorch, from the same state, lands in the same state.

A Keras model with random weights (and regularizers, if drawn) is compiled, optionally
trained a few steps and saved (``.keras`` or legacy ``.h5``, optimizer included); the
PyTorch model is ported from that file and given ``zoo.training_setup`` from it. Both then
take the same batches, one ``train_on_batch`` against one ``setup.step`` at a time, and
after every step the loss, every weight (BatchNorm statistics included) and the
optimizer's slots are compared. Dropout runs at rate 0: the frameworks cannot share a
random stream.

``sync=True`` (the property) re-ports Keras's weights and optimizer state into PyTorch
before every step, so each step is proven from identical states: without it a deep
network's training amplifies a 1e-12 difference exactly as it would amplify Keras's own
rounding, which says nothing about the translation. ``sync=False`` (the resume proofs)
runs free, so the optimizer's own state carries over from step to step.

float32: each framework's float32 step differs from the exact one by rounding that an
adaptive optimizer can blow up to the size of the step (Adam turns a gradient at noise
level into ±η), and PyTorch's CPU kernels round differently from TensorFlow's. So each
float32 step is measured against its own exact twin: a float64 Keras model and a float64
PyTorch model take the same step from the same (float32) state. Asserted: the two float64
twins agree to the float64 bound (the translation is exact from that state), and the two
float32 results differ by no more than their two rounding errors allow
(``FLOAT32_TRAINING_FACTOR``). The ratio of PyTorch's own error to Keras's is reported
(``float32_ratio``): it measures the kernels' rounding, not the translation, and is
heavy-tailed (a gradient component at rounding level can flip an Adam step).
"""

from __future__ import annotations

import copy
import json
import tempfile
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from weights_port.tolerance import FLOAT32_TRAINING_FACTOR, TRAINING_TOLERANCES
from zoo import architecture
from zoo.training import make_loss

from ._convert_check import kernel_allowances
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
    worst: float = 0.0  # float64: largest max|Δw| / max(1, max|w|); float32: largest ratio to Keras's own error
    loss_gap: float = 0.0  # largest relative loss difference
    float32_ratio: float = 0.0  # float32: largest PyTorch own error / Keras own error (their kernels' accuracy)
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
    from zoo.architectures import keras_dtype_policy

    with keras_dtype_policy(dtype):
        yield


def _keras_side(name: str, config: Mapping[str, Any], dtype: str, optimizer: Mapping[str, Any],
                loss: str | Mapping[str, Any], regularizers: Mapping[str, Any]) -> Any:
    """The zoo's Keras model in ``dtype`` with dropout off and the regularizers on, compiled (floatx = dtype)."""
    import keras

    import zoo

    with _floatx(dtype):
        model = zoo.get(name, backend="keras", dtype=dtype, **config)
        for layer in _all_layers(model):
            if hasattr(layer, "rate"):
                layer.rate = 0.0  # dropout cannot share a random stream across frameworks
        _add_regularizers(model, regularizers)
        keras_loss = keras.losses.get(loss if isinstance(loss, str) else _keras_loss_config(loss))
        model.compile(optimizer=keras.optimizers.deserialize(copy.deepcopy(dict(optimizer))), loss=keras_loss)
    return model


def train_both(name: str, config: Mapping[str, Any], dtype: str, optimizer: Mapping[str, Any],
               loss: str | Mapping[str, Any], steps: int, seed: int = 0, regularizers: Mapping[str, Any] | None = None,
               resume_steps: int = 0, file_format: str = ".keras", batch: int = 4, sync: bool = True) -> TrainReport:
    """Train ``name`` both ways for ``steps`` steps (after ``resume_steps`` in Keras alone) and compare each."""
    import zoo

    arch = architecture(name)
    resolved = {**arch.defaults, **config}
    rng = np.random.default_rng(seed)
    in_specs, out_specs = arch.inputs(resolved), arch.outputs(resolved)
    report = TrainReport(name, dtype, steps)
    loss_kind = make_loss(loss).name  # the canonical name decides what targets look like

    def batch_pair() -> tuple[list[np.ndarray], list[np.ndarray]]:
        return (random_inputs(in_specs, batch, dtype, rng), targets_for(loss_kind, out_specs, batch, dtype, rng))

    keras_model = _keras_side(name, config, dtype, optimizer, loss, regularizers or {})
    randomise_keras_weights(keras_model, rng, calibration=batch_pair()[0])
    # a TensorFlow kernel that is not float64-accurate (gelu) holds float64 to its allowance
    allowances = kernel_allowances(json.loads(keras_model.to_json()))
    float64_bound = max([TRAINING_TOLERANCES["float64"], *(a.rtol for a in allowances)])
    twin = _keras_side(name, config, "float64", optimizer, loss, regularizers or {}) if dtype == "float32" else None
    with _floatx(dtype), tempfile.TemporaryDirectory() as folder:
        for _ in range(resume_steps):
            x, y = batch_pair()
            keras_model.train_on_batch(_one(x), _one(y))
        path = Path(folder) / f"model{file_format}"
        keras_model.save(path)
        torch_model = _without_dropout(zoo.get(name, backend="torch", weights=path, dtype=dtype, **config))
        # Keras saves a Huber loss without its delta: give the loss as compiled (see zoo.training)
        explicit = {"loss": loss} if loss_kind == "huber" else {}
        setup = zoo.training_setup(torch_model, path, floatx=dtype, **explicit)
        reference = zoo.get(name, backend="torch", dtype=dtype, **config)
        reference64 = zoo.get(name, backend="torch", dtype="float64", **config) if twin is not None else None
        torch64 = _without_dropout(zoo.get(name, backend="torch", dtype="float64", **config)) if twin else None
        for step in range(steps):
            x, y = batch_pair()
            if sync and step > 0:
                setup.close()
                torch_model.load_state_dict(reference.state_dict())  # Keras's state, ported by the last comparison
                setup = zoo.training_setup(torch_model, keras_model, floatx=dtype)
            setup64 = None
            if twin is not None and torch64 is not None:  # both float64 twins start from the float32 state
                _copy_state(keras_model, twin)
                _port_into(keras_model, torch64)
                setup64 = zoo.training_setup(torch64, keras_model, floatx="float64")
            torch_x, torch_y = _torch_batch(in_specs, out_specs, x, y)
            keras_loss = float(np.asarray(keras_model.train_on_batch(_one(x), _one(y))).reshape(-1)[0])
            torch_loss = setup.step(torch_x, torch_y)
            exact_loss = exact_torch_loss = None
            if twin is not None and setup64 is not None:
                x64, y64 = [_as64(a) for a in x], [_as64(a) for a in y]  # token ids stay integers
                exact_torch_loss = setup64.step(*_torch_batch(in_specs, out_specs, x64, y64))
                setup64.close()
                with _floatx("float64"):
                    exact_loss = float(np.asarray(twin.train_on_batch(_one(x64), _one(y64))).reshape(-1)[0])
            report.losses.append((keras_loss, torch_loss))
            problem = _compare(keras_model, torch_model, setup, reference, dtype, step, keras_loss, torch_loss, report,
                               twin, reference64, (exact_loss, exact_torch_loss), torch64, float64_bound)
            if problem:
                report.problem = problem
                break
        setup.close()
    return report


def _as64(array: np.ndarray) -> np.ndarray:
    return array if array.dtype.kind in "iu" else array.astype("float64")


def _torch_batch(in_specs: Sequence[Any], out_specs: Sequence[Any], x: list[np.ndarray], y: list[np.ndarray]
                 ) -> tuple[list[Any], list[Any]]:
    import torch

    inputs = [torch.from_numpy(np.ascontiguousarray(s.keras_to_torch(a))) for s, a in zip(in_specs, x, strict=True)]
    targets = [torch.from_numpy(np.ascontiguousarray(s.keras_to_torch(a)) if a.ndim > 1 else a)
               for s, a in zip(out_specs, y, strict=True)]
    return inputs, targets


def _port_into(keras_model: Any, torch_model: Any) -> None:
    """Keras's current weights and BatchNorm statistics into the PyTorch model, in its dtype."""
    import torch

    import weights_port
    from zoo import port_rules as _rules

    with weights_port.open_keras(keras_model) as source:
        state = weights_port.keras_to_state_dict(source, torch_model, _rules())
    torch_model.load_state_dict({key: torch.from_numpy(array) for key, array in state.items()})


def _copy_state(source: Any, target: Any) -> None:
    """The float32 Keras model's weights and optimizer variables into its float64 twin."""
    target.set_weights([np.asarray(w, dtype="float64") for w in source.get_weights()])
    if not source.optimizer.built:  # its slots start at zero either way; building exposes the float32 rate to copy
        source.optimizer.build(source.trainable_variables)
    if not target.optimizer.built:
        target.optimizer.build(target.trainable_variables)
    for mine, theirs in zip(target.optimizer.variables, source.optimizer.variables, strict=True):
        value = np.asarray(theirs.numpy())
        mine.assign(value if value.dtype.kind in "iu" else value.astype(np.dtype(mine.dtype)))


def _compare(keras_model: Any, torch_model: Any, setup: Any, reference: Any, dtype: str, step: int,
             keras_loss: float, torch_loss: float, report: TrainReport, twin: Any = None, reference64: Any = None,
             exact_losses: tuple[float | None, float | None] = (None, None), torch64: Any = None,
             float64_bound: float = TRAINING_TOLERANCES["float64"]) -> str | None:
    """Keras's weights and slots after this step, ported into ``reference``, against the trained model."""
    from zoo.training import training_setup

    _port_into(keras_model, reference)
    expected = reference.state_dict()
    exact = None
    if twin is not None:
        _port_into(twin, reference64)
        exact = reference64.state_dict()
    reference_parameters = dict(reference.named_parameters())
    trained_parameters = dict(torch_model.named_parameters())
    loss_problem = _loss_problem(keras_loss, torch_loss, *exact_losses, report, float64_bound)
    exact_torch = torch64.state_dict() if torch64 is not None else None
    # per tensor: (gap, Keras's own float32 error, PyTorch's own, float64 twins' gap) over max(1, max|w|)
    gaps: list[tuple[float, float, float, float, str, float]] = []
    for key, value in torch_model.state_dict().items():
        if key.endswith("num_batches_tracked"):
            continue
        want = expected[key].double()
        scale = max(1.0, float(want.abs().max()))

        def distance(a: Any, b: Any, scale: float = scale) -> float:
            return float((a.double() - b.double()).abs().max()) / scale

        own_keras = own_torch = twins_gap = 0.0
        if exact is not None and exact_torch is not None:
            own_keras, own_torch = distance(want, exact[key]), distance(value, exact_torch[key])
            twins_gap = distance(exact[key], exact_torch[key])
        gaps.append((distance(value, want), own_keras, own_torch, twins_gap, key, scale))
    if exact is None:
        allowed = float64_bound
        offenders = [g for g in gaps if g[0] > allowed]
        report.worst = max(report.worst, max((g[0] for g in gaps), default=0.0))
    else:
        keras_error, torch_error = max(g[1] for g in gaps), max(g[2] for g in gaps)
        floor = TRAINING_TOLERANCES["float32"]
        allowed = FLOAT32_TRAINING_FACTOR * (keras_error + torch_error) + floor
        report.float32_ratio = max(report.float32_ratio, torch_error / (keras_error + floor))
        report.worst = max(report.worst, max(g[0] for g in gaps) / allowed)
        twin_gaps = [g for g in gaps if g[3] > float64_bound]
        if twin_gaps:
            _, _, _, gap, key, scale = twin_gaps[0]
            return (f"step {step + 1}: from the same float32 state the float64 twins differ in '{key}' by {gap:.2e} "
                    f"of max(1, max|w|) = {scale:.3g}: the translation itself differs")
        offenders = [max(gaps)] if max(g[0] for g in gaps) > allowed else []
    if not offenders:
        return loss_problem
    gap, key, scale = offenders[0][0], offenders[0][4], offenders[0][5]
    term = "the loss in training mode (forward, loss or regularizers)" if loss_problem else None
    if term is None and key in reference_parameters:
        ours = setup.optimizer.state.get(trained_parameters[key], {})
        keras_slots = training_setup(reference, keras_model, floatx=dtype)  # Keras's slots, only to name the term
        keras_slots.close()
        theirs = keras_slots.optimizer.state.get(reference_parameters[key], {})
        for slot, tensor in theirs.items():
            if slot in ours and float((ours[slot].double() - tensor.double()).abs().max()) > allowed * scale:
                term = f"the optimizer's {_TERMS.get(slot, slot)}"
                break
    term = term or ("the update rule (learning rate, epsilon, bias correction or clipping)"
                    if key in reference_parameters else "a moving statistic (BatchNorm in training mode)")
    return (f"step {step + 1}: '{key}' differs by {gap:.2e} of max(1, max|w|) = {scale:.3g} (allowed {allowed:.2e}); "
            f"losses Keras {keras_loss:.10g} / PyTorch {torch_loss:.10g}; responsible: {term}")


def _loss_problem(keras_loss: float, torch_loss: float, exact_loss: float | None, exact_torch_loss: float | None,
                  report: TrainReport, float64_bound: float = TRAINING_TOLERANCES["float64"]) -> str | None:
    gap = abs(keras_loss - torch_loss)
    scale = max(1.0, abs(keras_loss))
    if exact_loss is None or exact_torch_loss is None:
        allowed = float64_bound * scale
    else:
        # the loss: within both frameworks' own float32 errors (PyTorch's measured by its twin's step)
        allowed = FLOAT32_TRAINING_FACTOR * (abs(keras_loss - exact_loss) + abs(torch_loss - exact_torch_loss)) \
            + TRAINING_TOLERANCES["float32"] * scale
    report.loss_gap = max(report.loss_gap, gap / scale)
    if gap > allowed:
        return f"losses differ: Keras {keras_loss:.10g} / PyTorch {torch_loss:.10g} (allowed {allowed:.2e})"
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
