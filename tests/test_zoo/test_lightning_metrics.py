"""zoo.lightning._metrics: each metric against Keras's own, batch by batch, and compile's names.

Float64 results agree with Keras to 1e-12 relative (measured over the sweep: ≤ 5.8e-16, sum
order only; the PR-gain AUC 1.4e-13, its cancellation amplifying the same, see below).
Float32 results agree to a few units in the last place, measured ≤ 2.4e-7 relative here
(≤ 2 ulp): TensorFlow sums a batch with Eigen's packet-wise reduction, torch with its
cascade sum, and Eigen's vectorised exp/log round differently from torch's. The tests allow
1e-6 relative (8 ulp) in float32; ``test_sweep_many_batches`` measures over larger batches.
One exception: the float32 PR-gain AUC. Its tp/fp counts are Keras's bit for bit, but tn
and fn subtract from a batch total that TensorFlow's Sum kernel (Eigen's packet-order
reduction) and torch.sum round differently by an ulp; PR-gain's result is a small difference
of large terms, so that ulp shows as up to 3.1e-4 relative (1.2e-7 absolute, measured over
the sweep). It is compared to 5e-7 absolute; from the same counts our result is Keras's.
"""

from __future__ import annotations

import copy
import json
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np
import pytest
import torch

from zoo._errors import TrainingConfigError
from zoo.lightning._metrics import (
    METRICS,
    BinaryCrossentropy,
    CompiledMetric,
    Mean,
    SparseTopKCategoricalAccuracy,
    compiled_metrics,
    make_metric,
)
from zoo.training._loss import LOGITS_ATTRIBUTE

RTOL = {"float64": 1e-12, "float32": 1e-6}
PR_GAIN_ATOL = 5e-7  # float32 PR-gain AUC: TensorFlow's Sum kernel rounds tn/fn's total differently, see above
CLASSES = 4

CASES: list[tuple[str, dict[str, Any]]] = [  # (data kind, serialized Keras metric)
    ("ids", {"class_name": "Accuracy", "config": {}}),
    ("binary", {"class_name": "BinaryAccuracy", "config": {}}),
    ("binary", {"class_name": "BinaryAccuracy", "config": {"threshold": 0.3}}),
    ("one_hot", {"class_name": "CategoricalAccuracy", "config": {}}),
    ("sparse", {"class_name": "SparseCategoricalAccuracy", "config": {}}),
    ("sparse_column", {"class_name": "SparseCategoricalAccuracy", "config": {}}),
    ("one_hot32", {"class_name": "TopKCategoricalAccuracy", "config": {"k": 2}}),
    ("sparse32", {"class_name": "SparseTopKCategoricalAccuracy", "config": {"k": 2}}),
    ("sparse_column32", {"class_name": "SparseTopKCategoricalAccuracy", "config": {"k": 3}}),
    ("regression", {"class_name": "MeanAbsoluteError", "config": {}}),
    ("regression", {"class_name": "MeanSquaredError", "config": {}}),
    ("regression", {"class_name": "RootMeanSquaredError", "config": {}}),
    ("binary", {"class_name": "BinaryCrossentropy", "config": {"label_smoothing": 0.1}}),
    ("logits", {"class_name": "BinaryCrossentropy", "config": {"from_logits": True}}),
    ("one_hot", {"class_name": "CategoricalCrossentropy", "config": {"label_smoothing": 0.2}}),
    ("one_hot_logits", {"class_name": "CategoricalCrossentropy", "config": {"from_logits": True}}),
    ("sparse", {"class_name": "SparseCategoricalCrossentropy", "config": {}}),
    ("sparse_logits", {"class_name": "SparseCategoricalCrossentropy", "config": {"from_logits": True}}),
    ("binary", {"class_name": "AUC", "config": {"num_thresholds": 37}}),
    ("binary", {"class_name": "AUC", "config": {"num_thresholds": 37, "summation_method": "minoring"}}),
    ("binary", {"class_name": "AUC", "config": {"num_thresholds": 19, "curve": "PR"}}),
    ("binary", {"class_name": "AUC", "config": {"curve": "PR", "summation_method": "majoring"}}),
    ("logits", {"class_name": "AUC", "config": {"from_logits": True, "curve": "PRGAIN"}}),
    ("binary", {"class_name": "AUC", "config": {"thresholds": [0.1, 0.35, 0.7]}}),
    ("binary", {"class_name": "Precision", "config": {}}),
    ("binary", {"class_name": "Recall", "config": {"thresholds": [0.0, 0.5, 1.0]}}),
    ("one_hot", {"class_name": "Precision", "config": {"top_k": 2}}),
    ("one_hot", {"class_name": "Recall", "config": {"class_id": 1, "thresholds": [0.2, 0.6]}}),
]


@contextmanager
def keras_floatx(floatx: str) -> Iterator[None]:
    import keras

    previous = keras.config.floatx()
    keras.config.set_floatx(floatx)
    try:
        yield
    finally:
        keras.config.set_floatx(previous)


def batch(kind: str, rng: np.random.Generator, n: int, floatx: str) -> tuple[np.ndarray, np.ndarray]:
    """Targets and predictions; scores on a coarse grid so ties, exact thresholds, 0 and 1 all occur.

    A kind ending in 32 keeps float32 predictions: TensorFlow's InTopKV2 kernel takes no float64.
    """
    dtype = np.float32 if kind.endswith("32") else np.dtype(floatx)
    kind = kind.removesuffix("32")
    if kind == "ids":
        return rng.integers(0, 3, n), rng.integers(0, 3, n).astype(dtype)
    if kind == "regression":
        return rng.normal(size=(n, 3)), rng.normal(size=(n, 3)).astype(dtype)
    if kind in ("binary", "logits"):
        scores = rng.normal(size=(n, 1)) * 3 if kind == "logits" else rng.random((n, 1))
        if kind == "binary":
            scores[: n // 2] = rng.integers(0, 37, (n // 2, 1)) / 36  # AUC bucket edges, 0 and 1 exactly
        return rng.integers(0, 2, (n, 1)), scores.astype(dtype)
    labels = rng.integers(0, CLASSES, n)
    if kind.endswith("logits"):
        scores = rng.normal(size=(n, CLASSES)) * 2
    else:
        scores = rng.integers(0, 5, (n, CLASSES)) / 4.0 + 0.01  # ties in argmax and top-k
    targets = {"one_hot": np.eye(CLASSES)[labels], "sparse": labels, "sparse_column": labels[:, None]}
    return targets[kind.removesuffix("_logits")], scores.astype(dtype)


def relative_difference(got: np.ndarray, expected: np.ndarray) -> float:
    scale = np.where(expected == 0, 1.0, np.abs(expected))
    return float(np.max(np.abs(got.astype(np.float64) - expected) / scale))


def run_both(kind: str, config: dict[str, Any], floatx: str, weighted: bool, sizes: tuple[int, ...],
             seed: int = 0) -> float:
    """Update Keras's metric and ours batch by batch; the largest relative difference of result()."""
    import keras

    rng = np.random.default_rng(seed)
    with keras_floatx(floatx):
        theirs = keras.metrics.deserialize(copy.deepcopy(config))
        ours = make_metric(config, floatx=floatx)
        worst = 0.0
        for n in sizes:
            y_true, y_pred = batch(kind, rng, n, floatx)
            weights = rng.random(n) * 2 if weighted else None
            if weights is not None:
                weights[: n // 4] = 0.0
            theirs.update_state(y_true, y_pred, sample_weight=weights)
            ours.update(torch.from_numpy(y_true), torch.from_numpy(y_pred),
                        None if weights is None else torch.from_numpy(weights))
            expected, got = np.asarray(theirs.result()), ours.result().numpy()
            assert got.dtype == expected.dtype and got.shape == expected.shape
            pr_gain = floatx == "float32" and config["config"].get("curve") == "PRGAIN"
            np.testing.assert_allclose(got, expected, rtol=RTOL[floatx], atol=PR_GAIN_ATOL if pr_gain else 0)
            worst = max(worst, relative_difference(got, expected))
    return worst


# The default run keeps float64 with sample weights per metric (the exactness claim, weighting included); float32
# and the unweighted path run with the sweeps (nox -s training).
@pytest.mark.parametrize("weighted", [pytest.param(False, marks=pytest.mark.sweep), True], ids=["unweighted", "weighted"])
@pytest.mark.parametrize("floatx", ["float64", pytest.param("float32", marks=pytest.mark.sweep)])
@pytest.mark.parametrize(("kind", "config"), CASES,
                         ids=[f"{c['class_name']}{json.dumps(c['config'], separators=(',', '='))}" for _, c in CASES])
def test_metric_matches_keras_batch_by_batch(kind: str, config: dict[str, Any], floatx: str, weighted: bool) -> None:
    run_both(kind, config, floatx, weighted, sizes=(7, 1, 16, 5))


@pytest.mark.sweep
@pytest.mark.parametrize("floatx", ["float64", "float32"])
@pytest.mark.parametrize(("kind", "config"), CASES, ids=[c["class_name"] for _, c in CASES])
def test_sweep_many_batches(kind: str, config: dict[str, Any], floatx: str) -> None:
    """Larger batches (Eigen's vectorised sums take over) and many seeds."""
    for seed in range(5):
        for weighted in (False, True):
            run_both(kind, config, floatx, weighted, sizes=(64, 3, 257, 1000, 31), seed=seed)


def test_pr_gain_differs_only_through_the_batch_totals() -> None:
    """From Keras's own counts our PR-gain AUC is Keras's: only tn/fn's reduce_sum rounding differs."""
    import keras

    rng = np.random.default_rng(1)
    theirs = keras.metrics.AUC(curve="PRGAIN")
    ours = make_metric({"class_name": "AUC", "config": {"curve": "PRGAIN"}})
    for n in (64, 257, 1000):
        y_true, y_pred = batch("binary", rng, n, "float32")
        weights = rng.random(n) * 2
        theirs.update_state(y_true, y_pred, sample_weight=weights)
        ours.update(torch.from_numpy(y_true), torch.from_numpy(y_pred), torch.from_numpy(weights))
    for name, variable in (("tp", theirs.true_positives), ("fp", theirs.false_positives)):
        np.testing.assert_array_equal(getattr(ours.counts, name).numpy(), np.asarray(variable))
    ours.counts.tn = torch.from_numpy(np.asarray(theirs.true_negatives))
    ours.counts.fn = torch.from_numpy(np.asarray(theirs.false_negatives))
    assert ours.result().numpy() == np.asarray(theirs.result())


def test_the_loss_tracker_weighs_batches_by_their_size() -> None:
    """Keras's logged loss: each batch's loss times its size, over the number of samples (not Σ sample weight)."""
    import keras

    rng = np.random.default_rng(3)
    x, y, weights = rng.normal(size=(10, 3)), rng.normal(size=(10, 1)), rng.random(10) * 3
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(1)])
    model.compile("sgd", "mse")
    logged = model.evaluate(x, y, sample_weight=weights, batch_size=4, verbose=0, return_dict=True)["loss"]
    tracker = Mean("loss")
    for start in range(0, 10, 4):
        part = slice(start, start + 4)
        loss = model.compute_loss(x[part], y[part], model(x[part]), sample_weight=weights[part])
        tracker.update(torch.tensor(np.asarray(loss)), sample_weight=len(x[part]))
    assert tracker.result().item() == pytest.approx(logged, rel=1e-6)


def test_in_top_k_ties_non_finite_rows_and_unknown_labels() -> None:
    """A tie at the k-th place counts as in; a NaN or inf anywhere in the row, or a label out of range, as out."""
    import tensorflow as tf

    scores = np.array([[1, 1, 1, 1], [1, 2, 3, np.nan], [np.inf, 1, 0, 0], [3, 2, 2, 2], [1, 1, 1, 1],
                       [0, 5, 5, 1]], dtype=np.float32)
    labels = np.array([0, 0, 1, 3, -1, 0])
    expected = tf.math.in_top_k(tf.constant(labels), tf.constant(scores), 2).numpy()
    metric = SparseTopKCategoricalAccuracy(k=2)
    got = metric.values(torch.from_numpy(labels), torch.from_numpy(scores)).numpy().astype(bool)
    np.testing.assert_array_equal(got, expected)
    assert got.tolist() == [True, False, False, True, False, False]


def test_crossentropy_uses_the_logits_a_sigmoid_output_remembers() -> None:
    """TensorFlow's _get_logits: a sigmoid output's crossentropy comes from the logits under it."""
    logits = torch.tensor([[30.0], [-30.0], [0.5]], dtype=torch.float64)
    probabilities = torch.sigmoid(logits)
    setattr(probabilities, LOGITS_ATTRIBUTE, logits)
    targets = torch.tensor([[0.0], [1.0], [1.0]], dtype=torch.float64)
    remembered, clipped = BinaryCrossentropy(dtype="float64"), BinaryCrossentropy(dtype="float64")
    remembered.update(targets, probabilities)
    clipped.update(targets, torch.sigmoid(logits))  # a fresh tensor: clipped at 1e-7
    from_logits = BinaryCrossentropy(dtype="float64", from_logits=True)
    from_logits.update(targets, logits)
    assert remembered.result().item() == from_logits.result().item() == pytest.approx(
        (60.0 + np.log1p(np.exp(-0.5))) / 3, rel=1e-12)
    assert clipped.result().item() == pytest.approx((2 * -np.log(1e-7) + np.log1p(np.exp(-0.5))) / 3, rel=1e-6)


def test_precision_and_auc_keep_their_counts_in_floatx() -> None:
    """Keras makes their variables without a dtype: a recorded dtype changes nothing, floatx does."""
    for config in ({"class_name": "AUC", "config": {"dtype": "float64"}},
                   {"class_name": "Precision", "config": {"dtype": "float64"}}):
        assert make_metric(config).dtype == torch.float32
        assert make_metric(config, floatx="float64").dtype == torch.float64
    assert make_metric({"class_name": "MeanSquaredError", "config": {"dtype": "float64"}}).dtype == torch.float64
    assert make_metric("mse", floatx="float64").dtype == torch.float64


def compiled_model_file(tmp_path: Any) -> tuple[Any, dict[str, np.ndarray], list[np.ndarray], np.ndarray]:
    """A four-output model for "accuracy": binary, sparse, sparse (N, 1) and one-hot targets, saved."""
    import keras

    rng = np.random.default_rng(5)
    inputs = keras.Input((5,), name="x")
    outputs = [keras.layers.Dense(1, activation="sigmoid", name="bin")(inputs)] + [
        keras.layers.Dense(3, activation="softmax", name=name)(inputs) for name in ("sparse", "column", "onehot")]
    model = keras.Model(inputs, outputs)
    model.compile("sgd", ["binary_crossentropy", "sparse_categorical_crossentropy", "sparse_categorical_crossentropy",
                          "categorical_crossentropy"],
                  metrics=[["accuracy", keras.metrics.AUC(num_thresholds=11)], ["acc", "Accuracy"],
                           ["accuracy", "accuracy"], [keras.metrics.categorical_accuracy, "mse"]],
                  weighted_metrics=[["accuracy"], None, ["accuracy"], ["categorical_accuracy"]])
    x = rng.normal(size=(12, 5))
    labels = rng.integers(0, 3, 12)
    targets = [rng.integers(0, 2, (12, 1)), labels, labels[:, None], np.eye(3)[labels]]
    weights = rng.random(12)
    model.save(tmp_path / "four.keras")
    return model, {"x": x}, targets, weights


def test_compiled_metrics_match_a_compiled_keras_model(tmp_path: Any) -> None:
    """Names, resolved classes and values as Keras's evaluate logs them, from the saved compile config."""
    model, inputs, targets, weights = compiled_model_file(tmp_path)
    logged = model.evaluate(inputs["x"], targets, sample_weight=weights, batch_size=12, verbose=0, return_dict=True)
    with zipfile.ZipFile(tmp_path / "four.keras") as archive:
        compile_config = json.loads(archive.read("config.json"))["compile_config"]
    predictions = [np.asarray(p) for p in model.predict(inputs["x"], verbose=0)]
    metrics = compiled_metrics(compile_config, model.output_names,
                               output_shapes=[(None, *p.shape[1:]) for p in predictions],
                               target_shapes=[(None, *t.shape[1:]) for t in targets])
    assert [m.name for m in metrics] == list(model._compile_metrics.result())  # Keras's own order
    assert {m.name for m in metrics} == {name for name in logged if not name.endswith("loss")}
    keras_classes = [type(m).__name__ for m in model._compile_metrics.metrics]
    assert [type(m.metric).__name__ for m in metrics] == [  # Keras wraps the categorical_accuracy function
        name.replace("MeanMetricWrapper", "CategoricalAccuracy") for name in keras_classes]
    for entry in metrics:
        y_true, y_pred = torch.from_numpy(targets[entry.output]), torch.from_numpy(predictions[entry.output])
        entry.metric.update(y_true, y_pred, torch.from_numpy(weights) if entry.weighted else None)
        assert entry.metric.result().item() == pytest.approx(logged[entry.name], rel=1e-6, abs=1e-7), entry.name


def test_compiled_metric_names_of_a_single_output() -> None:
    """No prefix; repeats numbered; a weighted repeat is weighted_…; function configs by their name."""
    config = {"metrics": [{"module": "builtins", "class_name": "function", "config": "binary_accuracy",
                           "registered_name": "function"}, "accuracy", "Accuracy", "accuracy", "mse"],
              "weighted_metrics": ["accuracy", "acc", "accuracy", "accuracy"]}
    metrics = compiled_metrics(config, ["dense"], output_shapes=[(None, 1)], target_shapes=[(None, 1)])
    assert [m.name for m in metrics] == ["binary_accuracy", "accuracy", "Accuracy", "accuracy_1", "mse",
                                         "weighted_accuracy", "acc", "weighted_accuracy_1", "weighted_accuracy_2"]
    assert [m.weighted for m in metrics] == [False] * 5 + [True] * 4
    assert {type(m.metric).__name__ for m in metrics if "ccuracy" in m.name or m.name == "acc"} == {"BinaryAccuracy"}


def test_compiled_metrics_per_output_name() -> None:
    config = {"metrics": {"b": ["auc", "precision"], "a": "mae"}}
    metrics = compiled_metrics(config, ["a", "b"])
    assert [(m.name, m.output) for m in metrics] == [("a_mae", 0), ("b_auc", 1), ("b_precision", 1)]
    assert isinstance(metrics[0], CompiledMetric)


@pytest.mark.parametrize(("output_shape", "target_shape", "expected"), [
    ((None, 1), (None, 1), "BinaryAccuracy"), ((None, 1), (None,), "BinaryAccuracy"),
    ((None, 3), (None,), "SparseCategoricalAccuracy"), ((None, 3), (None, 1), "SparseCategoricalAccuracy"),
    ((None, 3), (None, 3), "CategoricalAccuracy"), ((None, 7, 3), (None, 7), "SparseCategoricalAccuracy"),
])
def test_accuracy_is_resolved_from_the_shapes(output_shape: tuple, target_shape: tuple, expected: str) -> None:
    for name in ("accuracy", "acc", "ACC"):
        metric = make_metric(name, output_shape=output_shape, target_shape=target_shape)
        assert (type(metric).__name__, metric.name) == (expected, name)


@pytest.mark.parametrize(("identifier", "message"), [
    ("f1_score", "'f1_score' is not reproduced in PyTorch; supported: "),
    ("crossentropy", "'crossentropy' is not reproduced"),
    ({"class_name": "AUC", "config": {"multi_label": True}}, "AUC(multi_label=True) is not reproduced"),
    ({"class_name": "SparseCategoricalCrossentropy", "config": {"ignore_class": 0}}, "ignore_class=0"),
    ({"class_name": "Precision", "config": {"thresholds": [0.5, 1.5]}}, "[0.5, 1.5]: Keras allows numbers in [0, 1]"),
    ({"class_name": "AUC", "config": {"curve": "ROCK"}}, "'ROCK' is not one of Keras's"),
    ({"class_name": "TopKCategoricalAccuracy", "config": {"k": 0}}, "k is 0"),
    ({"class_name": "Recall", "config": {"bogus": 1}}, "bogus=1"),
    ({"module": "my_package.metrics", "class_name": "Recall", "config": {}}, "'my_package.metrics' is not Keras's"),
    ({"class_name": "function", "config": "hinge"}, "metric function 'hinge' is not reproduced"),
    ("accuracy", "pass output_shape= and target_shape="),
    (3, "the metric 3 is neither a name nor a serialized Keras metric"),
])
def test_unsupported_metrics_are_named(identifier: Any, message: str) -> None:
    with pytest.raises(TrainingConfigError) as raised:
        make_metric(identifier)
    assert message in str(raised.value)


def test_supported_names_are_listed() -> None:
    assert {"accuracy", "acc", "auc", "AUC", "mae", "MSE", "bce", "top_k_categorical_accuracy", "precision",
            "recall", "root_mean_squared_error"} <= set(METRICS)


def test_metrics_that_do_not_fit_the_outputs_are_refused() -> None:
    with pytest.raises(TrainingConfigError, match="does not fit the 2 outputs"):
        compiled_metrics({"metrics": ["mae"]}, ["a", "b"])


@pytest.mark.parametrize("identifier", ["auc", "mse", "binary_crossentropy", "precision"])
def test_outputs_that_need_gradients_are_read_without_them(identifier: str) -> None:
    y_pred = torch.rand(6, 1, requires_grad=True)
    metric = make_metric(identifier)
    metric.update(torch.tensor([[0.0], [1.0], [1.0], [0.0], [1.0], [0.0]]), y_pred * 1.0)
    assert not metric.result().requires_grad
