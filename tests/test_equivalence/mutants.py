"""Deliberately broken PyTorch builders: each carries one classic Keras-to-PyTorch bug.

Each mutant pairs the real Keras builder with a PyTorch builder that gets one thing wrong,
so the equivalence check must fail and name the right layer.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from zoo import Architecture, hookimpl
from zoo.architectures import cifar_cnn, mlp, mobilenet_v2, resnet50, text_classifier


def _gru_in_keras_gate_order(**config: Any) -> Any:
    import torch
    from torch import nn

    class GRU(nn.GRU):  # named like nn.GRU, so the porter fills it as one
        """Computes with the z and r gate blocks swapped: weights left in Keras's z, r, h order."""

        def forward(self, x: Any, hx: Any = None) -> Any:
            swapped = {name: torch.cat([p.chunk(3)[1], p.chunk(3)[0], p.chunk(3)[2]])
                       for name, p in self.named_parameters()}
            return torch.func.functional_call(nn.GRU(self.input_size, self.hidden_size, batch_first=True,
                                                     bidirectional=True).to(x.dtype), swapped, (x,))

    model = text_classifier.build_torch(**config)
    model.gru = GRU(model.gru.input_size, model.gru.hidden_size, batch_first=True, bidirectional=True).to(
        next(model.parameters()).dtype)
    return model


def _flatten_without_permutation(**config: Any) -> Any:
    model = cifar_cnn.build_torch(**config)
    model.keras_port_hints = {}  # forgets that Keras flattened (H, W, C)
    return model


def _final_states_by_view(**config: Any) -> Any:
    import torch

    model = text_classifier.build_torch(**config)
    hidden = config["hidden"]

    def forward(tokens: Any, meta: Any) -> Any:
        x = model.spatial_dropout(model.embedding(tokens).transpose(1, 2)).transpose(1, 2)
        x, _ = model.lstm(x)
        x, h_n = model.gru(x)
        features = torch.cat([h_n.view(-1, 2 * hidden), x.mean(dim=1), x.amax(dim=1), meta], dim=1)
        return model.head(features)

    model.forward = forward
    return model


def _with_default_batch_norm_epsilon(build: Any) -> Any:
    """The builder's model with every BatchNorm left at PyTorch's default eps of 1e-5."""

    def broken(**config: Any) -> Any:
        model = build(**config)
        for module in model.modules():
            if type(module).__name__ == "BatchNorm2d":
                module.eps = 1e-5
        return model

    return broken


def _symmetric_same_padding(**config: Any) -> Any:
    from torch import nn

    model = mobilenet_v2.build_torch(**config)
    conv = model.stem.conv
    del model.stem.pad
    model.stem.conv = nn.Conv2d(conv.in_channels, conv.out_channels, 3, stride=2, padding=1, bias=False).to(
        conv.weight.dtype)
    return model


def _gelu_after_first_dense(**config: Any) -> Any:
    from torch import nn

    model = mlp.build_torch(**config)
    model[1] = nn.GELU()  # Keras has relu after the first Dense
    return model


def _default_batch_norm_momentum(**config: Any) -> Any:
    """PyTorch's default momentum (0.1) where Keras's 0.999 means 0.001: a training-only difference."""
    model = mobilenet_v2.build_torch(**config)
    for module in model.modules():
        if type(module).__name__ == "BatchNorm2d":
            module.momentum = 0.1
    return model


MUTANTS = {
    "mutant_gelu": (mlp.ARCHITECTURE, _gelu_after_first_dense),
    "mutant_bn_momentum": (mobilenet_v2.ARCHITECTURE, _default_batch_norm_momentum),
    "mutant_gru_gate_order": (text_classifier.ARCHITECTURE, _gru_in_keras_gate_order),
    "mutant_flatten_order": (cifar_cnn.ARCHITECTURE, _flatten_without_permutation),
    "mutant_h_n_view": (text_classifier.ARCHITECTURE, _final_states_by_view),
    "mutant_bn_epsilon": (mobilenet_v2.ARCHITECTURE, _with_default_batch_norm_epsilon(mobilenet_v2.build_torch)),
    "mutant_resnet_bn_epsilon": (resnet50.ARCHITECTURE, _with_default_batch_norm_epsilon(resnet50.build_torch)),
    "mutant_symmetric_padding": (mobilenet_v2.ARCHITECTURE, _symmetric_same_padding),
}


@hookimpl
def zoo_architectures() -> list[Architecture]:
    return [dataclasses.replace(base, name=name, build_torch=builder) for name, (base, builder) in MUTANTS.items()]
