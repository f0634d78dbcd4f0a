"""The programmatic equivalence check behind ``zoo check`` and the pytest plugin.

One example: randomise every Keras weight, save the model to a real file, port that file
through ``weights_port`` into the PyTorch model the builder made, run both in inference
mode on the same random batch, and compare every output. The PyTorch model gets the
state dict only: module settings the porter would carry over (a BatchNorm epsilon) are
checked against the builder instead of applied, so a builder that gets them wrong fails.
Both models are built once per (architecture, config, dtype) and reused across examples.
"""

from __future__ import annotations

import json
import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ._convert_check import kernel_allowances
from ._layerwise import compare_layers, divergence_report
from ._random import random_inputs, randomise_keras_weights
from ._tolerance import TOLERANCES, Agreement, compare_arrays

__all__ = ["FILE_FORMATS", "ArchitectureCheck", "CheckResult", "ExampleOutcome", "check_architecture", "run_keras",
           "run_torch", "save_keras"]

FILE_FORMATS = (".keras", ".weights.h5", ".h5")
_TRAINING_ONLY = {"momentum"}
"""Module settings that change training but not what the model computes in inference."""
CALIBRATION_BATCH = 16  # samples BatchNorm statistics are drawn around (see randomise_keras_weights)


@dataclass(frozen=True)
class ExampleOutcome:
    agreement: Agreement
    round_trip_exact: bool
    report: str | None = None
    notes: tuple[str, ...] = ()
    """Settings the builder lacks that change what the model computes: a failure."""
    remarks: tuple[str, ...] = ()
    """Settings that only matter in training (BatchNorm momentum): reported, not a failure."""

    @property
    def passed(self) -> bool:
        return self.agreement.passed and self.round_trip_exact and not self.notes


@dataclass
class CheckResult:
    """Everything ``zoo check`` prints for one architecture and dtype."""

    name: str
    dtype: str
    config: Mapping[str, Any]
    examples: int = 0
    max_abs: float = 0.0
    max_rel: float = 0.0
    passed: bool = True
    seconds: float = 0.0
    report: str | None = None
    notes: list[str] = field(default_factory=list)
    remarks: list[str] = field(default_factory=list)
    device: str = "cpu"

    def add(self, outcome: ExampleOutcome) -> None:
        self.examples += 1
        self.max_abs = max(self.max_abs, outcome.agreement.max_abs)
        self.max_rel = max(self.max_rel, outcome.agreement.max_rel)
        if not outcome.passed and self.passed:
            self.passed, self.report = False, outcome.report
        self.notes += [n for n in outcome.notes if n not in self.notes]
        self.remarks += [n for n in outcome.remarks if n not in self.remarks]

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
    return [o.numpy() if hasattr(o, "numpy") else np.asarray(o) for o in outputs]


def _torch_inputs(inputs: Sequence[np.ndarray], specs: Sequence[Any], device: str) -> list[Any]:
    import torch

    return [torch.from_numpy(np.ascontiguousarray(spec.keras_to_torch(x))).to(device)
            for spec, x in zip(specs, inputs, strict=True)]


def run_torch(model: Any, inputs: Sequence[np.ndarray], specs: Sequence[Any], device: str = "cpu") -> list[np.ndarray]:
    import torch

    model.eval()
    with torch.no_grad():
        outputs = model(*_torch_inputs(inputs, specs, device))
    outputs = outputs if isinstance(outputs, list | tuple) else [outputs]
    return [o.detach().cpu().numpy() for o in outputs]


def _disable_tf32() -> None:
    """TF32 matmuls would hide real differences on Ampere and newer GPUs: off in both frameworks."""
    import tensorflow as tf
    import torch

    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    tf.config.experimental.enable_tensor_float_32_execution(False)


class ArchitectureCheck:
    """Both models of one (architecture, config, dtype), built once, checked on many examples."""

    def __init__(self, name: str, config: Mapping[str, Any] | None = None, dtype: str = "float32", *,
                 file_format: str = ".keras", device: str = "cpu") -> None:
        import zoo
        from zoo import architecture, resolve_config
        from zoo import port_rules as _rules

        self.name, self.dtype, self.file_format, self.device = name, dtype, file_format, device
        self.arch = architecture(name)
        self.config = resolve_config(self.arch, dict(config or {}))
        if device != "cpu":
            _require_device(device)
            _disable_tf32()
        self.keras_model = zoo.get(name, backend="keras", dtype=dtype, **self.config)
        self.torch_model = zoo.get(name, backend="torch", dtype=dtype, **self.config).to(device).eval()
        self.rules = _rules()
        self.input_specs = self.arch.inputs(self.config)
        self.output_specs = self.arch.outputs(self.config)
        self.allowances = kernel_allowances(json.loads(self.keras_model.to_json()))

    def run(self, seed: int, batch: int = 3) -> ExampleOutcome:
        import torch

        import weights_port

        rng = np.random.default_rng(seed)
        inputs = random_inputs(self.input_specs, batch, self.dtype, rng)
        calibration = random_inputs(self.input_specs, CALIBRATION_BATCH, self.dtype, rng)
        randomise_keras_weights(self.keras_model, rng, calibration)
        with tempfile.TemporaryDirectory(prefix="zoo-check-") as tmp:
            path = save_keras(self.keras_model, Path(tmp), self.file_format)
            with weights_port.open_keras(path) as source:
                state, settings = weights_port.port_to_torch(source, self.torch_model, self.rules)
        self.torch_model.load_state_dict({k: torch.from_numpy(v) for k, v in state.items()})
        notes = tuple(self._settings_the_builder_lacks(settings))
        remarks = tuple(f"module '{path}' has {key}={have!r} where Keras trains with {value!r} (no effect in inference)"
                        for path, key, have, value in self._lacking(settings, training_only=True))
        torch_out = run_torch(self.torch_model, inputs, self.input_specs, self.device)
        keras_out = run_keras(self.keras_model, inputs)
        agreement = self._agree(torch_out, keras_out)
        exact = self._round_trip_is_exact(state)
        report = None
        if not agreement.passed:
            report = self._divergence(inputs, agreement.max_abs)
        elif notes:
            report = self._setting_divergence(settings, agreement.max_abs)
        elif not exact:
            report = f"{self.name}: Keras → PyTorch → Keras did not return identical arrays"
        return ExampleOutcome(agreement, exact, report, notes, remarks)

    def _agree(self, torch_out: Sequence[np.ndarray], keras_out: Sequence[np.ndarray]) -> Agreement:
        if len(torch_out) != len(keras_out):
            return Agreement(float("inf"), float("inf"), False)
        results = [compare_arrays(t, spec.keras_to_torch(k), self.dtype, self.allowances)
                   for t, k, spec in zip(torch_out, keras_out, self.output_specs, strict=False)]
        return Agreement(max(r.max_abs for r in results), max(r.max_rel for r in results),
                         all(r.passed for r in results))

    def _lacking(self, settings: Mapping[str, Mapping[str, Any]],
                 training_only: bool = False) -> list[tuple[str, str, Any, Any]]:
        """(module path, setting, builder's value, Keras's value) where the builder differs, among the settings
        that change inference (or, with ``training_only``, those that do not)."""
        lacking = []
        for path, wanted in settings.items():
            module = self.torch_model.get_submodule(path)
            for key, value in wanted.items():
                if (key in _TRAINING_ONLY) != training_only:
                    continue
                have = getattr(module, key, None)
                same = have == value or (isinstance(value, float) and isinstance(have, float)
                                         and abs(have - value) <= 1e-12 * max(abs(value), 1e-30))
                if not same:
                    lacking.append((path, key, have, value))
        return lacking

    def _settings_the_builder_lacks(self, settings: Mapping[str, Mapping[str, Any]]) -> list[str]:
        return [f"module '{path}' has {key}={have!r}, the Keras layer needs {value!r}"
                for path, key, have, value in self._lacking(settings)]

    def _setting_divergence(self, settings: Mapping[str, Mapping[str, Any]], final_error: float) -> str:
        """The builder computes another function, by less than the tolerance: name the first such layer."""

        lacking = {path: (key, have, value) for path, key, have, value in self._lacking(settings)}
        first = next(p for p in self._pairs() if p.target.path in lacking)
        key, have, value = lacking[first.target.path]
        return (f"{self.name}: diverges at {first.layer.name} (Keras) / {first.target.path} (PyTorch): the builder "
                f"sets {key}={have!r} where Keras uses {value!r} ({len(lacking)} module(s) in all); the outputs "
                f"differ by max abs {final_error:.1e}, inside the tolerance only because the change is small")

    def _round_trip_is_exact(self, state: Mapping[str, np.ndarray]) -> bool:
        import weights_port

        assignments = weights_port.torch_to_keras(state, self.torch_model, self.keras_model, self.rules)
        return all(np.array_equal(np.asarray(variable.numpy()), array) for variable, array in assignments)

    def _pairs(self) -> list[Any]:
        """The porter's pairing of the live Keras layers with the builder's modules."""
        import weights_port

        targets = weights_port.torch_targets(self.torch_model, self.rules)
        return weights_port.pair_layers(weights_port.open_keras(self.keras_model), targets, self.rules)

    def _divergence(self, inputs: Sequence[np.ndarray], final_error: float) -> str:

        comparisons = compare_layers(self._pairs(), self.keras_model, self.torch_model, inputs,
                                     _torch_inputs(inputs, self.input_specs, self.device), self.dtype,
                                     self.allowances)
        return divergence_report(self.name, comparisons, final_error)


def _require_device(device: str) -> None:
    import torch

    from zoo import ZooError

    if device.startswith("cuda") and not torch.cuda.is_available():
        raise ZooError(f"--device {device}: PyTorch sees no CUDA device on this machine; use --device cpu")


def check_architecture(name: str, config: Mapping[str, Any] | None = None, dtype: str = "float32", *,
                       examples: int = 1, batch: int = 3, seed: int = 0, file_format: str = ".keras",
                       device: str = "cpu", progress: Callable[[str, int, int], None] | None = None) -> CheckResult:
    """Check ``name`` on ``examples`` random weight/input draws; stops at the first mismatch."""
    started = time.perf_counter()
    check = ArchitectureCheck(name, config, dtype, file_format=file_format, device=device)
    result = CheckResult(name, dtype, check.config, device=device)
    for index in range(examples):
        if progress:
            progress(name, index + 1, examples)
        result.add(check.run(seed + index, batch))
        if not result.passed:
            break
    result.seconds = time.perf_counter() - started
    return result
