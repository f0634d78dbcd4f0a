"""The public functions: list, describe, build (optionally with weights) and port."""

from __future__ import annotations

import contextlib
import importlib
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ._errors import BackendError, ConfigError
from ._formats import MODULE_SETTINGS_KEY, TORCH_WEIGHT_SUFFIXES, meta_torch_model
from ._plugins import host
from ._spec import Architecture, TensorSpec, TorchClass, check_dtype, resolve_config

__all__ = ["ModelInfo", "architecture", "get", "info", "list_models", "port", "port_rules"]

BACKENDS = ("torch", "keras")
_FRAMEWORK = {"torch": ("torch", "torch"), "keras": ("keras", "keras")}


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
    torch_class: str | None = None
    """Import line of the PyTorch class (``from pkg.mod import Net``); None if the builder declares none."""


def list_models(pattern: str | None = None) -> list[str]:
    """Registered architecture names, sorted; ``pattern`` is a shell-style filter ("*cnn")."""
    return host().registry.names(pattern)


def architecture(name: str) -> Architecture:
    return host().registry.entry(name).architecture


def info(name: str) -> ModelInfo:
    """What ``zoo info`` prints: description, source, defaults, tensors; imports no framework.

    Raises ``UnknownModelError`` for an unknown name (with the closest names).
    """
    entry = host().registry.entry(name)
    arch = entry.architecture
    defaults = arch.defaults
    torch_class = arch.build_torch.import_line if isinstance(arch.build_torch, TorchClass) else None
    return ModelInfo(arch.name, arch.description, arch.source, entry.source, defaults,
                     arch.inputs(defaults), arch.outputs(defaults), torch_class)


def get(name: str, backend: str = "torch", weights: str | os.PathLike[str] | Any | None = None,
        dtype: str = "float32", **config: Any) -> Any:
    """Build architecture ``name`` for ``backend``, optionally with weights.

    Args:
        name: a registered architecture (``zoo.list_models()``).
        backend: ``"torch"`` gives an ``nn.Module`` (channels-first), ``"keras"`` a
            ``keras.Model`` (channels-last). Neither imports the other framework.
        weights: a Keras file (``.keras``, ``.weights.h5``, ``.h5``) or a live
            ``keras.Model``; for torch also a ``.safetensors`` / weights-only ``.pt`` written
            by ``zoo port``; for keras also a PyTorch state dict. The model comes back
            loaded and, for torch, in inference mode. ``None``: fresh initial weights.
        dtype: ``"float32"`` or ``"float64"``.
        **config: the architecture's keywords (``zoo.info(name).defaults``).

    Raises:
        UnknownModelError: no such architecture (the closest names are suggested).
        ConfigError: an unknown or invalid keyword, before any framework is imported.
        BackendError: the backend's framework is not installed.
        weights_port.PortError: the weights cannot be read or do not fit (the subclass says
            which: ``KerasFileError``, ``LayoutMismatchError`` — also when the file records a
            model that computes something else —, ``UnsupportedLayerError``,
            ``WeightValueError``); nothing is loaded half-way.
    """
    arch, resolved = _resolve(name, backend, dtype, config)
    _require_framework(backend)
    with _config_hints(arch, resolved):
        if backend == "torch":
            model = arch.build_torch(**resolved, dtype=dtype)
            if weights is not None:
                _load_torch_weights(model, _weights_source(weights), arch, resolved, dtype)
                model.eval()
            return model
        model = arch.build_keras(**resolved, dtype=dtype)
        if weights is not None:
            from ._keras_weights import load_into_keras

            load_into_keras(model, _weights_source(weights), arch, resolved, host().port_rules)
        return model


def port(name: str, source: str | os.PathLike[str] | Any, output: str | os.PathLike[str],
         dtype: str = "float32", **config: Any) -> Path:
    """Port weights of ``name`` between frameworks, atomically; the direction follows the files.

    Args:
        name: a registered architecture.
        source: a Keras file (``.keras``, ``.weights.h5``, ``.h5``) or a live ``keras.Model``,
            which becomes a PyTorch ``.safetensors`` state dict (the PyTorch model is built on
            the ``meta`` device, so the weights are held once); or a PyTorch state dict
            (``.safetensors``, weights-only ``.pt``/``.pth``), which becomes a Keras 3
            ``.weights.h5`` (or a full ``.keras``) that ``keras_model.load_weights`` accepts.
        output: the file to write; written to a temporary name, then renamed.
        dtype: ``"float32"`` or ``"float64"``.
        **config: the architecture's keywords.

    Returns:
        The path written.

    Raises:
        UnknownModelError, ConfigError, BackendError: as ``get``.
        weights_port.PortError: unreadable input, a mismatch (naming the Keras layer, the
            PyTorch parameter and both shapes, and the config keyword that would fit when one
            does), or an output that cannot be written (``OutputError``); nothing is written.
    """
    import weights_port
    from weights_port import check_output_path

    source_ref = _weights_source(source)
    protect = (source_ref,) if isinstance(source_ref, Path) else ()
    output_path = check_output_path(output, protect=protect)
    if isinstance(source_ref, Path) and source_ref.suffix.lower() in TORCH_WEIGHT_SUFFIXES:
        return _port_to_keras(name, source_ref, output_path, dtype, config)
    if not output_path.name.endswith(".safetensors"):
        raise weights_port.PortError(f"{output_path}: a Keras file ports to a PyTorch .safetensors file; "
                                     f"name the output like {output_path.stem}.safetensors")
    arch, resolved = _resolve(name, "torch", dtype, config)
    with _config_hints(arch, resolved), weights_port.open_keras(source_ref) as keras_source:
        _require_framework("torch")  # a bad file fails before torch is imported
        model = meta_torch_model(arch, resolved, dtype)
        state, settings = weights_port.port_to_torch(keras_source, model, port_rules())
    ported_from = source_ref.name if isinstance(source_ref, Path) else f"keras.Model {getattr(source, 'name', '?')}"
    metadata = {"zoo_architecture": arch.name, "zoo_config": _json(resolved), "zoo_dtype": dtype,
                "ported_from": ported_from, MODULE_SETTINGS_KEY: _json(settings)}
    return weights_port.save_safetensors(state, output_path, metadata=metadata, protect=protect)


def _weights_source(weights: Any) -> Any:
    """A path, or a live ``keras.Model`` (duck-typed: Keras is never imported for the check)."""
    from weights_port.readers import is_live_model

    if is_live_model(weights):
        return weights
    if not isinstance(weights, str | os.PathLike):
        raise ConfigError(f"weights must be a file path or a keras.Model, got {type(weights).__name__}")
    return Path(weights)


@contextlib.contextmanager
def _config_hints(arch: Architecture, config: dict[str, Any]) -> Iterator[None]:
    """A shape mismatch that one config keyword explains says which value would fit."""
    import weights_port

    try:
        yield
    except weights_port.LayoutMismatchError as exc:
        found = re.search(r"the Keras weights give shape \(([\d, ]*)\), the model expects \(([\d, ]*)\)", str(exc))
        if not found:
            raise
        theirs, mine = ([int(v) for v in group.split(",") if v.strip()] for group in found.groups())
        hints = [f"{key}={t}" for t, m in zip(theirs, mine, strict=False) if t != m
                 for key, value in config.items() if value == m and arch.params[key].kind == "int"]
        if not hints:
            raise
        raise weights_port.LayoutMismatchError(f"{exc}; the file fits {arch.name} with {' or '.join(hints)}") from None


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


def port_rules() -> Any:
    """The porter's rules with every plugin's (what ``zoo.get(..., weights=)`` and ``zoo port`` pair with)."""
    import weights_port

    return weights_port.DEFAULT_RULES.extended(host().port_rules)


def _load_torch_weights(model: Any, path: Any, arch: Architecture, config: dict[str, Any], dtype: str) -> None:
    """Port a Keras file (or live model) into ``model``; a file that records its architecture must compute the
    same function."""
    import weights_port

    if isinstance(path, Path) and path.suffix.lower() in TORCH_WEIGHT_SUFFIXES:
        from ._torch_weights import load_state_file

        load_state_file(model, path)
        return
    rules = port_rules()
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
    import ast
    import json

    config: dict[str, Any] = {}
    for pair in pairs:
        key, sep, raw = pair.partition("=")
        if not sep or not key.strip():
            raise ConfigError(f"config {pair!r} is not KEY=VALUE (for example hidden=[64,32])")
        try:
            value = json.loads(raw)
        except ValueError:
            try:  # what `zoo info` prints: Python literals such as (32, 32) or True
                value = ast.literal_eval(raw)
            except (ValueError, SyntaxError, RecursionError):
                value = raw
        config[key.strip()] = value
    return config
