"""Keras 3's compiled metrics, computed in PyTorch as Keras computes them.

A metric keeps Keras's running state (a weighted total and count, or confusion counts per
threshold) in the dtype Keras keeps it in and is updated batch by batch, so ``result()``
after any batch is the number Keras logs after that batch. This is our own code, not
torchmetrics: torchmetrics weights, buckets and breaks top-k ties its own way, and the
numbers here are meant to be compared with Keras's logs.

The Keras rules followed here:

* An accuracy, error or crossentropy metric (Keras's ``MeanMetricWrapper``) computes
  per-sample values in the prediction's dtype. It then adds Σ value·weight and Σ weight
  (the batch size when unweighted) to a total and a count kept in the metric's dtype:
  ``floatx``, or the ``dtype`` its config records.
* Precision, Recall and AUC keep their counts in ``floatx`` whatever ``dtype`` they are
  given (Keras makes their variables without one) and cast predictions to it first.
* ``compile(metrics=["accuracy"])`` picks binary, sparse or categorical accuracy from the
  output and target shapes. A metric given as a string is logged under that string
  ("acc", "MSE"). A multi-output model puts the output's name in front and numbers
  repeats (see ``compiled_metrics``).
* The logged ``loss`` is Keras's loss tracker ``Mean("loss", floatx)``, updated once a batch
  with ``(batch loss, sample_weight=batch size)``: a batch weighs its number of samples,
  not the sum of its sample weights.

Tensors are read as given; where Keras casts (``y_true`` to the prediction's dtype,
predictions to the state dtype) they are cast here too. States live on the CPU, detached
from autograd. A sigmoid or softmax output that carries its logits
(``zoo._train_loss.LOGITS_ATTRIBUTE``, set by the training hooks) gives its crossentropy
from those logits, as TensorFlow's ``_get_logits`` does.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from .._errors import TrainingConfigError
from ..training._config import checked_entry, shown
from ..training._loss import LOGITS_ATTRIBUTE

__all__ = [
    "AUC",
    "METRICS",
    "Accuracy",
    "BinaryAccuracy",
    "BinaryCrossentropy",
    "CategoricalAccuracy",
    "CategoricalCrossentropy",
    "CompiledMetric",
    "KerasMetric",
    "Mean",
    "MeanAbsoluteError",
    "MeanMetricWrapper",
    "MeanSquaredError",
    "Precision",
    "Recall",
    "RootMeanSquaredError",
    "SparseCategoricalAccuracy",
    "SparseCategoricalCrossentropy",
    "SparseTopKCategoricalAccuracy",
    "TopKCategoricalAccuracy",
    "compiled_metrics",
    "make_metric",
]

EPSILON = 1e-7
"""``keras.config.epsilon()``: the probability clip before a logarithm and the AUC's outer thresholds."""

NEG_INF = -1e10
"""What Keras writes over the scores outside the top k, and Precision/Recall's threshold with ``top_k``."""

Shape = Sequence[int | None]
Weights = torch.Tensor | np.ndarray | float | int

_DTYPES = {"float32": torch.float32, "float64": torch.float64}


def _torch_dtype(name: str) -> torch.dtype:
    if name not in _DTYPES:
        raise TrainingConfigError(f"metric dtype {shown(name)} is not reproduced; use 'float32' or 'float64'")
    return _DTYPES[name]


def _squeeze_or_expand(x1: torch.Tensor, x2: torch.Tensor, expand_rank_1: bool = True
                       ) -> tuple[torch.Tensor, torch.Tensor]:
    """Keras's ``squeeze_or_expand_to_same_rank``: a trailing axis of 1 is dropped (or one added to a vector)."""
    if x1.dim() == x2.dim() + 1 and x1.shape[-1] == 1:
        if x2.dim() == 1 and expand_rank_1:
            x2 = x2.unsqueeze(-1)
        else:
            x1 = x1.squeeze(-1)
    if x2.dim() == x1.dim() + 1 and x2.shape[-1] == 1:
        if x1.dim() == 1 and expand_rank_1:
            x1 = x1.unsqueeze(-1)
        else:
            x2 = x2.squeeze(-1)
    return x1, x2


def _divide_no_nan(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """``tf.math.divide_no_nan``: 0 where the denominator is 0."""
    zero = y == 0
    return torch.where(zero, torch.zeros_like(x), x / torch.where(zero, torch.ones_like(y), y))


# --------------------------------------------------------------------------- running means


class Mean:
    """Keras's ``metrics.Mean``: Σ value·weight / Σ weight, both kept in ``dtype``.

    Keras's loss tracker is ``Mean("loss", floatx)`` updated with ``(loss, sample_weight=batch size)``.
    Values of rank > 1 are averaged to one per sample first, as Keras's
    ``reduce_to_samplewise_values`` does.
    """

    def __init__(self, name: str = "mean", dtype: str = "float32") -> None:
        self.name = name
        self.dtype = _torch_dtype(dtype)
        self.reset()

    def reset(self) -> None:
        self.total = torch.zeros((), dtype=self.dtype)
        self.count = torch.zeros((), dtype=self.dtype)

    def update(self, values: torch.Tensor | float, sample_weight: Weights | None = None) -> None:
        values = torch.as_tensor(values).detach().to(device="cpu", dtype=self.dtype)
        if sample_weight is None:
            count = torch.tensor(float(values.shape[0]) if values.dim() else 1.0, dtype=self.dtype)
        else:
            weights = torch.as_tensor(sample_weight).detach().to(device="cpu", dtype=self.dtype)
            values, weights = _squeeze_or_expand(values, weights)
            if values.dim() > weights.dim():
                values = values.mean(dim=tuple(range(weights.dim(), values.dim())))
            weights = weights.broadcast_to(values.shape)
            values = values * weights
            if weights.dim() > 1:
                weights = weights.mean(dim=tuple(range(1, weights.dim())))
            count = weights.sum()
        if values.dim() > 1:
            values = values.mean(dim=tuple(range(1, values.dim())))
        self.total = self.total + values.sum()
        self.count = self.count + count

    def result(self) -> torch.Tensor:
        return _divide_no_nan(self.total, self.count)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(name={self.name!r})"


class KerasMetric(ABC):
    """One compiled Keras metric: ``update`` after each batch, ``result`` as Keras logs it, ``reset`` per epoch."""

    name: str
    dtype: torch.dtype

    @abstractmethod
    def update(self, y_true: torch.Tensor, y_pred: torch.Tensor, sample_weight: Weights | None = None) -> None: ...

    @abstractmethod
    def result(self) -> torch.Tensor: ...

    @abstractmethod
    def reset(self) -> None: ...

    def __repr__(self) -> str:
        return f"{type(self).__name__}(name={self.name!r}, dtype={str(self.dtype).removeprefix('torch.')})"


class MeanMetricWrapper(KerasMetric):
    """Keras's ``MeanMetricWrapper``: the weighted mean of per-sample ``values(y_true, y_pred)``."""

    default_name = "mean_metric_wrapper"

    def __init__(self, name: str | None = None, dtype: str = "float32") -> None:
        self.name = name or self.default_name
        self._mean = Mean(self.name, dtype)
        self.dtype = self._mean.dtype

    @abstractmethod
    def values(self, y_true: torch.Tensor, y_pred: torch.Tensor) -> torch.Tensor:
        """Per-sample values, computed as Keras's metric function computes them."""

    def update(self, y_true: torch.Tensor, y_pred: torch.Tensor, sample_weight: Weights | None = None) -> None:
        with torch.no_grad():
            self._mean.update(self.values(torch.as_tensor(y_true), torch.as_tensor(y_pred)), sample_weight)

    def result(self) -> torch.Tensor:
        return self._mean.result()

    def reset(self) -> None:
        self._mean.reset()


# --------------------------------------------------------------------------- accuracies


class Accuracy(MeanMetricWrapper):
    """How often predictions equal targets exactly (``y_true`` cast to the prediction's dtype)."""

    default_name = "accuracy"

    def values(self, y_true: torch.Tensor, y_pred: torch.Tensor) -> torch.Tensor:
        y_true, y_pred = _squeeze_or_expand(y_true.to(y_pred.dtype), y_pred)
        return (y_true == y_pred).to(self.dtype)


class BinaryAccuracy(MeanMetricWrapper):
    """How often ``y_pred > threshold`` equals ``y_true``; the threshold is a float32 constant, as in Keras."""

    default_name = "binary_accuracy"

    def __init__(self, name: str | None = None, dtype: str = "float32", threshold: float = 0.5) -> None:
        super().__init__(name, dtype)
        self.threshold = threshold
        self._threshold = float(np.float32(threshold))  # ops.convert_to_tensor(0.3) is float32 even for float64 scores

    def values(self, y_true: torch.Tensor, y_pred: torch.Tensor) -> torch.Tensor:
        y_true, y_pred = _squeeze_or_expand(y_true, y_pred)
        return (y_true == (y_pred > self._threshold).to(y_true.dtype)).to(self.dtype)


def _argmax(x: torch.Tensor) -> torch.Tensor:
    """The first largest entry's index on the last axis, as TensorFlow's ArgMax."""
    return (x.to(torch.uint8) if x.dtype == torch.bool else x).argmax(dim=-1)


class CategoricalAccuracy(MeanMetricWrapper):
    """How often the prediction's argmax is the one-hot target's argmax (first index on ties)."""

    default_name = "categorical_accuracy"

    def values(self, y_true: torch.Tensor, y_pred: torch.Tensor) -> torch.Tensor:
        labels = _argmax(y_true)
        shape = labels.shape
        squeezed = labels.dim() == y_pred.dim()
        if squeezed:
            labels = labels.squeeze(-1)
        matches = labels == _argmax(y_pred)
        return (matches.reshape(shape) if squeezed else matches).to(self.dtype)


class SparseCategoricalAccuracy(MeanMetricWrapper):
    """How often the prediction's argmax equals an integer label (compared in the prediction's dtype)."""

    default_name = "sparse_categorical_accuracy"

    def values(self, y_true: torch.Tensor, y_pred: torch.Tensor) -> torch.Tensor:
        labels = y_true.to(y_pred.dtype)
        shape = labels.shape
        squeezed = labels.dim() == y_pred.dim() and labels.shape[-1] == 1
        if squeezed:
            labels = labels.squeeze(-1)
        matches = labels == _argmax(y_pred).to(labels.dtype)
        if squeezed:
            matches = matches.reshape(shape)
        if matches.dim() > 1 and matches.shape[-1] == 1:
            matches = matches.squeeze(-1)
        return matches.to(self.dtype)


def _in_top_k(labels: torch.Tensor, y_pred: torch.Tensor, k: int) -> torch.Tensor:
    """``tf.math.in_top_k``: fewer than k scores beat the label's; ties count as in.

    A label outside the classes, or a row with a non-finite score, is a miss. Rank > 2
    predictions are flattened to rows, and the answer takes the labels' shape.
    """
    shape = labels.shape
    scores = y_pred.reshape(-1, y_pred.shape[-1])
    targets = labels.reshape(-1).to(torch.int64)
    num_classes = scores.shape[-1]
    valid = (targets >= 0) & (targets < num_classes)
    target_scores = scores.gather(1, targets.clamp(0, num_classes - 1).unsqueeze(1))
    better = (scores > target_scores).sum(dim=1)
    hits = valid & torch.isfinite(scores).all(dim=1) & (better < k)
    return hits.reshape(shape)


class TopKCategoricalAccuracy(MeanMetricWrapper):
    """How often the one-hot target's class is among the k best scores (``in_top_k`` ties)."""

    default_name = "top_k_categorical_accuracy"

    def __init__(self, k: int = 5, name: str | None = None, dtype: str = "float32") -> None:
        super().__init__(name, dtype)
        self.k = k

    def values(self, y_true: torch.Tensor, y_pred: torch.Tensor) -> torch.Tensor:
        labels = _argmax(y_true.to(y_pred.dtype)).to(torch.int32)
        return _in_top_k(labels, y_pred, self.k).to(self.dtype)


class SparseTopKCategoricalAccuracy(MeanMetricWrapper):
    """How often an integer label is among the k best scores (or, ``from_sorted_ids``, among the first k ids)."""

    default_name = "sparse_top_k_categorical_accuracy"

    def __init__(self, k: int = 5, name: str | None = None, dtype: str = "float32",
                 from_sorted_ids: bool = False) -> None:
        super().__init__(name, dtype)
        self.k, self.from_sorted_ids = k, from_sorted_ids

    def values(self, y_true: torch.Tensor, y_pred: torch.Tensor) -> torch.Tensor:
        if self.from_sorted_ids:
            labels = y_true.to(y_pred.dtype)
            rows = y_pred.reshape(-1, y_pred.shape[-1])[:, :self.k]
            hits = (labels.reshape(-1, 1) == rows).any(dim=1).reshape(labels.shape)
        else:
            hits = _in_top_k(y_true.to(torch.int32), y_pred, self.k)
        return hits.to(self.dtype)


# --------------------------------------------------------------------------- errors and crossentropies


class MeanAbsoluteError(MeanMetricWrapper):
    """Mean |y_true − y_pred| over the last axis, in the prediction's dtype."""

    default_name = "mean_absolute_error"

    def values(self, y_true: torch.Tensor, y_pred: torch.Tensor) -> torch.Tensor:
        y_true, y_pred = _squeeze_or_expand(y_true.to(y_pred.dtype), y_pred)
        return (y_true - y_pred).abs().mean(dim=-1)


class MeanSquaredError(MeanMetricWrapper):
    """Mean (y_true − y_pred)² over the last axis, in the prediction's dtype."""

    default_name = "mean_squared_error"

    def values(self, y_true: torch.Tensor, y_pred: torch.Tensor) -> torch.Tensor:
        y_true, y_pred = _squeeze_or_expand(y_true.to(y_pred.dtype), y_pred)
        return (y_true - y_pred).square().mean(dim=-1)


class RootMeanSquaredError(MeanMetricWrapper):
    """√(weighted mean of squared errors); unlike the others Keras casts both tensors to the metric's dtype first."""

    default_name = "root_mean_squared_error"

    def values(self, y_true: torch.Tensor, y_pred: torch.Tensor) -> torch.Tensor:
        y_true, y_pred = _squeeze_or_expand(y_true.to(self.dtype), y_pred.to(self.dtype))
        return (y_pred - y_true).square()

    def result(self) -> torch.Tensor:
        return super().result().sqrt()


def _logits(y_pred: torch.Tensor, from_logits: bool) -> torch.Tensor | None:
    """The logits a crossentropy works from: an activation's remembered input first, as ``_get_logits``."""
    remembered: torch.Tensor | None = getattr(y_pred, LOGITS_ATTRIBUTE, None)
    return remembered if remembered is not None else y_pred if from_logits else None


def _same_shape(y_true: torch.Tensor, y_pred: torch.Tensor, what: str) -> None:
    if y_true.shape != y_pred.shape:
        raise ValueError(f"{what}: targets of shape {tuple(y_true.shape)} do not fit predictions of shape "
                         f"{tuple(y_pred.shape)}; Keras requires the same shape")


class _SmoothedCrossentropy(MeanMetricWrapper):
    """The settings Keras's binary and categorical crossentropy metrics share."""

    def __init__(self, name: str | None = None, dtype: str = "float32", from_logits: bool = False,
                 label_smoothing: float = 0.0) -> None:
        super().__init__(name, dtype)
        self.from_logits, self.label_smoothing = from_logits, label_smoothing


class BinaryCrossentropy(_SmoothedCrossentropy):
    """Keras's binary crossentropy metric: clipped probabilities, or TensorFlow's logits formula."""

    default_name = "binary_crossentropy"

    def values(self, y_true: torch.Tensor, y_pred: torch.Tensor) -> torch.Tensor:
        y_true = y_true.to(y_pred.dtype)
        if self.label_smoothing:
            y_true = y_true * (1.0 - self.label_smoothing) + 0.5 * self.label_smoothing
        _same_shape(y_true, y_pred, self.name)
        logits = _logits(y_pred, self.from_logits)
        if logits is not None:  # tf.nn.sigmoid_cross_entropy_with_logits, term by term
            positive = logits >= 0
            relu = torch.where(positive, logits, torch.zeros_like(logits))
            negative_abs = torch.where(positive, -logits, logits)
            values = (relu - logits * y_true) + torch.log1p(torch.exp(negative_abs))
        else:
            p = y_pred.clamp(EPSILON, 1.0 - EPSILON)
            values = -(y_true * torch.log(p) + (1 - y_true) * torch.log(1 - p))
        return values.mean(dim=-1)


def _softmax_crossentropy(labels: torch.Tensor, logits: torch.Tensor) -> torch.Tensor:
    """TensorFlow's SoftmaxCrossEntropyWithLogits kernel: Σ labels·(log Σ exp(x − max) − (x − max))."""
    shifted = logits - logits.amax(dim=-1, keepdim=True)
    log_sum = shifted.exp().sum(dim=-1, keepdim=True).log()
    return (labels * (log_sum - shifted)).sum(dim=-1)


class CategoricalCrossentropy(_SmoothedCrossentropy):
    """Keras's categorical crossentropy metric: renormalised clipped probabilities, or TensorFlow's softmax kernel."""

    default_name = "categorical_crossentropy"

    def values(self, y_true: torch.Tensor, y_pred: torch.Tensor) -> torch.Tensor:
        y_true = y_true.to(y_pred.dtype)
        if self.label_smoothing:  # smoothing / num_classes is a division of two tensors in y_pred's dtype
            share = torch.tensor(self.label_smoothing, dtype=y_pred.dtype) / torch.tensor(y_true.shape[-1],
                                                                                           dtype=y_pred.dtype)
            y_true = y_true * (1.0 - self.label_smoothing) + share
        _same_shape(y_true, y_pred, self.name)
        logits = _logits(y_pred, self.from_logits)
        if logits is not None:
            return _softmax_crossentropy(y_true, logits)
        p = (y_pred / y_pred.sum(dim=-1, keepdim=True)).clamp(EPSILON, 1.0 - EPSILON)
        return -(y_true * torch.log(p)).sum(dim=-1)


class SparseCategoricalCrossentropy(MeanMetricWrapper):
    """Keras's sparse categorical crossentropy metric: TensorFlow's sparse softmax kernel on logits or log p."""

    default_name = "sparse_categorical_crossentropy"

    def __init__(self, name: str | None = None, dtype: str = "float32", from_logits: bool = False) -> None:
        super().__init__(name, dtype)
        self.from_logits = from_logits

    def values(self, y_true: torch.Tensor, y_pred: torch.Tensor) -> torch.Tensor:
        if y_true.dim() == y_pred.dim() and y_true.shape[-1] == 1:
            y_true = y_true.squeeze(-1)
        labels = y_true.to(torch.int64)
        logits = _logits(y_pred, self.from_logits)
        if logits is None:
            logits = torch.log(y_pred.clamp(EPSILON, 1.0 - EPSILON))
        shifted = logits - logits.amax(dim=-1, keepdim=True)
        log_sum = shifted.exp().sum(dim=-1).log()
        return log_sum - shifted.gather(-1, labels.unsqueeze(-1)).squeeze(-1)


# --------------------------------------------------------------------------- confusion counts


def _checked_thresholds(thresholds: float | Sequence[float] | None, default: float) -> list[float]:
    values = [default] if thresholds is None else [thresholds] if isinstance(thresholds, int | float) else list(thresholds)
    if thresholds is not None and any(not isinstance(t, int | float) or not 0 <= t <= 1 for t in values):
        raise TrainingConfigError(f"thresholds {shown(thresholds)}: Keras allows numbers in [0, 1]")
    if not values:
        raise TrainingConfigError("thresholds is empty; give at least one number in [0, 1]")
    return [float(t) for t in values]


def _evenly_spaced(thresholds: Sequence[float]) -> bool:
    """Keras's test for its bucketing shortcut: ≥ 3 thresholds within 1e-7 of i/(n−1) (in float32)."""
    n = len(thresholds)
    return n >= 3 and bool(np.allclose(thresholds, np.arange(n, dtype=np.float32) / (n - 1), atol=EPSILON))


def _filter_top_k(scores: torch.Tensor, k: int) -> torch.Tensor:
    """Scores outside the k best (lower index first on ties, as ``tf.math.top_k``) become −1e10."""
    order = torch.sort(scores, dim=-1, descending=True, stable=True).indices[..., :k]
    mask = torch.nn.functional.one_hot(order, scores.shape[-1]).sum(dim=-2).to(scores.dtype)
    return scores * mask + NEG_INF * (1 - mask)


def _reverse_cumsum(x: torch.Tensor) -> torch.Tensor:
    """Σ of x[i:], summed one by one in x's dtype (torch's float32 cumsum accumulates in double, TensorFlow's does not)."""
    array = x.numpy()[::-1]
    return torch.from_numpy(np.cumsum(array, dtype=array.dtype)[::-1].copy())


@dataclass
class _Counts:
    tp: torch.Tensor
    fp: torch.Tensor
    tn: torch.Tensor
    fn: torch.Tensor


def _confusion_counts(y_true: torch.Tensor, y_pred: torch.Tensor, sample_weight: Weights | None,
                      thresholds: Sequence[float], dtype: torch.dtype, evenly: bool,
                      top_k: int | None = None, class_id: int | None = None) -> _Counts:
    """One batch's weighted true/false positives/negatives per threshold (``update_confusion_matrix_variables``).

    Everything is cast to the state dtype first. Any non-zero target is a positive; a score
    is positive above a threshold (strictly). Evenly spaced thresholds take Keras's bucketing
    shortcut: ceil(score·(n−1)) − 1 counts against every threshold up to that bucket.
    """
    y_true, y_pred = torch.as_tensor(y_true).to(dtype), torch.as_tensor(y_pred).to(dtype)
    y_pred, y_true = _squeeze_or_expand(y_pred, y_true)
    weights = None
    if sample_weight is not None:
        weights = torch.as_tensor(sample_weight).to(dtype).unsqueeze(-1)
        _, weights = _squeeze_or_expand(y_true, weights, expand_rank_1=False)
    if top_k is not None:
        y_pred = _filter_top_k(y_pred, top_k)
    if class_id is not None:
        if y_pred.dim() == 1:
            raise ValueError(f"class_id={class_id} needs predictions of shape (samples, classes), not "
                             f"{tuple(y_pred.shape)}")
        y_true, y_pred = y_true[..., class_id, None], y_pred[..., class_id, None]
    if weights is not None:
        weights = weights.broadcast_to(y_pred.shape).reshape(-1)
    positive = (y_true != 0).reshape(-1)
    scores = y_pred.reshape(-1)
    if evenly:
        return _bucketed_counts(positive, scores, weights, thresholds, dtype)
    predicted = scores.unsqueeze(0) > torch.tensor(thresholds, dtype=dtype).unsqueeze(1)  # (thresholds, values)
    label = positive.unsqueeze(0)

    def total(condition: torch.Tensor) -> torch.Tensor:
        if weights is None:
            return condition.to(dtype).sum(dim=1)
        return torch.where(condition, weights, torch.zeros((), dtype=dtype)).sum(dim=1)

    return _Counts(tp=total(label & predicted), fp=total(~label & predicted), tn=total(~label & ~predicted),
                   fn=total(label & ~predicted))


def _bucketed_counts(positive: torch.Tensor, scores: torch.Tensor, weights: torch.Tensor | None,
                     thresholds: Sequence[float], dtype: torch.dtype) -> _Counts:
    """Keras's ``_update_confusion_matrix_variables_optimized`` (the AUC's path)."""
    n = len(thresholds)
    with_epsilon = thresholds[0] < 0.0 or thresholds[-1] > 1.0
    scale = torch.ones((), dtype=dtype) if weights is None else weights
    true_labels = positive.to(dtype) * scale
    false_labels = (1.0 - positive.to(dtype)) * scale
    buckets = torch.ceil(scores.clamp(0.0, 1.0) * torch.tensor(n - 1, dtype=dtype)) - 1
    if with_epsilon:
        buckets = buckets.clamp(min=0)
    index = buckets.to(torch.int64)
    kept = index >= 0  # unsorted_segment_sum drops negative ids

    def per_bucket(values: torch.Tensor) -> torch.Tensor:
        return torch.zeros(n, dtype=dtype).index_add_(0, index[kept], values[kept])

    tp, fp = _reverse_cumsum(per_bucket(true_labels)), _reverse_cumsum(per_bucket(false_labels))
    return _Counts(tp=tp, fp=fp, tn=false_labels.sum() - fp, fn=true_labels.sum() - tp)


class _ConfusionMetric(KerasMetric):
    """Counts per threshold, kept in the state dtype (Keras: ``floatx``, whatever ``dtype`` says)."""

    def __init__(self, name: str, dtype: str, thresholds: list[float], top_k: int | None = None,
                 class_id: int | None = None) -> None:
        self.name, self.dtype = name, _torch_dtype(dtype)
        self.thresholds, self.top_k, self.class_id = thresholds, top_k, class_id
        self._evenly = _evenly_spaced(thresholds)
        self.reset()

    def reset(self) -> None:
        self.counts = _Counts(*(torch.zeros(len(self.thresholds), dtype=self.dtype) for _ in range(4)))

    def update(self, y_true: torch.Tensor, y_pred: torch.Tensor, sample_weight: Weights | None = None) -> None:
        with torch.no_grad():
            scores = self._scores(torch.as_tensor(y_pred)).detach().cpu()
            weights = None if sample_weight is None else torch.as_tensor(sample_weight).detach().cpu()
            batch = _confusion_counts(torch.as_tensor(y_true).detach().cpu(), scores, weights, self.thresholds,
                                      self.dtype, self._evenly, self.top_k, self.class_id)
        c = self.counts
        self.counts = _Counts(c.tp + batch.tp, c.fp + batch.fp, c.tn + batch.tn, c.fn + batch.fn)

    def _scores(self, y_pred: torch.Tensor) -> torch.Tensor:
        return y_pred

    def _per_threshold(self, values: torch.Tensor) -> torch.Tensor:
        return values[0] if len(self.thresholds) == 1 else values


class _Ratio(_ConfusionMetric):
    """tp / (tp + ``_other``) per threshold (one number for one threshold); ``top_k``/``class_id`` as in Keras."""

    _other = "fp"
    _default_name = ""

    def __init__(self, thresholds: float | Sequence[float] | None = None, top_k: int | None = None,
                 class_id: int | None = None, name: str | None = None, dtype: str = "float32") -> None:
        super().__init__(name or self._default_name, dtype,
                         _checked_thresholds(thresholds, 0.5 if top_k is None else NEG_INF), top_k, class_id)

    def result(self) -> torch.Tensor:
        tp = self.counts.tp
        return self._per_threshold(_divide_no_nan(tp, tp + getattr(self.counts, self._other)))


class Precision(_Ratio):
    """tp / (tp + fp), as keras.metrics.Precision."""

    _other, _default_name = "fp", "precision"


class Recall(_Ratio):
    """tp / (tp + fn), as keras.metrics.Recall."""

    _other, _default_name = "fn", "recall"


_CURVES = {"roc": "ROC", "pr": "PR", "prgain": "PRGAIN"}
_SUMMATIONS = ("interpolation", "minoring", "majoring")


class AUC(_ConfusionMetric):
    """Keras's AUC over single-label scores: ROC, PR or PR-gain, by interpolation, minoring or majoring.

    The thresholds are −1e-7, i/(n−1) for 0 < i < n−1, and 1 + 1e-7 (or the given ones between
    the two outer ones), so a score of exactly 0 or 1 is counted as Keras counts it.
    """

    def __init__(self, num_thresholds: int = 200, curve: str = "ROC", summation_method: str = "interpolation",
                 name: str = "auc", dtype: str = "float32", thresholds: Sequence[float] | None = None,
                 from_logits: bool = False) -> None:
        if curve not in ("ROC", "roc", "PR", "pr", "PRGAIN", "prgain"):
            raise TrainingConfigError(f"AUC curve {shown(curve)} is not one of Keras's: 'ROC', 'PR', 'PRGAIN'")
        if summation_method not in (*_SUMMATIONS, *(s.capitalize() for s in _SUMMATIONS)):
            raise TrainingConfigError(f"AUC summation_method {shown(summation_method)} is not one of Keras's: "
                                      f"{', '.join(map(repr, _SUMMATIONS))}")
        if thresholds is not None:
            inner = sorted(_checked_thresholds(thresholds, 0.5))
            evenly = _evenly_spaced([0.0, *inner, 1.0])
        else:
            if not isinstance(num_thresholds, int) or isinstance(num_thresholds, bool) or num_thresholds <= 1:
                raise TrainingConfigError(f"AUC num_thresholds {shown(num_thresholds)}: Keras needs an integer > 1")
            inner = [(i + 1) * 1.0 / (num_thresholds - 1) for i in range(num_thresholds - 2)]
            evenly = True
        self.curve, self.summation_method = _CURVES[curve.lower()], summation_method.lower()
        self.from_logits = from_logits
        super().__init__(name, dtype, [0.0 - EPSILON, *inner, 1.0 + EPSILON])
        self._evenly = evenly  # Keras decides with 0 and 1 at the ends, not ∓ε

    def _scores(self, y_pred: torch.Tensor) -> torch.Tensor:
        # In the prediction's dtype, before the cast. TensorFlow's float32 Sigmoid kernel (an Eigen
        # approximation) is up to 7 ulp from torch.sigmoid: about 5 scores in 10⁶ may land in the
        # neighbouring bucket of 200 (measured; float64 agrees to 4e-16).
        return torch.sigmoid(y_pred) if self.from_logits else y_pred

    def result(self) -> torch.Tensor:
        tp, fp, tn, fn = self.counts.tp, self.counts.fp, self.counts.tn, self.counts.fn
        if self.curve == "PR" and self.summation_method == "interpolation":
            return _interpolated_pr_auc(tp, fp, fn)
        recall = _divide_no_nan(tp, tp + fn)
        if self.curve == "ROC":
            x, y = _divide_no_nan(fp, fp + tn), recall
        elif self.curve == "PR":
            x, y = recall, _divide_no_nan(tp, tp + fp)
        else:  # PRGAIN
            scaling = _divide_no_nan(tp + fn, tn + fp)
            no_tp = tp == 0
            recall_gain = torch.where(no_tp, 0.0, 1.0 - scaling * _divide_no_nan(fn, tp)).clamp(min=0.0)
            x, y = recall_gain, torch.where(no_tp, 1.0, 1.0 - scaling * _divide_no_nan(fp, tp))
        if self.summation_method == "interpolation":
            heights = (y[:-1] + y[1:]) / 2.0
        elif self.summation_method == "minoring":
            heights = torch.minimum(y[:-1], y[1:])
        else:
            heights = torch.maximum(y[:-1], y[1:])
        return ((x[:-1] - x[1:]) * heights).sum()


def _interpolated_pr_auc(tp: torch.Tensor, fp: torch.Tensor, fn: torch.Tensor) -> torch.Tensor:
    """Davis & Goadrich's interpolation of the PR curve, term for term as Keras's ``interpolate_pr_auc``."""
    dtp = tp[:-1] - tp[1:]
    p = tp + fp
    dp = p[:-1] - p[1:]
    slope = _divide_no_nan(dtp, dp.clamp(min=0))
    intercept = tp[1:] - slope * p[1:]
    both = (p[:-1] > 0) & (p[1:] > 0)
    ratio = torch.where(both, _divide_no_nan(p[:-1], p[1:].clamp(min=0)), torch.ones_like(p[1:]))
    increments = _divide_no_nan(slope * (dtp + intercept * torch.log(ratio)), (tp[1:] + fn[1:]).clamp(min=0))
    return increments.sum()


# --------------------------------------------------------------------------- from compile(metrics=...) to metrics


@dataclass(frozen=True)
class _Kind:
    cls: type[KerasMetric]
    settings: tuple[str, ...]  # the config keys reproduced (besides name and dtype)
    state_in_floatx: bool = False  # Precision/Recall/AUC: counts in floatx whatever dtype says


_KINDS: dict[str, _Kind] = {
    "Accuracy": _Kind(Accuracy, ()),
    "BinaryAccuracy": _Kind(BinaryAccuracy, ("threshold",)),
    "CategoricalAccuracy": _Kind(CategoricalAccuracy, ()),
    "SparseCategoricalAccuracy": _Kind(SparseCategoricalAccuracy, ()),
    "TopKCategoricalAccuracy": _Kind(TopKCategoricalAccuracy, ("k",)),
    "SparseTopKCategoricalAccuracy": _Kind(SparseTopKCategoricalAccuracy, ("k", "from_sorted_ids")),
    "MeanAbsoluteError": _Kind(MeanAbsoluteError, ()),
    "MeanSquaredError": _Kind(MeanSquaredError, ()),
    "RootMeanSquaredError": _Kind(RootMeanSquaredError, ()),
    "BinaryCrossentropy": _Kind(BinaryCrossentropy, ("from_logits", "label_smoothing")),
    "CategoricalCrossentropy": _Kind(CategoricalCrossentropy, ("from_logits", "label_smoothing")),
    "SparseCategoricalCrossentropy": _Kind(SparseCategoricalCrossentropy, ("from_logits",)),
    "AUC": _Kind(AUC, ("num_thresholds", "curve", "summation_method", "thresholds", "from_logits"), True),
    "Precision": _Kind(Precision, ("thresholds", "top_k", "class_id"), True),
    "Recall": _Kind(Recall, ("thresholds", "top_k", "class_id"), True),
}
_UNREPRODUCED = {  # settings Keras has that are reproduced only at their default
    "axis": -1, "ignore_class": None, "multi_label": False, "num_labels": None, "label_weights": None,
}
_SNAKE = {
    "AUC": "auc", "Accuracy": "accuracy", "BinaryAccuracy": "binary_accuracy",
    "CategoricalAccuracy": "categorical_accuracy", "SparseCategoricalAccuracy": "sparse_categorical_accuracy",
    "TopKCategoricalAccuracy": "top_k_categorical_accuracy",
    "SparseTopKCategoricalAccuracy": "sparse_top_k_categorical_accuracy",
    "MeanAbsoluteError": "mean_absolute_error", "MeanSquaredError": "mean_squared_error",
    "RootMeanSquaredError": "root_mean_squared_error", "BinaryCrossentropy": "binary_crossentropy",
    "CategoricalCrossentropy": "categorical_crossentropy",
    "SparseCategoricalCrossentropy": "sparse_categorical_crossentropy", "Precision": "precision", "Recall": "recall",
}
_NAMES = {  # keras.metrics.get's names: class names, their snake case, and the short aliases
    **{name: name for name in _KINDS}, **{snake: name for name, snake in _SNAKE.items()},
    "bce": "BinaryCrossentropy", "BCE": "BinaryCrossentropy", "mse": "MeanSquaredError", "MSE": "MeanSquaredError",
    "mae": "MeanAbsoluteError", "MAE": "MeanAbsoluteError",
}
_FUNCTIONS = {  # keras.metrics functions a compile config records as {"class_name": "function", "config": name}
    name: _NAMES[name] for name in ("binary_accuracy", "categorical_accuracy", "sparse_categorical_accuracy",
                                    "top_k_categorical_accuracy", "sparse_top_k_categorical_accuracy",
                                    "mean_absolute_error", "mean_squared_error", "binary_crossentropy",
                                    "categorical_crossentropy", "sparse_categorical_crossentropy")
}
METRICS = tuple(sorted({*_NAMES, "acc"}, key=str.lower))
"""Every name ``make_metric`` accepts (with "accuracy"/"acc" resolved from the shapes, as ``compile`` does)."""

_METRIC_MODULES = ("keras.metrics", "keras.src.metrics", "tf_keras.metrics", "keras.losses", "keras.src.losses")


def make_metric(identifier: str | Mapping[str, Any], *, output_shape: Shape | None = None,
                target_shape: Shape | None = None, floatx: str = "float32") -> KerasMetric:
    """The metric ``compile(metrics=[identifier])`` builds, named as Keras logs it (before an output prefix).

    Args:
        identifier: a name or alias ("accuracy", "acc", "mae", "AUC"…) or a serialized metric
            (``keras.metrics.serialize`` output, as a ``.keras`` compile config records it).
        output_shape, target_shape: the model output's and the target's shapes with the batch
            axis, e.g. ``(None, 10)`` and ``(None,)``. Needed only for "accuracy"/"acc", which
            Keras resolves from them: binary if the output has one unit, sparse if the target has
            fewer axes or one entry against several, categorical otherwise.
        floatx: Keras's ``floatx`` when the model was compiled: where a string's metric, and
            every Precision/Recall/AUC, keeps its state.

    Raises:
        TrainingConfigError: the identifier is not a metric reproduced here, or a setting is not.
    """
    _torch_dtype(floatx)
    if isinstance(identifier, str) and identifier.lower() in ("accuracy", "acc"):
        return _accuracy_from_shapes(identifier, output_shape, target_shape, floatx)
    if isinstance(identifier, str):
        return _built(_class_name(identifier), {}, identifier, floatx)
    if isinstance(identifier, Mapping):
        module = identifier.get("module")
        if isinstance(module, str) and module.startswith(_METRIC_MODULES):
            identifier = {key: value for key, value in identifier.items() if key != "module"}
        class_name, settings = checked_entry(identifier, "metric", allow_function=True)
        if identifier.get("class_name") == "function":
            if class_name not in _FUNCTIONS:
                raise TrainingConfigError(f"metric function {shown(class_name)} is not reproduced in PyTorch; "
                                          f"supported: {', '.join(sorted(_FUNCTIONS))}")
            return _built(_FUNCTIONS[class_name], {}, class_name, floatx)
        kind = _class_name(class_name)
        return _built(kind, settings, settings.get("name") or _SNAKE[kind], floatx)
    raise TrainingConfigError(f"the metric {shown(identifier)} is neither a name nor a serialized Keras metric")


def _class_name(name: str) -> str:
    if name not in _NAMES:
        raise TrainingConfigError(f"metric {shown(name)} is not reproduced in PyTorch; supported: {', '.join(METRICS)}")
    return _NAMES[name]


def _recorded_dtype(settings: Mapping[str, Any], floatx: str) -> str:
    dtype = settings.get("dtype")
    if isinstance(dtype, Mapping):  # a DTypePolicy config
        dtype = (dtype.get("config") or {}).get("name")
    if dtype is None:
        return floatx
    if dtype not in _DTYPES:
        raise TrainingConfigError(f"metric dtype {shown(dtype)} is not reproduced; Keras metrics here are "
                                  "float32 or float64")
    return str(dtype)


def _built(class_name: str, settings: Mapping[str, Any], name: str, floatx: str) -> KerasMetric:
    kind = _KINDS[class_name]
    dtype = floatx if kind.state_in_floatx else _recorded_dtype(settings, floatx)
    if not isinstance(name, str) or not name:
        raise TrainingConfigError(f"metric {class_name} has the name {shown(name)}; Keras names a metric by a string")
    keywords: dict[str, Any] = {}
    for key, value in settings.items():
        if key in ("name", "dtype"):
            continue
        if key in kind.settings:
            keywords[key] = value
        elif key in _UNREPRODUCED:
            if value != _UNREPRODUCED[key]:
                raise TrainingConfigError(f"metric {class_name}({key}={shown(value)}) is not reproduced; only "
                                          f"{key}={_UNREPRODUCED[key]!r}")
        else:
            raise TrainingConfigError(f"metric {class_name} has the setting {key}={shown(value)}, which Keras's "
                                      f"{class_name} does not take")
    _check_keywords(class_name, keywords)
    return kind.cls(name=name, dtype=dtype, **keywords)  # type: ignore[call-arg]


def _check_keywords(class_name: str, keywords: Mapping[str, Any]) -> None:
    for key in ("k", "top_k", "class_id"):
        value = keywords.get(key)
        if value is not None and (not isinstance(value, int) or isinstance(value, bool) or value < (0 if key == "class_id"
                                                                                                     else 1)):
            raise TrainingConfigError(f"metric {class_name}: {key} is {shown(value)}; Keras needs a "
                                      f"{'non-negative' if key == 'class_id' else 'positive'} integer")
    threshold = keywords.get("threshold")
    if threshold is not None and (not isinstance(threshold, int | float) or isinstance(threshold, bool)
                                  or not math.isfinite(threshold)):
        raise TrainingConfigError(f"metric {class_name}: threshold is {shown(threshold)}; Keras needs a number")
    for key in ("from_sorted_ids",):
        if key in keywords and not isinstance(keywords[key], bool):
            raise TrainingConfigError(f"metric {class_name}: {key} is {shown(keywords[key])}; Keras allows true or false")


def _accuracy_from_shapes(name: str, output_shape: Shape | None, target_shape: Shape | None,
                          floatx: str) -> KerasMetric:
    """compile's ``get_metric``: which accuracy "accuracy"/"acc" means for these shapes."""
    if not output_shape or not target_shape:
        raise TrainingConfigError(f"metric {name!r} is resolved from the output and target shapes, as Keras's compile "
                                  f"does; pass output_shape= and target_shape= (with the batch axis), got "
                                  f"{shown(output_shape)} and {shown(target_shape)}")
    binary = output_shape[-1] == 1
    sparse = len(target_shape) < len(output_shape) or (target_shape[-1] == 1 and output_shape[-1] != 1)
    cls = BinaryAccuracy if binary else SparseCategoricalAccuracy if sparse else CategoricalAccuracy
    return cls(name=name, dtype=floatx)


@dataclass(frozen=True)
class CompiledMetric:
    """One logged metric of ``compile``: its log name, the output it reads, whether it takes sample weights."""

    name: str
    output: int
    metric: KerasMetric
    weighted: bool


def compiled_metrics(compile_config: Mapping[str, Any], output_names: Sequence[str] | None = None, *,
                     output_shapes: Sequence[Shape | None] | None = None,
                     target_shapes: Sequence[Shape | None] | None = None,
                     floatx: str = "float32") -> list[CompiledMetric]:
    """The metrics a compile config's ``metrics`` and ``weighted_metrics`` log, in Keras's order and names.

    Args:
        compile_config: a ``.keras`` file's ``compile_config`` (or ``model.get_compile_config()``).
            Its metrics may be a list (all for a single output; one entry, or list, per output
            when its length is the number of outputs) or a dict by output name.
        output_names: the model's output names in output order (``model.output_names``);
            one output or ``None`` means no prefix.
        output_shapes, target_shapes: per output, the shapes ``make_metric`` needs for "accuracy".
        floatx: Keras's ``floatx`` when the model was compiled.

    Returns:
        The ``metrics`` first, then the ``weighted_metrics`` (update only those with
        ``weighted=True`` with the batch's sample weights). A multi-output model logs
        ``"{output}_{name}"``; a repeated name gets ``_1``, ``_2``… and a weighted metric that
        repeats a plain one is logged as ``weighted_{name}`` — Keras's ``CompileMetrics.result``.
        The loss is not among them: see ``Mean``.
    """
    names = list(output_names) if output_names else [""]
    outputs = len(names)
    shapes_out = list(output_shapes) if output_shapes is not None else [None] * outputs
    shapes_target = list(target_shapes) if target_shapes is not None else [None] * outputs
    if len(shapes_out) != outputs or len(shapes_target) != outputs:
        raise TrainingConfigError(f"{outputs} output name(s) but {len(shapes_out)} output and {len(shapes_target)} "
                                  "target shape(s); give one of each per output")
    built: list[tuple[KerasMetric, int, bool]] = []
    for weighted, key in ((False, "metrics"), (True, "weighted_metrics")):
        for output, identifiers in enumerate(_per_output(compile_config.get(key), names, key)):
            for identifier in identifiers:
                metric = make_metric(identifier, output_shape=shapes_out[output],
                                     target_shape=shapes_target[output], floatx=floatx)
                built.append((metric, output, weighted))
    return _log_names(built, names if outputs > 1 else [""])


def _per_output(recorded: Any, names: Sequence[str], key: str) -> list[list[Any]]:
    """Keras's ``_build_metrics_set``: each output's metric identifiers."""
    if not recorded:
        return [[] for _ in names]
    if len(names) == 1:
        return [_flattened(recorded, key)]
    if isinstance(recorded, list | tuple) and len(recorded) == len(names):
        return [_entries(entry, key) for entry in recorded]
    if isinstance(recorded, Mapping) and "class_name" not in recorded and set(recorded) <= set(names):
        return [_entries(recorded.get(name), key) for name in names]
    raise TrainingConfigError(f"{key} {shown(recorded)} does not fit the {len(names)} outputs {list(names)}: Keras "
                              "takes one entry (or list) per output, or a dict by output name")


def _entries(entry: Any, key: str) -> list[Any]:
    if entry is None:
        return []
    items = list(entry) if isinstance(entry, list | tuple) else [entry]
    for item in items:
        if not isinstance(item, str | Mapping):
            raise TrainingConfigError(f"{key} holds {shown(item)}; Keras records a metric as a name or a dict")
    return items


def _flattened(recorded: Any, key: str) -> list[Any]:
    """``tree.flatten`` with serialized metrics as leaves: a single output takes every metric listed."""
    if isinstance(recorded, list | tuple):
        return [leaf for item in recorded for leaf in _flattened(item, key)]
    if isinstance(recorded, Mapping) and "class_name" not in recorded:
        return [leaf for name in sorted(recorded) for leaf in _flattened(recorded[name], key)]
    return _entries(recorded, key)


def _log_names(built: Sequence[tuple[KerasMetric, int, bool]], names: Sequence[str]) -> list[CompiledMetric]:
    """Keras's ``CompileMetrics.result`` naming, repeats and all."""
    seen: dict[str, int] = {}

    def prefixed(name: str, output: int) -> str:
        return f"{names[output]}_{name}" if names[output] else name

    logged = []
    for metric, output, weighted in built:
        name = prefixed(metric.name, output)
        if name in seen and weighted:  # a weighted repeat of a logged name is first renamed
            name = prefixed(f"weighted_{metric.name}", output)
        if name not in seen:
            seen[name] = 1
        else:  # the numbered name itself is not remembered, as in Keras
            index = seen[name]
            seen[name] += 1
            name = f"{name}_{index}"
        logged.append(CompiledMetric(name, output, metric, weighted))
    return logged
