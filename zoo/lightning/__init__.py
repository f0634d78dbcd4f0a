"""From Keras's ``model.fit`` to Lightning's ``Trainer.fit``, with the same numbers (needs ``lightning``).

>>> model = zoo.get("cifar_cnn", backend="torch", weights="cnn.keras")
>>> module = zoo.lightning.KerasModule(model, "cnn.keras")          # compile settings, metrics, optimizer state
>>> history = zoo.lightning.fit(module, x, y, batch_size=32, epochs=10, validation_split=0.1,
...                             callbacks=[zoo.lightning.EarlyStopping(monitor="val_loss", patience=2)])
>>> history.history["val_accuracy"]

``KerasModule`` is a plain ``LightningModule``: any ``lightning.Trainer`` can fit it
(``strategy="ddp"`` included); ``fit`` builds the Trainer and Keras's batching for you.
"""

from __future__ import annotations

from ._callbacks import (
    CSVLogger,
    EarlyStopping,
    KerasCallback,
    LearningRateScheduler,
    ModelCheckpoint,
    ReduceLROnPlateau,
    TerminateOnNaN,
)
from ._fit import History, epoch_order, fit
from ._metrics import METRICS, make_metric
from ._module import KerasModule

__all__ = [
    "METRICS",
    "CSVLogger",
    "EarlyStopping",
    "History",
    "KerasCallback",
    "KerasModule",
    "LearningRateScheduler",
    "ModelCheckpoint",
    "ReduceLROnPlateau",
    "TerminateOnNaN",
    "epoch_order",
    "fit",
    "make_metric",
]
