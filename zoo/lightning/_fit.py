"""``fit``: Keras's ``model.fit`` arguments turned into DataLoaders and a ``lightning.Trainer``.

Keras's batching is kept: batches in order (or in a per-epoch permutation drawn from a seeded
``torch.Generator``), the last partial batch kept, ``validation_split`` taking the last fraction
of the arrays before any shuffling. Under DDP each global batch is cut into contiguous per-process
parts, as ``MirroredStrategy`` splits a batch among replicas; Lightning's DistributedSampler
(which interleaves and pads) is not used.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import lightning.pytorch as pl
import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset

from .._errors import TrainingConfigError
from ._callbacks import KerasCallback
from ._module import KerasModule

__all__ = ["History", "epoch_order", "fit"]

Arrays = Any  # an array, a tensor, or a list/tuple of them (several inputs or outputs)


@dataclass
class History:
    """What Keras's ``fit`` returns: ``history[name]`` per epoch, ``epoch`` the epoch indices run."""

    history: dict[str, list[float]] = field(default_factory=dict)
    epoch: list[int] = field(default_factory=list)
    params: dict[str, Any] = field(default_factory=dict)


def fit(module: KerasModule, x: Arrays, y: Arrays, *, batch_size: int | None = 32, epochs: int = 1,
        validation_split: float = 0.0, validation_data: tuple[Any, ...] | None = None, shuffle: bool = True,
        seed: int | None = None, class_weight: Mapping[int, float] | None = None, sample_weight: Any = None,
        callbacks: Sequence[pl.Callback] = (), initial_epoch: int = 0, verbose: bool = True,
        **trainer_options: Any) -> History:
    """Train ``module`` as Keras's ``model.fit`` trains its Keras twin, with a ``lightning.Trainer``.

    Args:
        module: a ``KerasModule``.
        x, y, batch_size, epochs, validation_split, validation_data, class_weight, sample_weight,
        initial_epoch: as Keras's ``fit`` (NumPy arrays or tensors; lists for several inputs/outputs).
        shuffle, seed: each epoch's order is ``epoch_order(n, epoch, seed)``; ``shuffle=False`` keeps the order.
        callbacks: ``zoo.lightning``'s Keras callbacks and any Lightning callbacks.
        verbose: Lightning's progress bar.
        trainer_options: passed to ``lightning.Trainer`` (``strategy="ddp", accelerator="cpu", devices=2``).

    Returns:
        A ``History`` whose ``.history`` has Keras's names (``loss``, ``accuracy``, ``val_loss`` …).
    """
    if not isinstance(module, KerasModule):
        raise TrainingConfigError(f"fit trains a zoo.lightning.KerasModule, not {type(module).__name__}")
    if batch_size is None or batch_size < 1:
        raise TrainingConfigError(f"batch_size must be a positive integer, got {batch_size!r}")
    if not 0 <= initial_epoch < epochs:
        raise TrainingConfigError(f"initial_epoch={initial_epoch} must be in [0, epochs={epochs})")
    dtype = next((p.dtype for p in module.model.parameters() if p.is_floating_point()), torch.float32)
    inputs, targets = _tensors(x, dtype, "x"), _tensors(y, dtype, "y")
    if class_weight is not None and sample_weight is not None:
        raise TrainingConfigError("give class_weight or sample_weight, not both (Keras refuses both)")
    weights = None if sample_weight is None else _tensors(sample_weight, dtype, "sample_weight")[0]
    n = inputs[0].shape[0]
    if any(t.shape[0] != n for t in [*inputs, *targets]) or (weights is not None and weights.shape[0] != n):
        raise TrainingConfigError(f"x, y and sample_weight must have the same number of samples; got "
                                  f"{[t.shape[0] for t in [*inputs, *targets]]}")
    validation: _Batches | None = None
    if validation_data is not None:
        val_x, val_y, *val_w = validation_data
        validation = _Batches(_tensors(val_x, dtype, "validation x"), _tensors(val_y, dtype, "validation y"),
                              _tensors(val_w[0], dtype, "validation sample_weight")[0] if val_w and val_w[0] is not None
                              else None, batch_size)
    elif validation_split:
        if not 0.0 < validation_split < 1.0:
            raise TrainingConfigError(f"validation_split must be in (0, 1), got {validation_split}")
        split = math.floor(n * (1.0 - validation_split))  # Keras's train_validation_split
        if split in (0, n):
            raise TrainingConfigError(f"validation_split={validation_split} leaves an empty part of {n} samples")
        validation = _Batches([t[split:] for t in inputs], [t[split:] for t in targets],
                              None if weights is None else weights[split:], batch_size)
        inputs, targets = [t[:split] for t in inputs], [t[:split] for t in targets]
        weights = None if weights is None else weights[:split]
    if class_weight is not None:  # Keras weighs the training batches by class, never the validation ones
        weights = _class_weights(class_weight, targets, dtype, module.floatx)
    training = _Batches(inputs, targets, weights, batch_size, shuffle=shuffle, seed=seed, first_epoch=initial_epoch)
    module.epoch_offset = initial_epoch
    module.history, module.epochs_run = {}, []
    keras_callbacks = [c for c in callbacks if isinstance(c, KerasCallback)]
    options = {"max_epochs": epochs - initial_epoch, "logger": False, "enable_checkpointing": False,
               "enable_model_summary": False, "num_sanity_val_steps": 0, "enable_progress_bar": verbose,
               "use_distributed_sampler": False, "accelerator": "cpu", "devices": 1, **trainer_options}
    with _quiet_lightning(verbose):
        trainer = pl.Trainer(callbacks=list(callbacks), **options)
        trainer.fit(module, DataLoader(training, batch_size=None),
                    DataLoader(validation, batch_size=None) if validation is not None else None)
    steps = math.ceil(training.samples / batch_size)
    return History(dict(module.history), list(module.epochs_run),
                   {"verbose": int(verbose), "epochs": epochs, "steps": steps, "callbacks": len(keras_callbacks)})


@contextmanager
def _quiet_lightning(verbose: bool) -> Iterator[None]:
    """Without ``verbose``, Lightning's start-up notices (accelerators, tips, the eval-mode census) are not shown."""
    import logging
    import warnings

    if verbose:
        yield
        return
    logger = logging.getLogger("lightning.pytorch")
    level = logger.level
    logger.setLevel(logging.WARNING)
    try:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", module="lightning")
            warnings.filterwarnings("ignore", message=".*does not have many workers.*")
            yield
    finally:
        logger.setLevel(level)


def epoch_order(samples: int, epoch: int, seed: int | None) -> torch.Tensor:
    """The order of epoch ``epoch``'s samples under ``shuffle=True``: the ``epoch``-th ``torch.randperm`` of a
    generator seeded with ``seed`` (the same on every process). Feed Keras this order to compare the two."""
    generator = torch.Generator().manual_seed(seed if seed is not None else 0)
    order = torch.arange(samples)
    for _ in range(epoch + 1):
        order = torch.randperm(samples, generator=generator)
    return order


class _Batches(Dataset[Any]):
    """Whole batches as items (Keras's slicing, not per-sample collation); under DDP this process's part of each."""

    def __init__(self, inputs: list[torch.Tensor], targets: list[torch.Tensor], weights: torch.Tensor | None,
                 batch_size: int, *, shuffle: bool = False, seed: int | None = None, first_epoch: int = 0) -> None:
        self.inputs, self.targets, self.weights, self.batch_size = inputs, targets, weights, batch_size
        self.samples = inputs[0].shape[0]
        self.shuffle, self.seed, self.epoch = shuffle, seed, first_epoch - 1
        self.order: torch.Tensor | None = None

    def __len__(self) -> int:
        return math.ceil(self.samples / self.batch_size)

    def __getitem__(self, index: int) -> tuple[list[torch.Tensor], Any, torch.Tensor | None]:
        if index == 0:
            self.epoch += 1
            self.order = epoch_order(self.samples, self.epoch, self.seed) if self.shuffle else None
        start, stop = index * self.batch_size, min((index + 1) * self.batch_size, self.samples)
        start, stop = _this_process_part(start, stop)
        rows: slice | torch.Tensor = slice(start, stop) if self.order is None else self.order[start:stop]
        targets = [t[rows] for t in self.targets]
        return ([t[rows] for t in self.inputs], targets[0] if len(targets) == 1 else targets,
                None if self.weights is None else self.weights[rows])


def _this_process_part(start: int, stop: int) -> tuple[int, int]:
    import torch.distributed as dist

    if not (dist.is_available() and dist.is_initialized()) or dist.get_world_size() == 1:
        return start, stop
    world, rank = dist.get_world_size(), dist.get_rank()
    size = stop - start
    if size < world:
        raise TrainingConfigError(f"a batch of {size} samples cannot be split among {world} processes; "
                                  "choose batch_size and the data size so every batch has one sample per process")
    bounds = np.linspace(start, stop, world + 1).round().astype(int)  # as even as the batch allows
    return int(bounds[rank]), int(bounds[rank + 1])


def _tensors(value: Arrays, dtype: torch.dtype, what: str) -> list[torch.Tensor]:
    items = list(value) if isinstance(value, list | tuple) else [value]
    if not items or any(item is None for item in items):
        raise TrainingConfigError(f"{what} is empty or holds None")
    tensors = []
    for item in items:
        tensor = torch.as_tensor(np.asarray(item)) if not isinstance(item, torch.Tensor) else item
        tensors.append(tensor.to(dtype) if tensor.is_floating_point() else tensor.to(torch.int64)
                       if not tensor.dtype == torch.bool else tensor)
    return tensors


def _class_weights(class_weight: Mapping[int, float], targets: list[torch.Tensor], dtype: torch.dtype,
                   floatx: str) -> torch.Tensor:
    """Keras's ``class_weight`` as a weight per sample from its class (the label, or a one-hot's argmax; 1.0 for a
    class the mapping leaves out), kept in floatx as Keras's array is."""
    if len(targets) != 1:
        raise TrainingConfigError("class_weight is for a model with one output, as in Keras")
    target = targets[0]
    if target.dim() > 1:
        target = target.argmax(-1) if target.shape[-1] != 1 else target.squeeze(-1)
    labels = (target.round() if target.is_floating_point() else target).to(torch.int64)
    weights = [float(np.dtype(floatx).type(class_weight.get(int(label), 1.0))) for label in labels]  # a floatx array
    return torch.tensor(weights, dtype=dtype)
