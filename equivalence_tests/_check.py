"""The programmatic equivalence check behind ``zoo check``: Keras and PyTorch, same function.

One check: build the Keras model, randomise every weight, save it to a real file, port
that file through ``weights_port`` into the PyTorch model, run both in inference mode on
the same random batch, and compare every output.
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ._random import random_inputs, randomise_keras_weights
from ._tolerance import TOLERANCES, Agreement, compare_arrays

__all__ = ["FILE_FORMATS", "CheckResult", "check_architecture", "run_keras", "run_torch", "save_keras"]

FILE_FORMATS = (".keras", ".weights.h5", ".h5")


@dataclass(frozen=True)
class CheckResult:
    name: str
    dtype: str
    config: Mapping[str, Any]
    examples: int
    max_abs: float
    max_rel: float
    passed: bool
    seconds: float

    def summary(self) -> str:
        verdict = "ok" if self.passed else "MISMATCH"
        tol = TOLERANCES[self.dtype]
        return (f"{self.name} [{self.dtype}] {verdict}: max abs {self.max_abs:.2e}, max rel {self.max_rel:.2e} "
                f"(tolerance atol {tol.atol:g}, rtol {tol.rtol:g}), {self.examples} example(s), {self.seconds:.1f}s")


def save_keras(model: Any, directory: Path, file_format: str) -> Path:
    """Save ``model`` as a Keras 3 ``.keras``, ``.weights.h5`` or legacy ``.h5`` file."""
    path = directory / f"{model.name}{file_format}"
    if file_format == ".weights.h5":
        model.save_weights(path)
    else:
        model.save(path)
    return path


def run_keras(model: Any, inputs: Sequence[np.ndarray]) -> list[np.ndarray]:
    outputs = model(list(inputs) if len(inputs) > 1 else inputs[0], training=False)
    outputs = outputs if isinstance(outputs, list | tuple) else [outputs]
    return [np.asarray(o) for o in outputs]


def run_torch(model: Any, inputs: Sequence[np.ndarray], specs: Sequence[Any], device: str = "cpu") -> list[np.ndarray]:
    import torch

    tensors = [torch.from_numpy(np.ascontiguousarray(spec.keras_to_torch(x))).to(device)
               for spec, x in zip(specs, inputs, strict=False)]
    model.eval()
    with torch.no_grad():
        outputs = model(*tensors)
    outputs = outputs if isinstance(outputs, list | tuple) else [outputs]
    return [o.detach().cpu().numpy() for o in outputs]


def check_architecture(name: str, config: Mapping[str, Any] | None = None, dtype: str = "float32", *,
                       batch: int = 3, seed: int = 0, file_format: str = ".keras") -> CheckResult:
    """Randomise, save, port and compare one architecture once; see the module docstring."""
    import zoo
    from zoo._api import architecture
    from zoo._spec import resolve_config

    started = time.perf_counter()
    arch = architecture(name)
    resolved = resolve_config(arch, dict(config or {}))
    rng = np.random.default_rng(seed)
    keras_model = zoo.get(name, backend="keras", dtype=dtype, **resolved)
    randomise_keras_weights(keras_model, rng)
    with tempfile.TemporaryDirectory(prefix="zoo-check-") as tmp:
        path = save_keras(keras_model, Path(tmp), file_format)
        torch_model = zoo.get(name, backend="torch", weights=path, dtype=dtype, **resolved)
    specs = arch.inputs(resolved)
    inputs = random_inputs(specs, batch, dtype, rng)
    agreement = _agree(run_torch(torch_model, inputs, specs), run_keras(keras_model, inputs), arch.outputs(resolved),
                       dtype)
    return CheckResult(name, dtype, resolved, 1, agreement.max_abs, agreement.max_rel, agreement.passed,
                       time.perf_counter() - started)


def _agree(torch_out: Sequence[np.ndarray], keras_out: Sequence[np.ndarray], specs: Sequence[Any],
           dtype: str) -> Agreement:
    if len(torch_out) != len(keras_out):
        return Agreement(float("inf"), float("inf"), False)
    results = [compare_arrays(t, spec.keras_to_torch(k), dtype) for t, k, spec in zip(torch_out, keras_out, specs, strict=False)]
    return Agreement(max(r.max_abs for r in results), max(r.max_rel for r in results), all(r.passed for r in results))
