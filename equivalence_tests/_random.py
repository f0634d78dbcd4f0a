"""Random weights and inputs that expose layout bugs instead of hiding them.

Initial Keras weights are too tidy for a proof (zero biases, unit BatchNorm statistics):
a bug in a bias or a moving variance would pass unseen. Every variable is redrawn here,
scaled by its fan-in so activations stay of order one through deep networks.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

__all__ = ["random_inputs", "randomise_keras_weights"]

_POSITIVE = ("variance", "gamma")  # BatchNorm's moving_variance, Normalization's variance
_CENTRED_SMALL = ("bias", "beta", "moving_mean")


def randomise_keras_weights(model: Any, rng: np.random.Generator,
                            calibration: Sequence[np.ndarray] | None = None) -> None:
    """Redraw every variable of ``model`` (trainable or not) in place.

    With ``calibration`` inputs, BatchNorm statistics are then redrawn around the statistics
    each BatchNorm layer actually sees on that batch, and Dense kernels are scaled to keep
    their outputs of order one. Statistics drawn blindly wash the input out of a deep
    network (every BatchNorm output collapses to a constant), and a saturated head hides
    everything before it: either would let a layout bug in the first layers pass unnoticed.
    """
    for variable in model.weights:
        leaf = str(getattr(variable, "path", None) or variable.name).rsplit("/", 1)[-1].split(":")[0]
        shape = tuple(int(n) for n in variable.shape)
        dtype = np.dtype(str(getattr(variable.dtype, "name", variable.dtype)))
        if dtype.kind in "iu":  # a Normalization's sample count: not a weight
            continue
        variable.assign(_draw(leaf, shape, rng).astype(dtype))
    _finalize_state(model)
    if calibration is not None:
        _calibrate(model, calibration, rng)


def _finalize_state(model: Any) -> None:
    """Layers that derive tensors from their variables (Normalization's mean and variance)
    recompute them, as Keras's loader does: otherwise the model in memory computes with the
    old statistics and the saved file with the new ones."""
    for layer in _layers_of(model, ("Normalization",)):
        layer.finalize_state()


def _draw(leaf: str, shape: tuple[int, ...], rng: np.random.Generator) -> np.ndarray:
    if any(leaf.endswith(p) for p in _POSITIVE):
        return rng.uniform(0.5, 1.5, shape)
    if any(leaf.endswith(p) for p in _CENTRED_SMALL) or len(shape) < 2:
        return rng.uniform(-0.5, 0.5, shape)
    if leaf.endswith("embeddings"):
        return rng.normal(0.0, 1.0, shape)
    fan_in = int(np.prod(shape[:-1]))
    return rng.normal(0.0, np.sqrt(1.0 / max(fan_in, 1)), shape)


def _layers_of(container: Any, class_names: tuple[str, ...]) -> list[Any]:
    found = []
    for layer in getattr(container, "layers", []):
        if type(layer).__name__ in class_names:
            found.append(layer)
        found += _layers_of(layer, class_names)
    return found


def _calibrate(model: Any, inputs: Sequence[np.ndarray], rng: np.random.Generator) -> None:
    """One forward pass in which each BatchNorm first sets its statistics from its own input,
    and each Dense scales its kernel so its pre-activation has a spread of order one (a
    saturated softmax or sigmoid head would hide any difference upstream)."""
    layers = _layers_of(model, ("BatchNormalization", "Dense"))
    if not layers:
        return

    def calibrating(layer: Any) -> Any:
        original = layer.call

        def call(x: Any, *args: Any, **kwargs: Any) -> Any:
            values = x.numpy() if hasattr(x, "numpy") else np.asarray(x)
            if type(layer).__name__ == "Dense":
                _calibrate_dense(layer, values)
            else:
                _calibrate_batch_norm(layer, values, rng)
            return original(x, *args, **kwargs)

        return call

    for layer in layers:
        object.__setattr__(layer, "call", calibrating(layer))
    try:
        model(list(inputs) if len(inputs) > 1 else inputs[0], training=False)
    finally:
        for layer in layers:
            object.__delattr__(layer, "call")


def _calibrate_batch_norm(layer: Any, values: np.ndarray, rng: np.random.Generator) -> None:
    axis = layer.axis if isinstance(layer.axis, int) else layer.axis[0]
    reduce = tuple(i for i in range(values.ndim) if i != axis % values.ndim)
    mean, var = values.mean(axis=reduce), values.var(axis=reduce)
    layer.moving_mean.assign((mean + rng.normal(0, 0.2, mean.shape) * np.sqrt(var)).astype(values.dtype))
    floor = 0.05 * float(var.mean()) + 1e-3  # a channel that barely varied on this batch must not explode on the next
    layer.moving_variance.assign((var * rng.uniform(0.5, 1.5, var.shape) + floor).astype(values.dtype))


def _calibrate_dense(layer: Any, values: np.ndarray) -> None:
    kernel = np.asarray(layer.kernel.numpy())
    spread = float((values @ kernel).std()) if values.shape[-1] == kernel.shape[0] else 0.0
    if spread > 2.0:
        layer.kernel.assign((kernel / spread).astype(kernel.dtype))


def random_inputs(specs: Sequence[Any], batch: int, dtype: str, rng: np.random.Generator) -> list[np.ndarray]:
    """One Keras-layout batch per input spec: uniform in [-1, 1), or ids in [0, high)."""
    arrays = []
    for spec in specs:
        shape = (batch, *spec.keras_shape)
        if spec.dtype == "int64":
            arrays.append(rng.integers(0, spec.high, shape, dtype=np.int64))
        else:
            arrays.append(rng.uniform(-1.0, 1.0, shape).astype(dtype))
    return arrays
