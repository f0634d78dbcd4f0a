"""A recorded training config is data: each malformed optimizer, schedule, loss or weight is one clean error
(zoo.training._config)."""

from __future__ import annotations

from typing import Any

import pytest
import torch

import zoo
from zoo.training import TrainingConfigError

ADAM = {"module": "keras.optimizers", "class_name": "Adam", "config": {"learning_rate": 0.001}, "registered_name": None}


@pytest.mark.parametrize(("optimizer", "loss", "message"), [
    (5, "mse", "the optimizer is 5; Keras records a name or a dict with 'class_name' and 'config'"),
    (["adam"], "mse", "the optimizer is ['adam']; Keras records a name or a dict"),
    ({**ADAM, "module": "os"}, "mse", "the optimizer's module 'os' is not Keras's"),
    ({**ADAM, "registered_name": "evil>Adam2"}, "mse", "the registered custom class 'evil>Adam2', which is not"),
    ({**ADAM, "config": "fast"}, "mse", "the optimizer 'Adam' has config 'fast', not a dict"),
    ({**ADAM, "config": {"learning_rate": float("nan")}}, "mse",
     "optimizer Adam: learning_rate is nan; Keras allows a finite number ≥ 0"),
    ({**ADAM, "config": {"learning_rate": float("inf")}}, "mse", "learning_rate is inf"),
    ({**ADAM, "config": {"beta_1": "0.9"}}, "mse", "optimizer Adam: beta_1 is '0.9'; Keras allows a finite number"),
    ({**ADAM, "config": {"amsgrad": "yes"}}, "mse", "optimizer Adam: amsgrad is 'yes'; Keras allows true or false"),
    ({**ADAM, "config": {"learning_rate": {"class_name": "ExponentialDecay", "config": {
        "initial_learning_rate": 0.1, "decay_steps": 0, "decay_rate": 0.9}}}}, "mse",
     "learning-rate schedule ExponentialDecay: decay_steps is 0; Keras divides by it"),
    ({**ADAM, "config": {"learning_rate": {"class_name": "PiecewiseConstantDecay", "config": {
        "boundaries": [10], "values": [0.1]}}}}, "mse", "are not finite numbers with one value more than boundaries"),
    ("adam", 3.5, "the loss is 3.5; Keras records a name or a dict"),
    ("adam", {"class_name": "MeanSquaredError", "module": "subprocess", "config": {}}, "the loss's module 'subprocess'"),
    ("adam", {"class_name": "BinaryCrossentropy", "config": {"label_smoothing": 2.0}},
     "loss BinaryCrossentropy: label_smoothing is 2.0; Keras allows a finite number ≥ 0 and ≤ 1"),
    ("adam", {"class_name": "Huber", "config": {"delta": float("nan")}}, "loss Huber: delta is nan"),
    ("adam", {"class_name": "MeanSquaredError", "config": {"reduction": 7}}, "loss reduction 7 cannot train a model"),
])
def test_a_malformed_training_config_is_one_clean_error(optimizer: Any, loss: Any, message: str) -> None:
    model = torch.nn.Linear(3, 2)
    with pytest.raises(TrainingConfigError) as refused:
        zoo.training_setup(model, optimizer=optimizer, loss=loss)
    assert message in str(refused.value), str(refused.value)
    assert "\n" not in str(refused.value)


@pytest.mark.parametrize(("weights", "message"), [
    ([1.0, float("inf")], "loss_weights holds inf; Keras allows finite numbers"),
    (["1"], "loss_weights holds '1'"),
])
def test_loss_weights_are_finite_numbers(weights: Any, message: str) -> None:
    with pytest.raises(TrainingConfigError, match=message):
        zoo.training_setup(torch.nn.Linear(3, 2), optimizer="adam", loss="mse", loss_weights=weights)


def test_what_keras_writes_is_accepted() -> None:
    setup = zoo.training_setup(torch.nn.Linear(3, 2), optimizer=ADAM, loss={
        "module": "keras.losses", "class_name": "MeanSquaredError", "config": {"reduction": "sum_over_batch_size"},
        "registered_name": None})
    assert setup.optimizer is not None
