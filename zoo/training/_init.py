"""Keras's initializers for a fresh PyTorch module, so training from scratch starts alike.

PyTorch's defaults differ from Keras's: ``nn.Linear`` and ``nn.Conv*`` draw
kaiming-uniform(a=√5) weights and non-zero biases where Keras uses glorot-uniform and
zeros; ``nn.LSTM`` draws everything uniform(±1/√units) where Keras uses glorot-uniform
input kernels, orthogonal recurrent kernels and a forget-gate bias of one. Keras's
"normal" variants are truncated at two standard deviations, rescaled by 0.8796 so the
standard deviation is the nominal one.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from .._errors import TrainingConfigError

__all__ = ["INITIALIZERS", "keras_initialize", "keras_initializer_"]

_TRUNCATED_STDDEV = 0.87962566103423978  # stddev of a unit normal truncated to [-2, 2]
# name → (scale, fan mode, distribution) of Keras's VarianceScaling
INITIALIZERS: dict[str, tuple[float, str, str]] = {
    "glorot_uniform": (1.0, "fan_avg", "uniform"), "glorot_normal": (1.0, "fan_avg", "truncated_normal"),
    "he_uniform": (2.0, "fan_in", "uniform"), "he_normal": (2.0, "fan_in", "truncated_normal"),
    "lecun_uniform": (1.0, "fan_in", "uniform"), "lecun_normal": (1.0, "fan_in", "truncated_normal"),
}


def _fans(weight: torch.Tensor) -> tuple[int, int]:
    """Keras's fans for the Keras kernel this PyTorch weight holds: PyTorch (out, in, *window)
    is Keras (*window, in, out). A depthwise kernel differs (see ``keras_initialize``)."""
    receptive = math.prod(weight.shape[2:]) if weight.dim() > 2 else 1
    return weight.shape[1] * receptive, weight.shape[0] * receptive


@torch.no_grad()
def keras_initializer_(weight: torch.Tensor, name: str, fans: tuple[int, int] | None = None,
                       generator: torch.Generator | None = None) -> torch.Tensor:
    """Fill ``weight`` (PyTorch layout) in place with Keras initializer ``name``."""
    if name == "orthogonal":
        return nn.init.orthogonal_(weight, generator=generator)
    if name not in INITIALIZERS:
        raise TrainingConfigError(f"initializer {name!r} is not reproduced; supported: "
                                  f"{', '.join([*INITIALIZERS, 'orthogonal'])}")
    scale, mode, distribution = INITIALIZERS[name]
    fan_in, fan_out = fans or _fans(weight)
    fan = {"fan_in": fan_in, "fan_out": fan_out, "fan_avg": (fan_in + fan_out) / 2}[mode]
    variance = scale / max(1.0, fan)
    if distribution == "uniform":
        limit = math.sqrt(3.0 * variance)
        return nn.init.uniform_(weight, -limit, limit, generator=generator)
    stddev = math.sqrt(variance) / _TRUNCATED_STDDEV
    return nn.init.trunc_normal_(weight, 0.0, stddev, -2 * stddev, 2 * stddev, generator=generator)


@torch.no_grad()
def keras_initialize(model: nn.Module, kernel: str = "glorot_uniform", recurrent: str = "orthogonal",
                     generator: torch.Generator | None = None) -> nn.Module:
    """Re-initialise ``model`` as Keras's default layer settings would: returns the model.

    Linear and convolution kernels ``kernel`` (Keras's glorot_uniform by default), biases
    zero; LSTM/GRU/RNN input kernels ``kernel``, recurrent kernels ``recurrent``, biases zero
    with the LSTM forget gate at one (``unit_forget_bias``; ``bias_hh`` zero); Embedding
    uniform(±0.05); BatchNorm/LayerNorm γ one, β zero, moving statistics reset.
    """
    for module in model.modules():
        if isinstance(module, nn.Linear | nn.Conv1d | nn.Conv2d | nn.Conv3d):
            groups = int(getattr(module, "groups", 1))
            fans = None
            if groups > 1:  # depthwise: Keras's kernel is (*window, in, multiplier)
                receptive = math.prod(module.weight.shape[2:])
                fans = (groups * receptive, module.weight.shape[0] // groups * receptive)
            keras_initializer_(module.weight, kernel, fans, generator)
            if module.bias is not None:
                nn.init.zeros_(module.bias)
        elif isinstance(module, nn.LSTM | nn.GRU | nn.RNN):
            for name, parameter in module.named_parameters():
                if name.startswith("weight_ih"):
                    # Keras's kernel (in, gates·units) is one matrix: its fans span every gate.
                    keras_initializer_(parameter, kernel, (parameter.shape[1], parameter.shape[0]), generator)
                elif name.startswith("weight_hh"):
                    keras_initializer_(parameter, recurrent, None, generator)
                else:
                    nn.init.zeros_(parameter)
                    if isinstance(module, nn.LSTM) and name.startswith("bias_ih"):
                        parameter[module.hidden_size:2 * module.hidden_size] = 1.0
        elif isinstance(module, nn.Embedding):
            nn.init.uniform_(module.weight, -0.05, 0.05, generator=generator)
        elif isinstance(module, nn.modules.batchnorm._BatchNorm | nn.LayerNorm):
            if getattr(module, "weight", None) is not None:
                nn.init.ones_(module.weight)
                nn.init.zeros_(module.bias)
            if isinstance(module, nn.modules.batchnorm._BatchNorm):
                module.reset_running_stats()
    return model
