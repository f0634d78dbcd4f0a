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

_POSITIVE = ("moving_variance", "gamma")
_CENTRED_SMALL = ("bias", "beta", "moving_mean")


def randomise_keras_weights(model: Any, rng: np.random.Generator) -> None:
    """Redraw every variable of ``model`` (trainable or not) in place."""
    for variable in model.weights:
        leaf = str(getattr(variable, "path", None) or variable.name).rsplit("/", 1)[-1].split(":")[0]
        shape = tuple(int(n) for n in variable.shape)
        dtype = np.dtype(str(getattr(variable.dtype, "name", variable.dtype)))
        variable.assign(_draw(leaf, shape, rng).astype(dtype))


def _draw(leaf: str, shape: tuple[int, ...], rng: np.random.Generator) -> np.ndarray:
    if any(leaf.endswith(p) for p in _POSITIVE):
        return rng.uniform(0.5, 1.5, shape)
    if any(leaf.endswith(p) for p in _CENTRED_SMALL) or len(shape) < 2:
        return rng.uniform(-0.5, 0.5, shape)
    if leaf.endswith("embeddings"):
        return rng.normal(0.0, 1.0, shape)
    fan_in = int(np.prod(shape[:-1]))
    return rng.normal(0.0, np.sqrt(1.0 / max(fan_in, 1)), shape)


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
