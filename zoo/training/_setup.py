"""``training_setup``: read Keras's compile settings, optimizer state and regularizers, and make the layers train as Keras's."""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from .._errors import TrainingConfigError, TrainingConfigWarning
from ._config import checked_loss_weights
from ._loss import LOGITS_ATTRIBUTE, KerasLoss, Regularizer, make_loss, make_regularizer
from ._optim import KerasOptimizer, make_optimizer
from ._state import KerasVariable, keras_variables, slot_layout

Tensors = torch.Tensor | Sequence[torch.Tensor]


class TrainingSetup:
    """A model, Keras's optimizer and loss for it, and the hooks that make its layers train as Keras's.

    ``loss(outputs, targets)`` is Keras's total loss: each output's loss (times its
    ``loss_weights``), plus kernel/bias penalties, plus the activity penalties of the last
    forward pass. ``step(inputs, targets)`` is one ``train_on_batch``.
    """

    def __init__(self, model: nn.Module, optimizer: torch.optim.Optimizer, losses: Sequence[KerasLoss],
                 loss_weights: Sequence[float] | None = None,
                 penalties: Sequence[tuple[Regularizer, Sequence[torch.Tensor]]] = (),
                 activity: Mapping[str, Regularizer] | None = None,
                 batch_norm_momentum: Mapping[str, float] | None = None) -> None:
        self.model, self.optimizer, self.losses = model, optimizer, list(losses)
        self.compile_config: dict[str, Any] = {}  # what the Keras file recorded at compile (metrics among it)
        self.output_losses: list[torch.Tensor] = []
        self.output_names: list[str] | None = None  # the Keras model's output layers, in order (its logs' prefixes)
        self.floatx = "float32"
        self.loss_weights = list(loss_weights) if loss_weights is not None else [1.0] * len(self.losses)
        self.penalties = list(penalties)
        self._activity_values: list[torch.Tensor] = []
        self._collecting = [False]  # activity penalties are gathered only inside forward_loss
        self._hooks = _install_hooks(model, activity or {}, batch_norm_momentum or {}, self._activity_values,
                                     self._collecting)
        # TensorFlow hands Keras an embedding's gradient per lookup (IndexedSlices); so does sparse=True.
        self._dense_embeddings = [m for m in model.modules() if isinstance(m, nn.Embedding) and not m.sparse]
        for module in self._dense_embeddings:
            module.sparse = True

    def loss(self, outputs: Tensors, targets: Tensors, sample_weight: torch.Tensor | None = None) -> torch.Tensor:
        outs, tgts = _as_list(outputs), _as_list(targets)
        if len(outs) != len(self.losses) or len(tgts) != len(outs):
            raise TrainingConfigError(f"the model gives {len(outs)} output(s) and {len(tgts)} target(s) were passed; "
                                      f"the set-up has {len(self.losses)} loss(es)")
        parts = [loss(o, t, sample_weight) for loss, o, t in zip(self.losses, outs, tgts, strict=True)]
        self.output_losses = [part.detach() for part in parts]  # unweighted, per output: Keras logs these too
        total = sum((w * part for w, part in zip(self.loss_weights, parts, strict=True)), torch.zeros(()))
        extra = [regularizer(tensors) for regularizer, tensors in self.penalties] + self._activity_values
        return total + sum(extra, torch.zeros(())) if extra else total

    def forward_loss(self, inputs: Tensors, targets: Tensors, sample_weight: torch.Tensor | None = None
                     ) -> tuple[list[torch.Tensor], torch.Tensor]:
        """The model's outputs and Keras's total loss on a batch, in the mode the model is in.

        As Keras's ``compute_loss``, the activity penalties of this forward pass count in
        evaluation too (Keras adds them on every call of the layer, training or not).
        """
        self._activity_values.clear()
        self._collecting[0] = True
        try:
            outputs = _as_list(self.model(*_as_list(inputs)))
        finally:
            self._collecting[0] = False
        return outputs, self.loss(outputs, targets, sample_weight)

    def step(self, inputs: Tensors, targets: Tensors, sample_weight: torch.Tensor | None = None) -> float:
        """One Keras ``train_on_batch``: forward in training mode, loss, gradients, clipped update."""
        self.model.train()
        self.optimizer.zero_grad(set_to_none=True)
        _, loss = self.forward_loss(inputs, targets, sample_weight)
        loss.backward()
        self.optimizer.step()
        return float(loss.detach())

    def close(self) -> None:
        """Remove the training hooks (the model then trains as plain PyTorch again)."""
        for hook in self._hooks:
            hook.remove()
        self._hooks.clear()
        for module in self._dense_embeddings:
            module.sparse = False
        self._dense_embeddings.clear()


def training_setup(model: nn.Module, source: str | os.PathLike[str] | Any | None = None, *,
                   optimizer: Mapping[str, Any] | str | None = None, loss: Any = None,
                   loss_weights: Sequence[float] | None = None, floatx: str | None = None,
                   load_optimizer_state: bool = True) -> TrainingSetup:
    """Keras's training of ``model``: from the Keras file (or live model) it was ported from, or from configs.

    Args:
        model: the PyTorch model (``zoo.get(..., weights=source)`` or any model the porter fills).
        source: a ``.keras`` / legacy ``.h5`` file or a compiled live ``keras.Model``: its compile
            settings, layer regularizers and (with ``load_optimizer_state``) optimizer state
            are used. ``optimizer``/``loss`` given here override the recorded ones.
        optimizer: ``keras.optimizers.serialize`` output or a name ("adam").
        loss: ``keras.losses.serialize`` output or a name, or a list of them (one per output).
        loss_weights: per-output weights, as in ``compile``.
        floatx: Keras's ``floatx`` when the model was compiled: the loss and learning rate live in it.
            By default what the file records (its optimizer's learning-rate variable, else its
            layers' dtype policy; a live model: its optimizer's), else the model's parameter dtype.
        load_optimizer_state: read the optimizer's saved iterations and slots (Adam's m and v…) so
            training continues where Keras stopped; False starts the optimizer afresh.

    Returns:
        A ``TrainingSetup``: ``.optimizer``, ``.loss(outputs, targets)``, ``.step(inputs, targets)``,
        ``.close()``. The model is changed for training as Keras's layers train (see the module doc).

    Raises:
        TrainingConfigError: an optimizer, schedule, loss, regularizer or saved optimizer state this
            module cannot reproduce (the message names it).
        weights_port.PortError: the file cannot be read or does not fit the model.

    Warns:
        TrainingConfigWarning: the file does not record a setting exactly (a Huber loss's delta).
    """
    from .._api import _weights_source

    recorded: Mapping[str, Any] = {}
    variables: list[KerasVariable] = []
    saved_state: list[tuple[str, np.ndarray]] = []
    momentum: dict[str, float] = {}
    recorded_floatx = None
    output_names = None
    if source is not None:
        source = _weights_source(source)  # a Path, or a live keras.Model
        recorded, variables, saved_state, momentum, recorded_floatx, output_names = _read_source(model, source)
    if floatx is None:
        floatx = recorded_floatx or _parameter_floatx(model)
    if floatx not in ("float32", "float64"):
        raise TrainingConfigError(f"floatx {floatx!r} is not reproduced; Keras trains in float32 or float64 here")
    optimizer = optimizer if optimizer is not None else recorded.get("optimizer")
    loss = loss if loss is not None else recorded.get("loss")
    if optimizer is None or loss is None:
        raise TrainingConfigError(f"no {'optimizer' if optimizer is None else 'loss'} given and none recorded"
                                  + (f" in {source}" if source is not None else "") +
                                  "; pass optimizer=... and loss=... (Keras configs or names)")
    loss_weights = _loss_weight_list(recorded.get("loss_weights") if loss_weights is None else loss_weights)
    _freeze_without_keras_counterpart(model, variables)
    trainable = [v for v in variables if v.trainable]
    params = _parameters_in_keras_order(model, trainable)
    torch_optimizer = make_optimizer(optimizer, params, floatx)
    if saved_state and load_optimizer_state:
        _load_optimizer_state(torch_optimizer, trainable, saved_state, model)
    if isinstance(loss, Mapping) and "class_name" not in loss:
        raise TrainingConfigError(f"a loss per output name ({sorted(loss)}) is not supported; pass a list in output order")
    losses = [make_loss(c, floatx) for c in (loss if isinstance(loss, list | tuple) else [loss])]
    if isinstance(source, Path):
        _warn_about_unrecorded_delta(loss, source)
    penalties, activity = _regularizers(model, variables)
    setup = TrainingSetup(model, torch_optimizer, losses, loss_weights, penalties, activity, momentum)
    setup.compile_config = dict(recorded)
    setup.floatx = floatx
    setup.output_names = output_names
    return setup


# --------------------------------------------------------------------------- reading the Keras side


def _parameter_floatx(model: nn.Module) -> str:
    dtype = next((p.dtype for p in model.parameters() if p.is_floating_point()), torch.float32)
    return "float64" if dtype == torch.float64 else "float32"


def recorded_floatx(state: Sequence[tuple[str, np.ndarray]], model_config: Any) -> str | None:
    """The ``floatx`` Keras trained in, as the file records it.

    Keras creates its optimizer's learning-rate variable in floatx (saved beside the
    iteration count); without optimizer state, the layers' dtype policy shows it (a model
    built under ``floatx`` float64 records "float64" on every layer).
    """
    for key, array in state:
        if array.ndim == 0 and array.dtype.kind == "f" and ("learning_rate" in key or key.endswith(("vars/1", "lr"))):
            return "float64" if array.dtype == np.float64 else "float32"
    names: set[str] = set()

    def visit(value: Any) -> None:
        if isinstance(value, Mapping):
            dtype = value.get("dtype")
            name = dtype.get("config", {}).get("name") if isinstance(dtype, Mapping) and isinstance(
                dtype.get("config"), Mapping) else dtype
            if isinstance(name, str) and name.startswith(("float", "mixed")):
                names.add(name)
            for item in value.values():
                if isinstance(item, Mapping | list):
                    visit(item)
        elif isinstance(value, list):
            for item in value:
                visit(item)

    visit(model_config)
    return "float64" if names == {"float64"} else "float32" if names else None


def _read_source(model: nn.Module, source: Any) -> tuple[Mapping[str, Any], list[KerasVariable],
                                                          list[tuple[str, np.ndarray]], dict[str, float], str | None,
                                                          list[str] | None]:
    import weights_port

    from .._api import port_rules

    rules = port_rules()
    live = not isinstance(source, Path)
    with weights_port.open_keras(source) as keras_source:
        pairs = weights_port.pair_layers(keras_source, weights_port.torch_targets(model, rules), rules)
        parameter_names = {name for name, _ in model.named_parameters()}
        variables = keras_variables(pairs, keras_source.layers, parameter_names)
        if live:
            recorded = _live_compile_config(source)
            state = [(str(getattr(v, "path", v.name)), np.asarray(v.numpy()))
                     for v in getattr(getattr(source, "optimizer", None), "variables", [])]
        else:
            if not isinstance(keras_source.training_config or {}, Mapping):
                raise TrainingConfigError(f"{source}: its training config is not a dict (Keras writes one)")
            recorded = dict(keras_source.training_config or {})
            if "optimizer_config" in recorded:  # legacy .h5 spelling
                recorded["optimizer"] = recorded.pop("optimizer_config")
            state = [(w.key, w.read()) for w in keras_source.optimizer_variables]
            recorded_optimizer = recorded.get("optimizer")
            optimizer_name = str(recorded_optimizer.get("class_name", "")) if isinstance(recorded_optimizer,
                                                                                          Mapping) else ""
            if optimizer_name.removeprefix("Custom>") == "Nadam" and str(keras_source.keras_version).startswith("2"):
                raise TrainingConfigError(
                    f"{source}: tf.keras 2's Nadam keeps its momentum product outside the saved state and advances it "
                    "through a Python counter at trace time; its steps are not reproduced (Keras 3's Nadam is)")
        momentum = {pair.target.path: float((pair.layer.config or {}).get("momentum", 0.99)) for pair in pairs
                    if pair.layer.class_name == "BatchNormalization"}
        floatx = recorded_floatx(state, keras_source.model_config)
        names = list(getattr(source, "output_names", None) or []) if live else _output_names(keras_source.model_config)
    return recorded, variables, state, momentum, floatx, names or None


def _output_names(model_config: Any) -> list[str]:
    """The output layer names a Keras config records (``output_layers``), which Keras prefixes its logs with."""
    inner = model_config.get("config") if isinstance(model_config, Mapping) else None
    outputs = inner.get("output_layers") if isinstance(inner, Mapping) else None
    if not isinstance(outputs, list):
        return []
    if outputs and isinstance(outputs[0], str):  # one output, written flat: [name, node, tensor]
        outputs = [outputs]
    return [entry[0] for entry in outputs if isinstance(entry, list) and entry and isinstance(entry[0], str)]


def _warn_about_unrecorded_delta(loss: Any, source: Any) -> None:
    """Keras 3 saves a Huber loss without its delta (and reloads it as 1.0): say so instead of guessing."""
    import warnings

    for config in loss if isinstance(loss, list | tuple) else [loss]:
        if (isinstance(config, Mapping) and config.get("class_name") == "Huber"
                and "delta" not in (config.get("config") or {})):
            warnings.warn(f"{source}: Keras does not save a Huber loss's delta; it is read as 1.0, as Keras reloads "
                          "it. Pass loss={'class_name': 'Huber', 'config': {'delta': ...}} if it was compiled with "
                          "another", TrainingConfigWarning, stacklevel=3)


def _live_compile_config(model: Any) -> dict[str, Any]:
    """What ``model.save`` would record as ``compile_config``."""
    getter = getattr(model, "get_compile_config", None)
    config = dict(getter() or {}) if getter is not None else {}
    recorded = {key: config[key] for key in ("optimizer", "loss", "loss_weights") if config.get(key) is not None}
    live_loss = getattr(model, "loss", None)
    keywords = getattr(live_loss, "_fn_kwargs", None)
    if isinstance(recorded.get("loss"), Mapping) and keywords:
        # get_config of Keras's Huber drops delta (and other wrappers their keywords): read the live object
        loss_config = dict(recorded["loss"])
        loss_config["config"] = {**(loss_config.get("config") or {}), **keywords}
        recorded["loss"] = loss_config
    if "optimizer" not in recorded and getattr(model, "optimizer", None) is not None:
        import keras

        recorded["optimizer"] = keras.optimizers.serialize(model.optimizer)
    return recorded


def _loss_weight_list(recorded: Any) -> list[float] | None:
    return checked_loss_weights(recorded)


def _freeze_without_keras_counterpart(model: nn.Module, variables: Sequence[KerasVariable]) -> None:
    """Parameters Keras has no trainable variable for stop training (an LSTM's ``bias_hh``, frozen layers)."""
    if variables:
        trained = {key for v in variables if v.trainable for key in v.torch_keys}
        for name, parameter in model.named_parameters():
            if name not in trained:
                parameter.requires_grad_(False)
        return
    for module in model.modules():
        if isinstance(module, nn.LSTM) and module.bias:
            with torch.no_grad():
                for name, parameter in module.named_parameters():
                    if name.startswith("bias_hh"):  # folded into bias_ih: the same function, one bias as in Keras
                        getattr(module, name.replace("bias_hh", "bias_ih")).add_(parameter)
                        parameter.zero_()
                        parameter.requires_grad_(False)


def _parameters_in_keras_order(model: nn.Module, trainable: Sequence[KerasVariable]) -> list[nn.Parameter]:
    named = dict(model.named_parameters())
    if not trainable:
        return [p for p in model.parameters() if p.requires_grad]
    ordered: dict[str, nn.Parameter] = {}
    for variable in trainable:
        for key in variable.torch_keys:
            ordered.setdefault(key, named[key])
    return list(ordered.values())


def _load_optimizer_state(optimizer: torch.optim.Optimizer, trainable: Sequence[KerasVariable],
                          saved: Sequence[tuple[str, np.ndarray]], model: nn.Module) -> None:
    """Keras's saved optimizer variables into the PyTorch optimizer: iterations, slots per variable.

    Keras 3 (``.keras``, its legacy ``.h5``) and tf.keras 2.11+ (``iteration:0``,
    ``Adam/m/dense/kernel:0``…) store the slots in the same order; Keras 2's older
    optimizers (``Adam/iter:0``, ``Adam/dense/kernel/m:0``) are refused by name.
    """
    names = [name for name, _ in saved]
    if any(name.endswith("/iter:0") or re.search(r"/(m|v|momentum|rms|accumulator):0$", name) for name in names):
        raise TrainingConfigError(
            f"the optimizer state was written by a Keras 2 optimizer before 2.11 ({names[0]!r}, {names[-1]!r}); "
            "its slots are not read: pass load_optimizer_state=False to train on with fresh optimizer state")
    if not isinstance(optimizer, KerasOptimizer):
        if type(optimizer) is torch.optim.SGD and len(saved) > 2:
            raise TrainingConfigError(f"the file holds {len(saved)} optimizer variables; plain SGD keeps none")
        return
    values = [array for name, array in saved if "learning_rate" not in name.rsplit("/", 1)[-1]]
    optimizer.iterations = int(np.asarray(values.pop(0)).reshape(()))
    if values and np.asarray(values[0]).shape == () and optimizer.schedule is None and not any(
            "learning_rate" in n for n in names) and names and names[0].isdigit():
        values.pop(0)  # a .keras's unnamed learning-rate variable: the config already gives it
    if not values:  # saved before the first step: Keras had not built its slots yet
        return
    named = dict(model.named_parameters())
    expected = sum(len(group) for group in slot_layout(optimizer)) * len(trainable)
    extra = 1 if type(optimizer).__name__ == "Nadam" else 0
    if extra and len(values) == expected:  # tf.keras does not save Nadam's product: rebuild it from the count
        values.append(np.asarray(_nadam_product(optimizer.param_groups[0]["beta_1"], optimizer.iterations)))
    if len(values) != expected + extra:
        raise TrainingConfigError(
            f"the file holds {len(values)} optimizer slot variables, {type(optimizer).__name__} over "
            f"{len(trainable)} trainable variables needs {expected + extra}; was it saved from this model?")
    cursor = 0
    for group in slot_layout(optimizer):
        for variable in trainable:
            for slot in group:
                array = np.asarray(values[cursor])
                cursor += 1
                if array.shape != variable.layer.weights[variable.index].shape:
                    raise TrainingConfigError(
                        f"optimizer slot '{slot}' for {variable.layer.describe()} has shape {array.shape}, "
                        f"the weight has {variable.layer.weights[variable.index].shape}")
                for key, converted in variable.to_torch(array).items():
                    parameter = named[key]
                    state = optimizer.state[parameter]
                    if not state:
                        optimizer._init_state(parameter, state, optimizer.param_groups[0])
                    state[slot] = torch.from_numpy(converted).to(parameter.dtype).clone()
    if extra:
        optimizer.u_product = torch.tensor(float(np.asarray(values[-1])), dtype=torch.float64)  # type: ignore[attr-defined]


def _nadam_product(beta_1: float, iterations: int) -> float:
    """Nadam's running product ∏ β₁(1 − ½·0.96ᵗ) over the steps taken, as Keras accumulates it."""
    product = 1.0
    for t in range(1, iterations + 1):
        product = product * beta_1 * (1.0 - 0.5 * 0.96**t)
    return product


def _regularizers(model: nn.Module, variables: Sequence[KerasVariable]
                  ) -> tuple[list[tuple[Regularizer, list[torch.Tensor]]], dict[str, Regularizer]]:
    named = dict(model.named_parameters())
    penalties: list[tuple[Regularizer, list[torch.Tensor]]] = []
    for variable in variables:
        regularizer = make_regularizer(variable.regularizer)
        if regularizer is not None:
            penalties.append((regularizer, [named[key] for key in variable.torch_keys if key in named]))
    activity: dict[str, Regularizer] = {}
    seen: set[int] = set()
    for variable in variables:
        pair = variable.pairing
        config = dict(pair.layer.config or {})
        if id(pair) in seen or config.get("activity_regularizer") is None:
            continue
        seen.add(id(pair))
        if config.get("activation", "linear") not in ("linear", None):
            raise TrainingConfigError(
                f"{pair.layer.describe()} has an activity_regularizer after its activation "
                f"{config['activation']!r}: PyTorch's {pair.target.module_type} output is before it; "
                "move the activation to its own layer")
        regularizer = make_regularizer(config["activity_regularizer"])
        assert regularizer is not None
        activity[pair.target.path] = regularizer
    return penalties, activity


# --------------------------------------------------------------------------- the layers in training mode


def _install_hooks(model: nn.Module, activity: Mapping[str, Regularizer], momentum: Mapping[str, float],
                   collected: list[torch.Tensor], collecting: list[bool]) -> list[Any]:
    hooks = []
    for path, module in model.named_modules():
        if isinstance(module, nn.Sigmoid | nn.Softmax):
            hooks.append(module.register_forward_hook(_remember_logits))
        elif isinstance(module, nn.modules.batchnorm._BatchNorm) and module.track_running_stats:
            keras_momentum = momentum.get(path, 1.0 - float(module.momentum or 0.0))
            hooks.append(module.register_forward_pre_hook(_keep_statistics))
            hooks.append(module.register_forward_hook(_keras_statistics_update(keras_momentum)))
        if path in activity:
            hooks.append(module.register_forward_hook(_activity_penalty(activity[path], collected, collecting)))
    return hooks


def _remember_logits(module: nn.Module, inputs: tuple[Any, ...], output: torch.Tensor) -> None:
    last_axis = not isinstance(module, nn.Softmax) or module.dim in (-1, output.dim() - 1)
    if last_axis:
        setattr(output, LOGITS_ATTRIBUTE, inputs[0])


def _keep_statistics(module: nn.Module, inputs: tuple[Any, ...]) -> None:
    if module.training:
        statistics: tuple[torch.Tensor, torch.Tensor] = (module.get_buffer("running_mean").clone(),
                                                         module.get_buffer("running_var").clone())
        module.__dict__["_zoo_saved_statistics"] = statistics


def _keras_statistics_update(keras_momentum: float) -> Callable[..., None]:
    """Keras's update: moving = moving·m + batch·(1 − m), with the biased batch variance."""

    def hook(module: nn.Module, inputs: tuple[Any, ...], output: torch.Tensor) -> None:
        saved = module.__dict__.pop("_zoo_saved_statistics", None)
        if not module.training or saved is None:
            return
        x = inputs[0].detach()
        axes = [0, *range(2, x.dim())]
        with torch.no_grad():
            mean, variance = x.mean(dim=axes), x.var(dim=axes, unbiased=False)
            # New tensors, not in-place writes: autograd saved the old ones for the backward pass.
            setattr(module, "running_mean", saved[0] * keras_momentum + mean * (1.0 - keras_momentum))  # noqa: B010
            setattr(module, "running_var", saved[1] * keras_momentum + variance * (1.0 - keras_momentum))  # noqa: B010

    return hook


def _activity_penalty(regularizer: Regularizer, collected: list[torch.Tensor],
                      collecting: list[bool]) -> Callable[..., None]:
    """Keras adds regularizer(output) / batch size for each output of the layer's call."""

    def hook(module: nn.Module, inputs: tuple[Any, ...], output: Any) -> None:
        if collecting[0]:
            for tensor in _as_list(output if not isinstance(output, tuple) else output[0]):
                collected.append(regularizer([tensor]) / tensor.shape[0] if tensor.dim() else regularizer([tensor]))

    return hook


def _as_list(value: Tensors) -> list[torch.Tensor]:
    return [value] if isinstance(value, torch.Tensor) else list(value)
