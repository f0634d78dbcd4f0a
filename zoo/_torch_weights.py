"""Loading a PyTorch state dict file (safetensors, or a weights-only torch.load) into a model."""

from __future__ import annotations

import json
import pickle
from pathlib import Path
from typing import Any

from weights_port import KerasFileError, LayoutMismatchError

from ._formats import MODULE_SETTINGS_KEY

__all__ = ["load_state_file", "read_state_file"]


def read_state_file(path: Path) -> tuple[dict[str, Any], dict[str, dict[str, Any]]]:
    """Tensors by key, and module settings saved by ``zoo port``.

    ``.pt``/``.pth`` go through ``torch.load(weights_only=True)`` only: nothing is unpickled.
    """
    import torch

    if not path.is_file():
        raise KerasFileError(f"{path}: no such file" if not path.exists() else f"{path}: not a regular file")
    try:
        if path.suffix.lower() == ".safetensors":
            from safetensors import safe_open

            with safe_open(str(path), framework="pt") as handle:
                metadata = handle.metadata() or {}
                tensors = {key: handle.get_tensor(key) for key in handle.keys()}
        else:
            state = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError:
        raise KerasFileError(
            f"{path}: holds pickled Python objects besides tensors, which are refused: unpickling them can run "
            "arbitrary code. If you trust the file, load it yourself and save the state dict with safetensors"
        ) from None
    except Exception as exc:
        raise KerasFileError(f"{path}: not a readable PyTorch weights file ({type(exc).__name__}: "
                             f"{str(exc).splitlines()[0][:200] if str(exc) else ''})") from None
    if path.suffix.lower() == ".safetensors":
        return tensors, _settings(metadata.get(MODULE_SETTINGS_KEY, "{}"), path)
    if isinstance(state, dict) and isinstance(state.get("state_dict"), dict):
        state = state["state_dict"]
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise KerasFileError(f"{path}: holds a {type(state).__name__}, not a state dict of tensors")
    return state, {}


def load_state_file(model: Any, path: Path) -> None:
    from weights_port import apply_module_settings

    state, settings = read_state_file(path)
    expected = model.state_dict()
    missing = sorted(set(expected) - set(state))
    unexpected = sorted(set(state) - set(expected))
    wrong = [f"'{k}' file {tuple(state[k].shape)} vs model {tuple(expected[k].shape)}"
             for k in expected if k in state and state[k].shape != expected[k].shape]
    if missing or unexpected or wrong:
        raise LayoutMismatchError(
            f"{path} does not fit this model: missing {missing[:5]}, unexpected {unexpected[:5]}, "
            f"shape mismatches {wrong[:5]}; was it saved for another architecture or config?"
        )
    apply_module_settings(model, settings)
    model.load_state_dict({k: v.to(expected[k].dtype) for k, v in state.items()})


def _settings(raw: str, path: Path) -> dict[str, dict[str, Any]]:
    try:
        settings = json.loads(raw)
    except (ValueError, RecursionError):
        raise KerasFileError(f"{path}: the '{MODULE_SETTINGS_KEY}' metadata is not valid JSON") from None
    if not isinstance(settings, dict) or not all(isinstance(v, dict) for v in settings.values()):
        raise KerasFileError(f"{path}: the '{MODULE_SETTINGS_KEY}' metadata must map module paths to settings")
    return settings
