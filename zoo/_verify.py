"""A ported file must compute the zoo's architecture, not merely fit its shapes.

Shapes cannot tell ``Dense(32, activation="tanh")`` from the zoo's ``relu``, nor another
padding or stride. When the file records its architecture, the converter turns that
record into a PyTorch module of its own; both modules get the file's weights and the
same random batch, and their outputs are compared with the suite's tolerance. On a
difference, the porter's pairing of Keras layers to the zoo's modules finds the first
layer after which the two part.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np

from ._errors import ZooWarning
from ._spec import Architecture

__all__ = ["UnverifiedConfigWarning", "verify_recorded_config"]

_DESCRIBED_KEYS = ("activation", "padding", "strides", "kernel_size", "dilation_rate", "use_bias", "epsilon",
                   "recurrent_activation", "reset_after", "go_backwards", "merge_mode")


class UnverifiedConfigWarning(ZooWarning):
    """The file's recorded architecture holds a layer the converter does not know (a ``Lambda``, a custom layer
    without a conversion rule), so only shapes were checked."""


def verify_recorded_config(arch: Architecture, config: dict[str, Any], model: Any, source: Any, dtype: str,
                           port_rules: Any, convert_rules: Any, pairs: Sequence[Any]) -> None:
    """Raise ``LayoutMismatchError`` if ``source``'s recorded model computes something else than ``model``.

    ``pairs`` is the porter's pairing of the file's layers with ``model``'s modules, made before
    the port (which may swap a module for one computing a legacy gate activation).
    """
    import torch

    import weights_port
    from weights_port.tolerance import compare_arrays

    try:
        conversion = weights_port.convert(source, dtype=dtype, rules=convert_rules, port_rules=port_rules)
    except weights_port.UnknownLayerError as exc:  # a custom or Lambda layer: its computation is not known here
        warnings.warn(f"{source.description}: the recorded architecture was not compared with '{arch.name}' "
                      f"(only shapes were): {exc}", UnverifiedConfigWarning, stacklevel=4)
        return
    except weights_port.PortError as exc:  # what the file records cannot be computed: it is not this architecture
        raise weights_port.LayoutMismatchError(
            f"{source.description}: the recorded architecture cannot be checked against '{arch.name}': {exc}") from None
    converted = conversion.build()
    specs = arch.inputs(config)
    batch = _random_batch(specs, dtype)
    zoo_inputs = [torch.from_numpy(np.ascontiguousarray(spec.keras_to_torch(a))) for spec, a in zip(specs, batch,
                                                                                                       strict=True)]
    converted_inputs = [torch.from_numpy(np.ascontiguousarray(a.transpose(entry["permutation"])))
                        for a, entry in zip(batch, conversion.manifest["inputs"], strict=True)]
    layers = conversion.manifest["layers"]
    paths = [(layers.get(p.layer.name, {}).get("modules") or [None])[0] for p in pairs]
    zoo_values = _module_outputs(model, [p.target.path for p in pairs], zoo_inputs)
    converted_values = _module_outputs(converted, [path for path in paths if path], converted_inputs)
    previous = None
    for pair, path in zip(pairs, paths, strict=True):
        mine, theirs = zoo_values.get(pair.target.path), converted_values.get(path or "")
        if mine is None or theirs is None or mine.shape != theirs.shape:
            continue
        agreement = compare_arrays(mine, theirs, dtype)
        if not agreement.passed:
            raise weights_port.LayoutMismatchError(_report(arch, source, previous, pair, agreement.max_abs))
        previous = pair
    with torch.no_grad():
        expected, actual = _tensors(model(*zoo_inputs)), _tensors(converted(*converted_inputs))
    for got, want in zip(expected, actual, strict=False):
        if got.shape == want.shape and not compare_arrays(got.numpy(), want.numpy(), dtype).passed:
            last = f" {_described(pairs[-1].layer)}" if pairs else ""
            raise weights_port.LayoutMismatchError(
                f"{source.description} records a model that computes something else than '{arch.name}' after its "
                f"last weighted layer{last} (outputs differ by {np.abs(got.numpy() - want.numpy()).max():.3g}); "
                "check the file's final activation and the architecture name")


def _random_batch(specs: Sequence[Any], dtype: str) -> list[np.ndarray]:
    rng = np.random.default_rng(0)
    arrays = []
    for spec in specs:
        shape = (2, *(5 if n is None else n for n in spec.keras_shape))
        if spec.dtype == "int64":
            arrays.append(rng.integers(0, spec.high or 2, shape, dtype=np.int64))
        else:
            arrays.append(rng.uniform(-1.0, 1.0, shape).astype(dtype))
    return arrays


def _module_outputs(model: Any, paths: Sequence[str], inputs: Sequence[Any]) -> dict[str, np.ndarray]:
    import torch

    values: dict[str, np.ndarray] = {}
    handles = []
    for path in paths:
        def hook(module: Any, args: Any, output: Any, path: str = path) -> None:
            first = _tensors(output)[0]
            values.setdefault(path, first.detach().numpy())

        handles.append(model.get_submodule(path).register_forward_hook(hook))
    try:
        with torch.no_grad():
            model(*inputs)
    finally:
        for handle in handles:
            handle.remove()
    return values


def _tensors(output: Any) -> list[Any]:
    if isinstance(output, tuple | list):
        return [t for item in output for t in _tensors(item)]
    return [output]


def _described(layer: Any) -> str:
    """"'dense' (Dense, activation='tanh', use_bias=True)": the settings a shape cannot show."""
    settings = {k: v for k, v in (layer.config or {}).items() if k in _DESCRIBED_KEYS}
    return f"'{layer.name}' ({layer.class_name}{', ' if settings else ''}" + \
        ", ".join(f"{k}={v!r}" for k, v in settings.items()) + ")"


def _report(arch: Architecture, source: Any, previous: Any, pair: Any, difference: float) -> str:
    where = (f"between Keras layer {_described(previous.layer)} and {_described(pair.layer)}" if previous
             else f"at or before Keras layer {_described(pair.layer)}")
    return (f"{source.description} records a model that computes something else than '{arch.name}': the two part "
            f"{where} (PyTorch module '{pair.target.path}' differs by {difference:.3g}); the weights fit, but the "
            "recorded layers use other settings (activation, padding, stride) than the zoo's architecture")
