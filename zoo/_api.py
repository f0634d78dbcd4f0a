"""The public functions: list, describe, build (optionally with weights) and port."""

from __future__ import annotations

import importlib
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ._errors import BackendError, ConfigError
from ._plugins import host
from ._spec import Architecture, TensorSpec, check_dtype, resolve_config

__all__ = ["ModelInfo", "architecture", "get", "info", "list_models", "port", "torch_weight_suffixes"]

BACKENDS = ("torch", "keras")
_FRAMEWORK = {"torch": ("torch", "torch"), "keras": ("keras", "keras")}
torch_weight_suffixes = (".safetensors", ".pt", ".pth", ".bin")
MODULE_SETTINGS_KEY = "keras_module_settings"
"""safetensors metadata: module settings (legacy gate activations, eps) the state dict needs."""


@dataclass(frozen=True)
class ModelInfo:
    """Everything ``zoo info`` prints: no framework needed."""

    name: str
    description: str
    source: str
    registered_by: str
    defaults: dict[str, Any]
    inputs: list[TensorSpec]
    outputs: list[TensorSpec]


def list_models(pattern: str | None = None) -> list[str]:
    """Registered architecture names, sorted; ``pattern`` is a shell-style filter ("*cnn")."""
    return host().registry.names(pattern)


def architecture(name: str) -> Architecture:
    return host().registry.entry(name).architecture


def info(name: str) -> ModelInfo:
    entry = host().registry.entry(name)
    arch = entry.architecture
    defaults = arch.defaults
    return ModelInfo(arch.name, arch.description, arch.source, entry.source, defaults,
                     arch.inputs(defaults), arch.outputs(defaults))


def get(name: str, backend: str = "torch", weights: str | os.PathLike[str] | None = None,
        dtype: str = "float32", **config: Any) -> Any:
    """Build ``name`` for ``backend`` ("torch" → ``nn.Module``, "keras" → ``keras.Model``).

    With ``weights`` (any Keras file, or for torch a ``.safetensors`` written by
    ``zoo port``), the model is returned loaded and in inference mode, like
    ``from_pretrained``; without, it has fresh initial weights.
    """
    arch, resolved = _resolve(name, backend, dtype, config)
    _require_framework(backend)
    if backend == "torch":
        model = arch.build_torch(**resolved, dtype=dtype)
        if weights is not None:
            _load_torch_weights(model, Path(weights), arch, resolved, dtype)
            model.eval()
        return model
    model = arch.build_keras(**resolved, dtype=dtype)
    if weights is not None:
        from ._keras_weights import load_into_keras

        load_into_keras(model, Path(weights), arch.name, resolved, host().port_rules)
    return model


def port(name: str, source: str | os.PathLike[str], output: str | os.PathLike[str],
         dtype: str = "float32", **config: Any) -> Path:
    """Port weights of ``name`` between frameworks, atomically; the direction follows the files.

    A Keras file (.keras, .weights.h5, .h5) becomes a PyTorch ``.safetensors`` state dict
    (the PyTorch model is built on the ``meta`` device, so the weights are held once). A
    PyTorch state dict (.safetensors, .pt, .pth) becomes a Keras 3 ``.weights.h5`` (or a
    full ``.keras``) that ``keras_model.load_weights`` accepts.
    """
    import weights_port
    from weights_port._files import check_output_path

    source_path, output_path = Path(source), check_output_path(output, protect=(Path(source),))
    if source_path.suffix.lower() in torch_weight_suffixes:
        return _port_to_keras(name, source_path, output_path, dtype, config)
    if not output_path.name.endswith(".safetensors"):
        raise weights_port.PortError(f"{output_path}: a Keras file ports to a PyTorch .safetensors file; "
                                     f"name the output like {output_path.stem}.safetensors")
    arch, resolved = _resolve(name, "torch", dtype, config)
    with weights_port.open_keras(source_path) as keras_source:  # a bad file fails before torch is imported
        _require_framework("torch")
        model = meta_torch_model(arch, resolved, dtype)
        state, settings = weights_port.port_to_torch(keras_source, model, _rules())
    metadata = {"zoo_architecture": arch.name, "zoo_config": _json(resolved), "zoo_dtype": dtype,
                "ported_from": source_path.name, MODULE_SETTINGS_KEY: _json(settings)}
    return weights_port.save_safetensors(state, output_path, metadata=metadata, protect=(source_path,))


_KERAS_OUTPUTS = (".weights.h5", ".keras")


def _port_to_keras(name: str, source: Path, output: Path, dtype: str, config: dict[str, Any]) -> Path:
    import weights_port

    suffix = next((s for s in _KERAS_OUTPUTS if output.name.endswith(s)), None)
    if suffix is None:
        raise weights_port.PortError(f"{output}: a PyTorch state dict ports to a Keras 3 weights file; "
                                     f"name the output like {output.name.split('.')[0]}.weights.h5 (or .keras)")
    model = get(name, backend="keras", weights=source, dtype=dtype, **config)
    data = _keras_file_bytes(model, suffix)
    return weights_port.atomic_write(output, lambda temp: Path(temp).write_bytes(data), protect=(source,),
                                     suffix=suffix)


def _keras_file_bytes(model: Any, suffix: str) -> bytes:
    """The ``.keras`` (or its ``.weights.h5`` member) built in memory by Keras's own writer.

    HDF5 writing straight to disk crashes the process when the disk fills up; built in
    memory, the file reaches the disk through ordinary writes that fail with a clean error.
    """
    import io
    import zipfile

    from keras.src.saving import saving_lib  # the public save() refuses file objects

    buffer = io.BytesIO()
    saving_lib.save_model(model, buffer)
    if suffix == ".keras":
        return buffer.getvalue()
    with zipfile.ZipFile(buffer) as archive:
        return archive.read("model.weights.h5")


def meta_torch_model(arch: Architecture, config: dict[str, Any], dtype: str) -> Any:
    """The PyTorch model on the ``meta`` device: its structure and shapes, no parameter memory."""
    import torch

    with torch.device("meta"):
        return arch.build_torch(**config, dtype=dtype)


def _resolve(name: str, backend: str, dtype: str, config: dict[str, Any]) -> tuple[Architecture, dict[str, Any]]:
    if backend not in BACKENDS:
        raise BackendError(f"backend must be one of {list(BACKENDS)}, got {backend!r}")
    arch = architecture(name)
    check_dtype(dtype)
    return arch, resolve_config(arch, config)


def _require_framework(backend: str) -> None:
    module, extra = _FRAMEWORK[backend]
    try:
        importlib.import_module(module)
    except ImportError as exc:
        raise BackendError(f"backend {backend!r} needs {module}, which is not installed ({exc}); "
                           f"install it with: pip install 'keras-torch-zoo[{extra}]'") from None


def _rules() -> Any:
    import weights_port

    return weights_port.DEFAULT_RULES.extended(host().port_rules)


def _load_torch_weights(model: Any, path: Path, arch: Architecture, config: dict[str, Any], dtype: str) -> None:
    """Port a Keras file into ``model``; a file that records its architecture must compute the same function."""
    import weights_port

    if path.suffix.lower() in torch_weight_suffixes:
        from ._torch_weights import load_state_file

        load_state_file(model, path)
        return
    rules = _rules()
    with weights_port.open_keras(path) as source:
        pairs = weights_port.pair_layers(source, weights_port.torch_targets(model, rules), rules)
        weights_port.load_into_torch(source, model, rules)
        if source.model_config is not None:
            from ._verify import verify_recorded_config

            model.eval()
            verify_recorded_config(arch, config, model, source, dtype, rules,
                                   weights_port.DEFAULT_CONVERT_RULES.extended(host().convert_rules), pairs)


def _json(value: Any) -> str:
    import json

    return json.dumps(value, default=lambda v: getattr(v, "tolist", lambda: str(v))())


def config_from_pairs(pairs: list[str]) -> dict[str, Any]:
    """``["hidden=[64,32]", "input_size=65"]`` → dict; values are JSON literals (bare words: strings)."""
    import json

    config: dict[str, Any] = {}
    for pair in pairs:
        key, sep, raw = pair.partition("=")
        if not sep or not key.strip():
            raise ConfigError(f"config {pair!r} is not KEY=VALUE (for example hidden=[64,32])")
        try:
            value = json.loads(raw)
        except ValueError:
            value = raw
        config[key.strip()] = value
    return config
