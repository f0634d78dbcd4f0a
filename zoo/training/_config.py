"""A recorded training config is data: every optimizer, schedule, loss and regularizer setting is checked here.

A file's ``compile_config`` / ``training_config`` may hold anything: an optimizer given as
a number, a ``module`` pointing at another package, a β of "0.9", a NaN learning rate.
Each shape Keras writes is accepted; anything else is a ``TrainingConfigError`` that
names the setting and the value, in one line, before any tensor is touched.
"""

from __future__ import annotations

import math
import reprlib
from collections.abc import Mapping
from typing import Any

from .._errors import TrainingConfigError

__all__ = ["checked_entry", "checked_loss_weights", "checked_settings", "shown"]

_MODULES = ("keras.optimizers", "keras.src.optimizers", "keras.losses", "keras.src.losses", "keras.regularizers",
            "keras.src.regularizers", "keras.optimizers.schedules", "keras.src.optimizers.schedules",
            "tf_keras.optimizers", "tf_keras.losses", "builtins")

_UNIT = (0.0, 1.0)
_RULES: dict[str, tuple[str, tuple[float | None, float | None]]] = {
    # setting: (kind, (minimum, maximum)) — Keras's own constructor checks where it has them
    "learning_rate": ("number", (0.0, None)), "beta_1": ("number", _UNIT), "beta_2": ("number", _UNIT),
    "epsilon": ("number", (0.0, None)), "momentum": ("number", _UNIT), "rho": ("number", _UNIT),
    "clipnorm": ("optional", (0.0, None)), "clipvalue": ("optional", (0.0, None)),
    "global_clipnorm": ("optional", (0.0, None)), "weight_decay": ("optional", (0.0, None)),
    "initial_accumulator_value": ("number", (0.0, None)), "amsgrad": ("flag", (None, None)),
    "nesterov": ("flag", (None, None)), "centered": ("flag", (None, None)), "from_logits": ("flag", (None, None)),
    "label_smoothing": ("number", _UNIT), "delta": ("number", (0.0, None)), "l1": ("number", (0.0, None)),
    "l2": ("number", (0.0, None)), "initial_learning_rate": ("number", (0.0, None)),
    "decay_steps": ("number", (0.0, None)), "decay_rate": ("number", (0.0, None)), "staircase": ("flag", (None, None)),
    "alpha": ("number", _UNIT), "warmup_steps": ("number", (0.0, None)), "warmup_target": ("optional", (0.0, None)),
}


def shown(value: Any) -> str:
    brief = reprlib.Repr()
    brief.maxstring = brief.maxother = 60
    brief.maxlevel = 2
    return brief.repr(value)


def checked_entry(config: Any, what: str, allow_function: bool = False) -> tuple[str, dict[str, Any]]:
    """(class name, settings) of a serialized Keras object (a name, or a dict Keras wrote), checked."""
    if isinstance(config, str):
        if not config or len(config) > 100:
            raise TrainingConfigError(f"the {what} {shown(config)} is not a Keras {what} name")
        return config, {}
    if not isinstance(config, Mapping):
        raise TrainingConfigError(f"the {what} is {shown(config)}; Keras records a name or a dict with 'class_name' "
                                  "and 'config'")
    module = config.get("module")
    if module is not None and (not isinstance(module, str) or not module.startswith(_MODULES)):
        raise TrainingConfigError(f"the {what}'s module {shown(module)} is not Keras's; only Keras's own classes are "
                                  "reproduced (nothing is imported from a file)")
    class_name, inner = config.get("class_name"), config.get("config")
    if allow_function and isinstance(inner, str) and class_name == "function":  # keras.losses.serialize(mse)
        return inner, {}
    if not isinstance(class_name, str) or not class_name:
        raise TrainingConfigError(f"the {what}'s class_name is {shown(class_name)}, not a name")
    registered = config.get("registered_name")
    if registered is not None and registered != class_name and registered.split(">")[-1] != class_name:
        raise TrainingConfigError(f"the {what} is the registered custom class {shown(registered)}, which is not "
                                  "reproduced")
    if inner is None:
        inner = {}
    if not isinstance(inner, Mapping):
        raise TrainingConfigError(f"the {what} {shown(class_name)} has config {shown(inner)}, not a dict")
    return class_name, checked_settings(dict(inner), f"{what} {class_name}")


def checked_settings(settings: dict[str, Any], where: str) -> dict[str, Any]:
    """Every setting with a known kind is checked: numbers finite and in range, flags booleans."""
    for key, value in settings.items():
        if key not in _RULES or (isinstance(value, Mapping) and key == "learning_rate"):
            continue  # a schedule is checked when it is built; other keys are checked by their users
        kind, (low, high) = _RULES[key]
        if kind == "flag":
            if not isinstance(value, bool):
                raise TrainingConfigError(f"{where}: {key} is {shown(value)}; Keras allows true or false")
            continue
        if kind == "optional" and value is None:
            continue
        if not isinstance(value, int | float) or isinstance(value, bool) or not math.isfinite(value) or \
                (low is not None and value < low) or (high is not None and value > high):
            bounds = " and ".join(b for b in (f"≥ {low:g}" if low is not None else "",
                                              f"≤ {high:g}" if high is not None else "") if b)
            raise TrainingConfigError(f"{where}: {key} is {shown(value)}; Keras allows a finite number {bounds}".rstrip())
    return settings


def checked_loss_weights(recorded: Any) -> list[float] | None:
    """Loss weights in output order: finite numbers."""
    if recorded is None:
        return None
    if isinstance(recorded, Mapping):
        raise TrainingConfigError("loss_weights per output name are not supported; pass loss_weights=[...] in order")
    values = recorded if isinstance(recorded, list | tuple) else [recorded]
    for value in values:
        if not isinstance(value, int | float) or isinstance(value, bool) or not math.isfinite(value):
            raise TrainingConfigError(f"loss_weights holds {shown(value)}; Keras allows finite numbers")
    return [float(v) for v in values]
