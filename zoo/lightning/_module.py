"""``KerasModule``: a LightningModule whose steps are Keras's ``train_step`` and ``test_step``.

The optimizer step is driven by hand (``automatic_optimization = False``) so that the one update
is exactly ``zoo.training``'s Keras optimizer: its clipping, weight decay and schedule stepping
per batch, nothing of Lightning's in between. Under DDP every process averages the gradients of
its own mean loss, which is what Keras 3 does under ``MirroredStrategy`` (each replica's loss is
its own mean divided by the number of replicas, the gradients summed).
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from typing import Any

import lightning.pytorch as pl
import torch
from torch import nn

from .._errors import TrainingConfigError
from ..training import training_setup
from ..training._optim import KerasOptimizer
from ._metrics import (
    AUC,
    Accuracy,
    BinaryAccuracy,
    CategoricalAccuracy,
    CompiledMetric,
    KerasMetric,
    Mean,
    Precision,
    Recall,
    SparseCategoricalAccuracy,
    SparseTopKCategoricalAccuracy,
    TopKCategoricalAccuracy,
    compiled_metrics,
)

__all__ = ["KerasModule", "learning_rate", "set_learning_rate"]


class KerasModule(pl.LightningModule):
    """A PyTorch model trained as Keras's ``compile`` + ``fit`` would train its Keras twin.

    Args:
        model: the PyTorch model (``zoo.get(..., weights=FILE)``, a ``zoo convert`` module, any ported model).
        source: the ``.keras`` / ``.h5`` file (or live ``keras.Model``) it came from: compile settings,
            optimizer state, regularizers and metrics are read from it (see ``zoo.training_setup``).
        optimizer, loss, loss_weights: as ``compile``'s (Keras configs or names); override the file's.
        metrics, weighted_metrics: as ``compile``'s (names or ``keras.metrics.serialize`` configs); default: the
            file's. "accuracy" is resolved from the first batch's shapes, as Keras does.
        output_names: the Keras model's output names, which prefix a multi-output model's metric names.
        floatx, load_optimizer_state: as ``zoo.training_setup``'s.
    """

    def __init__(self, model: nn.Module, source: str | os.PathLike[str] | Any | None = None, *,
                 optimizer: Mapping[str, Any] | str | None = None, loss: Any = None,
                 loss_weights: Sequence[float] | None = None, metrics: Sequence[Any] | None = None,
                 weighted_metrics: Sequence[Any] | None = None, output_names: Sequence[str] | None = None,
                 floatx: str | None = None, load_optimizer_state: bool = True) -> None:
        super().__init__()
        self.model = model
        self.setup_ = training_setup(model, source, optimizer=optimizer, loss=loss, loss_weights=loss_weights,
                                     floatx=floatx, load_optimizer_state=load_optimizer_state)
        self.automatic_optimization = False
        recorded = self.setup_.compile_config
        self._metric_config = {
            "metrics": recorded.get("metrics") if metrics is None else list(metrics),
            "weighted_metrics": recorded.get("weighted_metrics") if weighted_metrics is None else list(weighted_metrics)}
        self.floatx = self.setup_.floatx
        self._output_names = list(output_names) if output_names else self.setup_.output_names
        outputs = len(self.setup_.losses)
        if outputs > 1 and (self._output_names is None or len(self._output_names) != outputs):
            raise TrainingConfigError(f"the model has {outputs} outputs; pass output_names= (the Keras model's, "
                                      f"in order): they name the per-output losses and metrics Keras logs")

        def output_losses() -> list[Mean]:  # Keras 3 logs each output's unweighted loss when there are several
            return [Mean(f"{n}_loss", self.floatx) for n in self._output_names or []] if outputs > 1 else []

        self.train_output_losses, self.val_output_losses = output_losses(), output_losses()
        self.train_metrics: list[CompiledMetric] = []
        self.val_metrics: list[CompiledMetric] = []
        self.train_loss, self.val_loss = Mean("loss", self.floatx), Mean("val_loss", self.floatx)
        self.epoch_offset = 0
        self._logs: dict[str, float] | None = None
        self._validated = False
        self.history: dict[str, list[float]] = {}
        self.epochs_run: list[int] = []

    # ----------------------------------------------------------------- Lightning's hooks

    def forward(self, *inputs: torch.Tensor) -> Any:
        return self.model(*inputs)

    def configure_optimizers(self) -> torch.optim.Optimizer:
        return self.setup_.optimizer

    def training_step(self, batch: Any, batch_idx: int) -> torch.Tensor:
        inputs, targets, weights = batch
        self.model.train()  # Keras's training=True (Lightning keeps whatever mode the model was built in)
        optimizer = self.optimizers()
        assert not isinstance(optimizer, list)
        optimizer.zero_grad(set_to_none=True)
        outputs, loss = self.setup_.forward_loss(inputs, targets, weights)
        self.manual_backward(loss)
        optimizer.step()
        self._build_metrics(outputs, targets)
        self._update(self.train_loss, self.train_output_losses, self.train_metrics, loss, outputs, targets, weights,
                     inputs)
        return loss.detach()

    def validation_step(self, batch: Any, batch_idx: int) -> None:
        inputs, targets, weights = batch
        outputs, loss = self.setup_.forward_loss(inputs, targets, weights)
        self._build_metrics(outputs, targets)
        self._validated = True
        self._update(self.val_loss, self.val_output_losses, self.val_metrics, loss, outputs, targets, weights, inputs)

    def on_train_epoch_start(self) -> None:
        for tracker in (self.train_loss, self.val_loss, *self.train_output_losses, *self.val_output_losses):
            tracker.reset()
        for compiled in self.train_metrics + self.val_metrics:
            compiled.metric.reset()
        self._logs, self._validated = None, False

    def on_train_epoch_end(self) -> None:
        """Keras's History is written after every callback's ``on_epoch_end`` has seen (and extended) the logs."""
        logs = self.keras_logs()
        self.epochs_run.append(self.keras_epoch)
        for name, value in logs.items():
            self.history.setdefault(name, []).append(value)
        for name, value in logs.items():
            self.log(name, value, on_step=False, on_epoch=True, sync_dist=False, rank_zero_only=True)
        self._logs = None

    # ----------------------------------------------------------------- Keras's view

    @property
    def keras_epoch(self) -> int:
        """The epoch index Keras would pass to callbacks (``initial_epoch`` counts)."""
        return self.epoch_offset + (self.trainer.current_epoch if self._trainer is not None else 0)

    def keras_logs(self) -> dict[str, float]:
        """This epoch's logs as Keras's ``on_epoch_end`` receives them (one dict, shared by the callbacks)."""
        if self._logs is None:
            logs = {"loss": synced_result(self.train_loss)}
            logs.update({t.name: synced_result(t) for t in self.train_output_losses})
            logs.update({m.name: synced_result(m.metric) for m in self.train_metrics})
            if self._validated:
                logs["val_loss"] = synced_result(self.val_loss)
                logs.update({"val_" + t.name: synced_result(t) for t in self.val_output_losses})
                logs.update({"val_" + m.name: synced_result(m.metric) for m in self.val_metrics})
            self._logs = logs
        return self._logs

    def batch_logs(self) -> dict[str, float]:
        """The running results after a training batch (what Keras's ``on_train_batch_end`` receives)."""
        return {"loss": float(self.train_loss.result()), **{t.name: float(t.result()) for t in self.train_output_losses},
                **{m.name: float(m.metric.result()) for m in self.train_metrics}}

    def direction(self, monitor: str) -> str | None:
        """"max" or "min" for a logged name, as Keras's ``mode="auto"`` infers it from the metric; None if unknown."""
        name = monitor.removeprefix("val_")
        if name == "loss":
            return "min"
        for compiled in self.train_metrics:
            if compiled.name == name:
                return "max" if isinstance(compiled.metric, _RISING) else "min"
        return None

    # ----------------------------------------------------------------- internals

    def _build_metrics(self, outputs: Sequence[torch.Tensor], targets: Any) -> None:
        """Keras resolves "accuracy" from the shapes of the first batch: so do we, once."""
        if self.train_metrics or not any(self._metric_config.values()):
            return
        target_list = _as_list(targets)
        names = self._output_names if len(outputs) > 1 else None
        shapes = {"output_shapes": [tuple(o.shape) for o in outputs],
                  "target_shapes": [tuple(t.shape) for t in target_list]}
        self.train_metrics = compiled_metrics(self._metric_config, names, floatx=self.floatx, **shapes)
        self.val_metrics = compiled_metrics(self._metric_config, names, floatx=self.floatx, **shapes)

    def _update(self, tracker: Mean, output_trackers: Sequence[Mean], metrics: Sequence[CompiledMetric],
                loss: torch.Tensor, outputs: Sequence[torch.Tensor], targets: Any, weights: torch.Tensor | None,
                inputs: Sequence[torch.Tensor]) -> None:
        """Keras's loss trackers count a batch by its size; weighted metrics take the sample weights."""
        with torch.no_grad():
            tracker.update(loss.detach(), sample_weight=torch.tensor(float(inputs[0].shape[0])))
            # Keras weighs these by the output's static batch size, which is unknown (None) in TensorFlow's traced
            # train and test steps: each batch counts once (the total loss above uses the dynamic size)
            for output_tracker, part in zip(output_trackers, self.setup_.output_losses, strict=False):
                output_tracker.update(part)
            target_list = _as_list(targets)
            for compiled in metrics:
                compiled.metric.update(target_list[compiled.output], outputs[compiled.output].detach(),
                                       weights if compiled.weighted else None)


_RISING = (Accuracy, BinaryAccuracy, CategoricalAccuracy, SparseCategoricalAccuracy, TopKCategoricalAccuracy,
           SparseTopKCategoricalAccuracy, AUC, Precision, Recall)
"""Metrics Keras marks ``_direction = "up"`` (``mode="auto"`` maximises them); the rest fall."""


def _as_list(value: Any) -> list[torch.Tensor]:
    return [value] if isinstance(value, torch.Tensor) else list(value)


def synced_result(metric: Mean | KerasMetric) -> float:
    """The metric over every process's batches: Keras's metric states are sums, so they are summed across
    processes (a copy; each process keeps its own) before the result is taken."""
    import torch.distributed as dist

    if not (dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1):
        return float(metric.result())
    slots = list(_state_slots(metric))
    saved = [getattr(owner, name) for owner, name in slots]
    try:
        for (owner, name), value in zip(slots, saved, strict=True):
            setattr(owner, name, _all_summed(value))
        return float(metric.result())
    finally:
        for (owner, name), value in zip(slots, saved, strict=True):
            setattr(owner, name, value)


def _state_slots(owner: Any) -> Any:
    for name, value in vars(owner).items():
        if isinstance(value, torch.Tensor) or (isinstance(value, tuple) and value
                                               and all(isinstance(v, torch.Tensor) for v in value)):
            yield owner, name
        elif isinstance(value, Mean | KerasMetric):
            yield from _state_slots(value)


def _all_summed(value: Any) -> Any:
    import torch.distributed as dist

    if isinstance(value, torch.Tensor):
        summed = value.clone()
        dist.all_reduce(summed)
        return summed
    return type(value)(*(_all_summed(v) for v in value))


def learning_rate(optimizer: torch.optim.Optimizer) -> float:
    """``optimizer.learning_rate`` as Keras reads it: a schedule's value at the coming step, or the floatx rate."""
    if isinstance(optimizer, KerasOptimizer):
        return optimizer.learning_rate()
    return float(optimizer.param_groups[0]["lr"])


def set_learning_rate(optimizer: torch.optim.Optimizer, value: float) -> None:
    """``optimizer.learning_rate = value``: kept in floatx as Keras's variable keeps it; a schedule refuses."""
    if isinstance(optimizer, KerasOptimizer):
        if optimizer.schedule is not None:
            raise TrainingConfigError(f"the optimizer's learning rate is a schedule ({optimizer.schedule.name}); "
                                      "Keras refuses to set it, and so does this callback: drop one of the two")
        import numpy as np

        optimizer.constant_rate = float(np.dtype(optimizer.floatx).type(value))
        return
    for group in optimizer.param_groups:
        group["lr"] = float(value)
