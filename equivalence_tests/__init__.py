"""Proof that an architecture's Keras and PyTorch builders compute the same function."""

from __future__ import annotations

from typing import Any

from ._check import (
    FILE_FORMATS,
    ArchitectureCheck,
    CheckResult,
    ExampleOutcome,
    check_architecture,
    run_keras,
    run_torch,
    save_keras,
)
from ._convert_check import ConversionCheck, check_conversion
from ._layerwise import LayerComparison, compare_layers, divergence_report
from ._random import random_inputs, randomise_keras_weights
from ._tolerance import TOLERANCES, Agreement, Tolerance, compare_arrays


def train_both(*args: Any, **kwargs: Any) -> Any:
    """Train one saved model in Keras and in PyTorch and compare the weights after each step (see
    ``_train_check.train_both``); imported on use, since it needs torch and ``import equivalence_tests`` must not."""
    from ._train_check import train_both as run

    return run(*args, **kwargs)

__all__ = [
    "FILE_FORMATS",
    "TOLERANCES",
    "Agreement",
    "ArchitectureCheck",
    "CheckResult",
    "ConversionCheck",
    "ExampleOutcome",
    "LayerComparison",
    "Tolerance",
    "check_architecture",
    "check_conversion",
    "compare_arrays",
    "compare_layers",
    "divergence_report",
    "random_inputs",
    "randomise_keras_weights",
    "run_keras",
    "run_torch",
    "save_keras",
    "train_both",
]
