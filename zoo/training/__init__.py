"""Train a PyTorch model exactly as Keras would: the same optimizer step, loss and train-mode layers.

>>> model = zoo.get("cifar_cnn", backend="torch", weights="cnn.keras")
>>> setup = zoo.training_setup(model, "cnn.keras")        # compile settings and optimizer state from the file
>>> setup.step(images, labels)                            # one Keras train_on_batch, in PyTorch
>>> setup = zoo.training_setup(model, optimizer={"class_name": "Adam", "config": {"learning_rate": 1e-3}},
...                            loss="sparse_categorical_crossentropy")

What the set-up changes on the model, so it trains as Keras's layers do: a BatchNorm in
training mode updates its moving variance with the biased batch variance (PyTorch's is
unbiased); an ``nn.LSTM``'s ``bias_hh`` is frozen (Keras's LSTM has one bias, which the
porter puts in ``bias_ih``); a sigmoid or softmax output remembers its logits so
crossentropy uses them as TensorFlow does; an ``nn.Embedding`` gives its gradient per
lookup (``sparse=True``), because Keras's optimizers square and clip each lookup's row
of TensorFlow's IndexedSlices before summing them. ``close()`` undoes all of it.
"""

from __future__ import annotations

from .._errors import TrainingConfigError, TrainingConfigWarning
from ._init import keras_initialize, keras_initializer_
from ._loss import LOSSES, KerasLoss, make_loss
from ._optim import OPTIMIZERS, SCHEDULES, KerasOptimizer, make_optimizer
from ._setup import TrainingSetup, training_setup

__all__ = [
    "LOSSES",
    "OPTIMIZERS",
    "SCHEDULES",
    "KerasLoss",
    "KerasOptimizer",
    "TrainingConfigError",
    "TrainingConfigWarning",
    "TrainingSetup",
    "keras_initialize",
    "keras_initializer_",
    "make_loss",
    "make_optimizer",
    "training_setup",
]
