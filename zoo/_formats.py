"""What the loaders share: PyTorch weight-file suffixes, the safetensors settings key, the meta-device model.

Kept apart so ``_api``, ``_keras_weights`` and ``_torch_weights`` each import it and never one another.
"""

from __future__ import annotations

from typing import Any

from ._spec import Architecture

__all__ = ["MODULE_SETTINGS_KEY", "TORCH_WEIGHT_SUFFIXES", "meta_torch_model"]

TORCH_WEIGHT_SUFFIXES = (".safetensors", ".pt", ".pth", ".bin")
MODULE_SETTINGS_KEY = "keras_module_settings"
"""safetensors metadata: module settings (legacy gate activations, eps) the state dict needs."""


def meta_torch_model(arch: Architecture, config: dict[str, Any], dtype: str) -> Any:
    """The PyTorch model on the ``meta`` device: its structure and shapes, no parameter memory."""
    import torch

    with torch.device("meta"):
        return arch.build_torch(**config, dtype=dtype)
