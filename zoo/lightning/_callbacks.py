"""Keras's callbacks, with Keras's arguments and rules, as Lightning callbacks.

Each one reads and writes the epoch's logs as Keras's ``on_epoch_end`` does (one dict per epoch,
``KerasModule.keras_logs``; History records it after every callback). The rules follow Keras 3's
own code: ``EarlyStopping`` counts patience from the last improvement and stops only after the
first epoch; ``ReduceLROnPlateau``'s cooldown resets the wait and an improvement is judged with
``min_delta`` subtracted (not torch's relative threshold); both put ``learning_rate`` in the logs.
"""

from __future__ import annotations

import copy
import csv
import math
import os
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import lightning.pytorch as pl
import torch

from .._errors import TrainingConfigError
from ._module import KerasModule, learning_rate, set_learning_rate

__all__ = ["CSVLogger", "EarlyStopping", "KerasCallback", "LearningRateScheduler", "ModelCheckpoint",
           "ReduceLROnPlateau", "TerminateOnNaN"]


class KerasCallback(pl.Callback):
    """A Keras callback on Lightning's hooks: ``train_begin()``, ``epoch_begin(epoch)``, ``epoch_end(epoch, logs)``,
    ``batch_end(batch, logs)``, ``train_end()`` are Keras's ``on_*`` methods (named apart from Lightning's).
    ``self.module`` is the ``KerasModule``; ``self.stop_training()`` is Keras's ``model.stop_training = True``."""

    module: KerasModule
    _trainer: pl.Trainer

    def train_begin(self) -> None:
        """Keras's ``on_train_begin``."""

    def epoch_begin(self, epoch: int) -> None:
        """Keras's ``on_epoch_begin``."""

    def epoch_end(self, epoch: int, logs: dict[str, float]) -> None:
        """Keras's ``on_epoch_end``: ``logs`` is the epoch's one dict; entries added here reach the History."""

    def batch_end(self, batch: int, logs: dict[str, float]) -> None:
        """Keras's ``on_train_batch_end`` with the running results."""

    def train_end(self) -> None:
        """Keras's ``on_train_end``."""

    def stop_training(self) -> None:
        self._trainer.should_stop = True

    # Lightning's hooks, in Keras's terms
    def on_train_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if not isinstance(pl_module, KerasModule):
            raise TrainingConfigError(f"{type(self).__name__} works with zoo.lightning.KerasModule, "
                                      f"not {type(pl_module).__name__}")
        self.module, self._trainer = pl_module, trainer
        self.train_begin()

    def on_train_epoch_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self.epoch_begin(self.module.keras_epoch)

    def on_train_batch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule, outputs: Any, batch: Any,
                           batch_idx: int) -> None:
        self.batch_end(batch_idx, self.module.batch_logs())

    def on_train_epoch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self.epoch_end(self.module.keras_epoch, self.module.keras_logs())

    def on_train_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self.train_end()


class _Monitor(KerasCallback):
    """Keras's MonitorCallback: which way is better, and whether a value improves on a reference."""

    def __init__(self, monitor: str, mode: str, min_delta: float, baseline: float | None = None) -> None:
        if mode not in ("auto", "min", "max"):
            warnings.warn(f"{type(self).__name__} mode {mode!r} is unknown, fallback to auto mode", stacklevel=3)
            mode = "auto"
        self.monitor, self.mode, self.min_delta, self.best = monitor, mode, abs(min_delta), baseline
        self._direction: str | None = None

    def _resolve_direction(self) -> None:
        """Keras's ``_set_monitor_op``, run at the first ``on_epoch_end`` (and failing there, as Keras does, for a
        name it cannot place: a metric the model does not compile)."""
        if self._direction is not None:
            return
        direction = self.mode if self.mode != "auto" else self.module.direction(self.monitor)
        if direction is None:
            raise TrainingConfigError(
                f"{type(self).__name__}: which way {self.monitor!r} should go is not known (no compiled metric of "
                "that name); pass mode='max' or mode='min'")
        self._direction = direction
        if direction == "min":
            self.min_delta = -self.min_delta

    def _is_improvement(self, value: float, reference: float | None) -> bool:
        self._resolve_direction()
        if reference is None:
            return True
        return value - self.min_delta > reference if self._direction == "max" else value - self.min_delta < reference

    def _value(self, logs: dict[str, float], what: str) -> float | None:
        value = logs.get(self.monitor)
        if value is None:
            warnings.warn(f"{what} conditioned on metric `{self.monitor}` which is not available. Available "
                          f"metrics are: {','.join(logs)}", stacklevel=3)
        return value


class EarlyStopping(_Monitor):
    """Keras's ``EarlyStopping``: stop when ``monitor`` has not improved for ``patience`` epochs."""

    def __init__(self, monitor: str = "val_loss", min_delta: float = 0.0, patience: int = 0, verbose: int = 0,
                 mode: str = "auto", baseline: float | None = None, restore_best_weights: bool = False,
                 start_from_epoch: int = 0) -> None:
        super().__init__(monitor, mode, min_delta)
        self.patience, self.verbose, self.baseline = patience, verbose, baseline
        self.restore_best_weights, self.start_from_epoch = restore_best_weights, start_from_epoch
        self.wait = self.stopped_epoch = self.best_epoch = 0
        self.best_weights: dict[str, torch.Tensor] | None = None

    def train_begin(self) -> None:
        self.wait = self.stopped_epoch = self.best_epoch = 0
        self.best, self.best_weights = None, None

    def epoch_end(self, epoch: int, logs: dict[str, float]) -> None:
        self._resolve_direction()
        current = self._value(logs, "Early stopping")
        if current is None or epoch < self.start_from_epoch:
            return
        if self.restore_best_weights and self.best_weights is None:
            self.best_weights, self.best_epoch = _weights(self.module), epoch
        self.wait += 1
        if self._is_improvement(current, self.best):
            self.best, self.best_epoch = current, epoch
            if self.restore_best_weights:
                self.best_weights = _weights(self.module)
            if self.baseline is None or self._is_improvement(current, self.baseline):
                self.wait = 0
            return
        if self.wait >= self.patience and epoch > 0:
            self.stopped_epoch = epoch
            self.stop_training()

    def train_end(self) -> None:
        if self.stopped_epoch > 0 and self.verbose > 0:
            print(f"Epoch {self.stopped_epoch + 1}: early stopping")
        if self.restore_best_weights and self.best_weights is not None:
            if self.verbose > 0:
                print(f"Restoring model weights from the end of the best epoch: {self.best_epoch + 1}.")
            self.module.model.load_state_dict(self.best_weights)


class ReduceLROnPlateau(_Monitor):
    """Keras's ``ReduceLROnPlateau``: multiply the rate by ``factor`` after ``patience`` epochs without improvement."""

    def __init__(self, monitor: str = "val_loss", factor: float = 0.1, patience: int = 10, verbose: int = 0,
                 mode: str = "auto", min_delta: float = 1e-4, cooldown: int = 0, min_lr: float = 0.0) -> None:
        if factor >= 1.0:
            raise TrainingConfigError(f"ReduceLROnPlateau does not support a factor >= 1.0 (got factor={factor})")
        super().__init__(monitor, mode, min_delta)
        self.factor, self.patience, self.verbose, self.cooldown, self.min_lr = factor, patience, verbose, cooldown, min_lr
        self.cooldown_counter = self.wait = 0

    def train_begin(self) -> None:
        self.best, self.cooldown_counter, self.wait = None, 0, 0

    def epoch_end(self, epoch: int, logs: dict[str, float]) -> None:
        self._resolve_direction()
        optimizer = self.module.setup_.optimizer
        logs["learning_rate"] = learning_rate(optimizer)
        current = self._value(logs, "Learning rate reduction")
        if current is None:
            return
        if self.cooldown_counter > 0:
            self.cooldown_counter -= 1
            self.wait = 0
        if self._is_improvement(current, self.best):
            self.best, self.wait = current, 0
        elif self.cooldown_counter <= 0:
            self.wait += 1
            if self.wait >= self.patience:
                old = learning_rate(optimizer)
                if old > _float32(self.min_lr):
                    new = max(old * self.factor, self.min_lr)
                    set_learning_rate(optimizer, new)
                    if self.verbose > 0:
                        print(f"\nEpoch {epoch + 1}: ReduceLROnPlateau reducing learning rate to {new}.")
                    self.cooldown_counter, self.wait = self.cooldown, 0


class LearningRateScheduler(KerasCallback):
    """Keras's ``LearningRateScheduler``: ``schedule(epoch, lr)`` (or ``schedule(epoch)``) sets the rate per epoch."""

    def __init__(self, schedule: Callable[..., float], verbose: int = 0) -> None:
        self.schedule, self.verbose = schedule, verbose

    def epoch_begin(self, epoch: int) -> None:
        optimizer = self.module.setup_.optimizer
        try:
            rate = self.schedule(epoch, learning_rate(optimizer))
        except TypeError:  # Keras's old one-argument form
            rate = self.schedule(epoch)
        if not isinstance(rate, float):  # Keras takes float, np.float32, np.float64 (all float subclasses but f32)
            import numpy as np

            if not isinstance(rate, np.floating):
                raise TrainingConfigError(f"the schedule must return a float; it returned {rate!r}")
        set_learning_rate(optimizer, float(rate))
        if self.verbose > 0:
            print(f"\nEpoch {epoch + 1}: LearningRateScheduler setting learning rate to {rate}.")

    def epoch_end(self, epoch: int, logs: dict[str, float]) -> None:
        logs["learning_rate"] = learning_rate(self.module.setup_.optimizer)


class TerminateOnNaN(KerasCallback):
    """Keras's ``TerminateOnNaN``: stop after the batch whose running loss is NaN or infinite."""

    def __init__(self, raise_error: bool = False) -> None:
        self.raise_error = raise_error

    def batch_end(self, batch: int, logs: dict[str, float]) -> None:
        loss = logs.get("loss")
        if loss is not None and (math.isnan(loss) or math.isinf(loss)):
            if self.raise_error:
                raise RuntimeError(f"NaN or Inf loss encountered at batch {batch}. Loss value: {loss}. "
                                   "Terminating training immediately.")
            print(f"Batch {batch}: Invalid loss, terminating training")
            self.stop_training()


class CSVLogger(KerasCallback):
    """Keras's ``CSVLogger``: one row per epoch, ``epoch`` then the logs' names in sorted order."""

    def __init__(self, filename: str | os.PathLike[str], separator: str = ",", append: bool = False) -> None:
        self.filename, self.separator, self.append = Path(filename), separator, append
        self.keys: list[str] | None = None

    def train_begin(self) -> None:
        self.keys = None
        if not self.append and self.filename.exists():
            self.filename.unlink()

    def epoch_end(self, epoch: int, logs: dict[str, float]) -> None:
        if not self.module.trainer.is_global_zero:
            return
        if self.keys is None:
            self.keys = sorted(logs)
        header = not (self.filename.exists() and self.filename.stat().st_size > 0)
        with self.filename.open("a", newline="") as handle:
            writer = csv.DictWriter(handle, fieldnames=["epoch", *self.keys], delimiter=self.separator)
            if header:
                writer.writeheader()
            writer.writerow({"epoch": epoch, **{key: logs.get(key, "NA") for key in self.keys}})


class ModelCheckpoint(_Monitor):
    """Keras's ``ModelCheckpoint`` (``save_freq="epoch"``): ``filepath`` may hold ``{epoch:02d}`` and log names.

    A ``.safetensors`` path gets the model's state dict. A ``.keras`` or ``.weights.h5`` path is
    written through the zoo's reverse port, which needs the catalog architecture (``architecture=``,
    ``config=``) the model was built from.
    """

    def __init__(self, filepath: str | os.PathLike[str], monitor: str = "val_loss", verbose: int = 0,
                 save_best_only: bool = False, mode: str = "auto", initial_value_threshold: float | None = None,
                 architecture: str | None = None, config: dict[str, Any] | None = None) -> None:
        super().__init__(monitor, mode, 0.0, initial_value_threshold)
        self.filepath, self.verbose, self.save_best_only = str(filepath), verbose, save_best_only
        self.architecture, self.config = architecture, dict(config or {})
        if not self.filepath.endswith((".safetensors", ".keras", ".weights.h5")):
            raise TrainingConfigError(f"ModelCheckpoint path {self.filepath!r}: use .safetensors, or .keras / "
                                      ".weights.h5 with architecture=")
        if not self.filepath.endswith(".safetensors") and architecture is None:
            raise TrainingConfigError(f"ModelCheckpoint path {self.filepath!r}: writing a Keras file goes through the "
                                      "reverse port of a catalog architecture; pass architecture= (and config=)")

    def epoch_end(self, epoch: int, logs: dict[str, float]) -> None:
        path = Path(self.filepath.format(epoch=epoch + 1, **logs))
        if self.save_best_only:
            current = self._value(logs, "Can save best model only with")
            if current is None or not self._is_improvement(current, self.best):
                return
            if self.verbose > 0:
                print(f"\nEpoch {epoch + 1}: {self.monitor} improved from {self.best} to {current}, saving model "
                      f"to {path}")
            self.best = current
        if self.module.trainer.is_global_zero:
            self._write(path)

    def _write(self, path: Path) -> None:
        import tempfile

        from safetensors.torch import save_file

        state = {k: v.detach().contiguous().cpu() for k, v in self.module.model.state_dict().items()}
        path.parent.mkdir(parents=True, exist_ok=True)
        if path.suffix == ".safetensors":
            partial = path.with_name(path.name + ".partial")
            save_file(state, str(partial))
            os.replace(partial, path)
            return
        import zoo

        with tempfile.TemporaryDirectory() as folder:
            weights = Path(folder) / "weights.safetensors"
            save_file(state, str(weights))
            dtype = "float64" if next(iter(state.values())).dtype == torch.float64 else "float32"
            zoo.port(str(self.architecture), weights, path, dtype=dtype, **self.config)


def _weights(module: KerasModule) -> dict[str, torch.Tensor]:
    """Keras's ``model.get_weights()``: every variable (BatchNorm's moving statistics too), copied."""
    return copy.deepcopy(module.model.state_dict())


def _float32(value: float) -> float:
    import numpy as np

    return float(np.float32(value))
