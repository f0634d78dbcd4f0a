"""Which PyTorch tensors each Keras variable became, so optimizer slots and regularizers follow.

The porter's rules say how a layer's weights become module tensors (transposed, split,
reordered); an optimizer slot (Adam's m and v) has its variable's shape and moves the
same way. Which tensors a weight feeds is found by running the rule on a marker: that
weight all ones, the others zero.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from .._errors import TrainingConfigError

__all__ = ["KerasVariable", "keras_variables", "slot_layout"]

# Names of a layer's weights in Keras's order, where the regularizer settings refer to them.
_WEIGHT_NAMES = {
    "Dense": ("kernel", "bias"), "Conv1D": ("kernel", "bias"), "Conv2D": ("kernel", "bias"),
    "Conv3D": ("kernel", "bias"), "DepthwiseConv2D": ("depthwise_kernel", "bias"),
    "SeparableConv2D": ("depthwise_kernel", "pointwise_kernel", "bias"),
    "LSTM": ("kernel", "recurrent_kernel", "bias"), "GRU": ("kernel", "recurrent_kernel", "bias"),
    "SimpleRNN": ("kernel", "recurrent_kernel", "bias"), "Embedding": ("embeddings",),
}
_REGULARIZER_KEYS = {"kernel": "kernel_regularizer", "bias": "bias_regularizer",
                     "recurrent_kernel": "recurrent_regularizer", "embeddings": "embeddings_regularizer",
                     "depthwise_kernel": "depthwise_regularizer", "pointwise_kernel": "pointwise_regularizer",
                     "gamma": "gamma_regularizer", "beta": "beta_regularizer"}


@dataclass(frozen=True)
class KerasVariable:
    """One Keras weight: the PyTorch tensors it fills and how an array of its shape converts."""

    layer: Any  # weights_port.KerasLayer
    index: int
    pairing: Any  # weights_port.Pairing
    torch_keys: tuple[str, ...]
    trainable: bool
    regularizer: Any = None  # its Keras regularizer config, if any

    def to_torch(self, array: np.ndarray) -> dict[str, np.ndarray]:
        """An array shaped like this weight (an optimizer slot) in PyTorch layout, per tensor key."""
        arrays = [np.zeros(w.shape, array.dtype) for w in self.layer.weights]
        arrays[self.index] = array
        converted = self.pairing.rule.to_torch(arrays, self.pairing.context)
        return {self.pairing.target.key(name): np.ascontiguousarray(converted[name])
                for name in converted if self.pairing.target.key(name) in self.torch_keys}


def keras_variables(pairs: Sequence[Any], layer_order: Sequence[Any], parameter_names: set[str]) -> list[KerasVariable]:
    """Every weight of the paired layers, in Keras's layer order; trainable where Keras trains it."""
    position = {id(layer): index for index, layer in enumerate(layer_order)}
    variables = []
    for pair in sorted(pairs, key=lambda p: position.get(id(p.layer), len(position))):
        layer = pair.layer
        config = _effective_config(layer)
        layer_trainable = bool((layer.config or {}).get("trainable", True))
        names = _weight_names(layer, config)
        for index, weight in enumerate(layer.weights):
            markers = [np.zeros(w.shape, np.float64) for w in layer.weights]
            markers[index] = np.ones(weight.shape, np.float64)
            converted = pair.rule.to_torch(markers, pair.context)
            keys = tuple(pair.target.key(n) for n, a in converted.items() if np.any(np.asarray(a) != 0))
            trainable = layer_trainable and bool(keys) and all(k in parameter_names for k in keys)
            name = names[index] if index < len(names) else None
            regularizer = config.get(_REGULARIZER_KEYS[name]) if name in _REGULARIZER_KEYS else None
            variables.append(KerasVariable(layer, index, pair, keys, trainable, regularizer))
    return variables


def _effective_config(layer: Any) -> Mapping[str, Any]:
    """The config holding the weight settings: a Bidirectional/TimeDistributed's inner layer."""
    config = dict(layer.config or {})
    inner = config.get("layer") or config.get("forward_layer")
    if isinstance(inner, Mapping) and isinstance(inner.get("config"), Mapping):
        return {**inner["config"], "trainable": config.get("trainable", True)}
    return config


def _weight_names(layer: Any, config: Mapping[str, Any]) -> tuple[str, ...]:
    inner_class = layer.class_name
    wrapped = (layer.config or {}).get("layer")
    if isinstance(wrapped, Mapping):
        inner_class = wrapped.get("class_name", inner_class)
    if inner_class == "BatchNormalization":
        names = (("gamma",) if config.get("scale", True) else ()) + (("beta",) if config.get("center", True) else ())
        return (*names, "moving_mean", "moving_variance")
    names = _WEIGHT_NAMES.get(str(inner_class), ())
    if not config.get("use_bias", True):
        names = tuple(n for n in names if n != "bias")
    if layer.class_name == "Bidirectional":
        return names + names
    return names


# Keras 3's optimizer variables after ``iteration`` and ``learning_rate``: per family, the
# groups in build order; names inside one group interleave per model variable.
_SLOT_GROUPS: dict[str, tuple[tuple[str, ...], ...]] = {
    "SGD": (("momentum",),), "Adam": (("momentum", "velocity"), ("velocity_hat",)),
    "AdamW": (("momentum", "velocity"), ("velocity_hat",)),
    "RMSprop": (("velocity",), ("momentum",), ("average_gradient",)), "Adagrad": (("accumulator",),),
    "Adamax": (("m", "u"),), "Nadam": (("momentum", "velocity"),),
}


def slot_layout(optimizer: Any) -> list[tuple[str, ...]]:
    """The slot groups this optimizer holds (only those its settings create), in Keras's order."""
    family = type(optimizer).__name__
    if family not in _SLOT_GROUPS:
        raise TrainingConfigError(f"no Keras optimizer state layout for {family}")
    group = optimizer.param_groups[0]
    present = {"momentum": family != "SGD" or bool(group.get("momentum")),
               "velocity_hat": bool(group.get("amsgrad")), "average_gradient": bool(group.get("centered"))}
    if family == "RMSprop":
        present["momentum"] = group.get("momentum", 0) > 0
    return [names for names in _SLOT_GROUPS[family] if all(present.get(n, True) for n in names)]
