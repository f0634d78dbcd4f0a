"""Keras's losses, reductions and regularizers, computed on PyTorch tensors.

Keras computes a loss in its ``floatx`` (float32 unless set), casting a float64 model's
outputs down, clips probabilities to [1e-7, 1 − 1e-7] before a logarithm, renormalises
categorical probabilities, and, when the output is the direct result of a sigmoid or
softmax, uses the logits underneath instead (TensorFlow's ``_get_logits``). The reduction
``sum_over_batch_size`` divides by the number of per-sample values. Regularizer penalties
are added to the loss, not to the gradient.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from .._errors import TrainingConfigError
from ._config import checked_entry, shown

__all__ = ["EPSILON", "LOSSES", "KerasLoss", "Regularizer", "make_loss", "make_regularizer"]

EPSILON = 1e-7
"""``keras.config.epsilon()``: the clip applied to probabilities before a logarithm."""

LOGITS_ATTRIBUTE = "_zoo_keras_logits"
"""Set on a sigmoid or softmax output (by the training set-up's hooks): the tensor it came from."""

_ALIASES = {
    "binary_crossentropy": "binary_crossentropy", "BinaryCrossentropy": "binary_crossentropy",
    "categorical_crossentropy": "categorical_crossentropy", "CategoricalCrossentropy": "categorical_crossentropy",
    "sparse_categorical_crossentropy": "sparse_categorical_crossentropy",
    "SparseCategoricalCrossentropy": "sparse_categorical_crossentropy",
    "mean_squared_error": "mean_squared_error", "mse": "mean_squared_error", "MeanSquaredError": "mean_squared_error",
    "mean_absolute_error": "mean_absolute_error", "mae": "mean_absolute_error",
    "MeanAbsoluteError": "mean_absolute_error",
    "huber": "huber", "Huber": "huber", "huber_loss": "huber",
}
LOSSES = tuple(sorted(set(_ALIASES.values())))
_REDUCTIONS = ("sum_over_batch_size", "mean", "sum")


@dataclass(frozen=True)
class KerasLoss:
    """One Keras loss with its settings; ``loss(outputs, targets)`` is a scalar tensor."""

    name: str
    from_logits: bool = False
    label_smoothing: float = 0.0
    delta: float = 1.0
    reduction: str = "sum_over_batch_size"
    floatx: str = "float32"

    def __call__(self, output: torch.Tensor, target: torch.Tensor,
                 sample_weight: torch.Tensor | None = None) -> torch.Tensor:
        dtype = getattr(torch, self.floatx)
        logits = getattr(output, LOGITS_ATTRIBUTE, None) if output.dtype == dtype else None  # a cast loses them
        y_pred = output.to(dtype)
        y_true = target.to(dtype)
        values = self._per_sample(y_true, y_pred, None if logits is None else logits.to(dtype))
        if sample_weight is not None:  # Keras's reduce_weighted_values: weight, then divide by the count, not Σw
            weight = sample_weight.to(dtype)
            while weight.dim() > values.dim() and weight.shape[-1] == 1:
                weight = weight.squeeze(-1)
            while weight.dim() < values.dim():
                weight = weight.unsqueeze(-1)
            values = values * weight
        total = values.sum()
        return total if self.reduction == "sum" else total / values.numel()

    def _per_sample(self, y_true: torch.Tensor, y_pred: torch.Tensor, logits: torch.Tensor | None) -> torch.Tensor:
        name = self.name
        if name in ("mean_squared_error", "mean_absolute_error", "huber"):
            y_true = _same_rank(y_true, y_pred)
            error = y_pred - y_true
            if name == "mean_squared_error":
                return error.square().mean(dim=-1)
            if name == "mean_absolute_error":
                return error.abs().mean(dim=-1)
            delta = torch.tensor(self.delta, dtype=y_pred.dtype)
            quadratic = 0.5 * error.square()
            linear = delta * error.abs() - 0.5 * delta.square()
            return torch.where(error.abs() <= delta, quadratic, linear).mean(dim=-1)
        if name == "binary_crossentropy":
            if self.label_smoothing:
                y_true = y_true * (1.0 - self.label_smoothing) + 0.5 * self.label_smoothing
            if self.from_logits or logits is not None:
                x = y_pred if self.from_logits else logits
                assert x is not None
                values = F.binary_cross_entropy_with_logits(x, y_true, reduction="none")
            else:
                p = y_pred.clamp(EPSILON, 1.0 - EPSILON)
                values = -(y_true * torch.log(p) + (1.0 - y_true) * torch.log(1.0 - p))
            return values.mean(dim=-1)
        if name == "categorical_crossentropy":
            if self.label_smoothing:
                y_true = y_true * (1.0 - self.label_smoothing) + self.label_smoothing / y_true.shape[-1]
            if self.from_logits or logits is not None:
                x = y_pred if self.from_logits else logits
                assert x is not None
                return -(y_true * torch.log_softmax(x, dim=-1)).sum(dim=-1)
            p = (y_pred / y_pred.sum(dim=-1, keepdim=True)).clamp(EPSILON, 1.0 - EPSILON)
            return -(y_true * torch.log(p)).sum(dim=-1)
        # sparse_categorical_crossentropy: integer targets, one fewer axis (or a trailing 1)
        labels = y_true.squeeze(-1) if y_true.dim() == y_pred.dim() and y_true.shape[-1] == 1 else y_true
        labels = labels.to(torch.int64)
        if self.from_logits or logits is not None:
            x = y_pred if self.from_logits else logits
            assert x is not None
        else:
            x = torch.log(y_pred.clamp(EPSILON, 1.0 - EPSILON))
        return -torch.log_softmax(x, dim=-1).gather(-1, labels.unsqueeze(-1)).squeeze(-1)


def _same_rank(y_true: torch.Tensor, y_pred: torch.Tensor) -> torch.Tensor:
    """Keras's squeeze_or_expand_to_same_rank for a target with one axis more or fewer."""
    if y_true.dim() == y_pred.dim() + 1 and y_true.shape[-1] == 1:
        return y_true.squeeze(-1)
    if y_pred.dim() == y_true.dim() + 1 and y_pred.shape[-1] == 1:
        return y_true.unsqueeze(-1)
    return y_true


def make_loss(config: Mapping[str, Any] | str, floatx: str = "float32") -> KerasLoss:
    """The loss a Keras config names: ``"mse"``, or ``keras.losses.serialize`` output."""
    if isinstance(config, Mapping) and isinstance(config.get("config"), str) and config.get("class_name") != "function":
        config = {**config, "class_name": "function"}  # Keras 2's serialized loss function: {"config": "mse"}
    class_name, settings = checked_entry(config, "loss", allow_function=True)
    name = _ALIASES.get(class_name)
    if name is None:
        raise TrainingConfigError(f"loss {shown(class_name)} is not reproduced in PyTorch; supported: "
                                  f"{', '.join(LOSSES)} (and their Keras class names)")
    reduction = settings.get("reduction", "sum_over_batch_size")
    if reduction not in _REDUCTIONS:
        raise TrainingConfigError(f"loss reduction {shown(reduction)} cannot train a model; use one of {_REDUCTIONS}")
    if settings.get("ignore_class") is not None:
        raise TrainingConfigError("sparse_categorical_crossentropy(ignore_class=...) is not reproduced")
    if settings.get("axis", -1) not in (-1, None):
        raise TrainingConfigError(f"{class_name}(axis={settings['axis']}) is not reproduced; only the last axis")
    return KerasLoss(name, bool(settings.get("from_logits", False)), float(settings.get("label_smoothing", 0.0)),
                     float(settings.get("delta", 1.0)), "sum" if reduction == "sum" else "sum_over_batch_size",
                     floatx)


@dataclass(frozen=True)
class Regularizer:
    """Keras's L1 / L2 / L1L2: l1·Σ|x| + l2·Σx²."""

    l1: float = 0.0
    l2: float = 0.0

    def __call__(self, tensors: Sequence[torch.Tensor]) -> torch.Tensor:
        # Keras multiplies by ops.cast(l1, dtype): a Python float goes through float32 in
        # TensorFlow, so l2=0.01 acts as 0.009999999776 even on float64 weights.
        dtype = tensors[0].dtype
        l1, l2 = (torch.tensor(float(np.float32(v)), dtype=dtype) for v in (self.l1, self.l2))
        total_abs = sum((x.abs().sum() for x in tensors), torch.zeros((), dtype=dtype))
        total_square = sum((x.square().sum() for x in tensors), torch.zeros((), dtype=dtype))
        penalty = torch.zeros((), dtype=dtype)
        if self.l1:
            penalty = penalty + l1 * total_abs
        if self.l2:
            penalty = penalty + l2 * total_square
        return penalty


def make_regularizer(config: Mapping[str, Any] | str | None) -> Regularizer | None:
    if config is None:
        return None
    class_name, settings = checked_entry(config, "regularizer")
    kind = class_name.lower().replace("_", "")
    if kind == "l1":
        return Regularizer(l1=float(settings.get("l1", 0.01)))
    if kind == "l2":
        return Regularizer(l2=float(settings.get("l2", 0.01)))
    if kind == "l1l2":
        return Regularizer(l1=float(settings.get("l1", 0.0)), l2=float(settings.get("l2", 0.0)))
    raise TrainingConfigError(f"regularizer {shown(class_name)} is not reproduced; supported: L1, L2, L1L2")
