"""Write weights_port/conversion/keras_catalog.json: what Keras itself accepts in a layer config.

The converter refuses what Keras refuses. Which config keys a layer class takes and
which initializer, regularizer, constraint and activation names exist are facts of the
installed Keras 3 and tf_keras (Keras 2) packages; this script reads them off the
packages (signatures, ``get_config`` of a default instance, each module's ``get``) and
stores them as data, so the converter needs neither framework. Run it when a new Keras
is supported:

    .venv/bin/python scripts/keras_catalog.py
"""

from __future__ import annotations

import inspect
import json
import os
import re
import warnings
from pathlib import Path
from typing import Any

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
OUT = Path(__file__).resolve().parents[1] / "weights_port" / "conversion" / "keras_catalog.json"
BASE_KEYS = {
    "keras3": {"name", "dtype", "trainable", "autocast", "activity_regularizer", "input_dim", "input_shape"},
    "keras2": {"name", "dtype", "trainable", "autocast", "activity_regularizer", "input_dim", "input_shape",
               "batch_input_shape", "batch_size", "weights", "implementation", "dynamic"},
}


def _defaults(cls: type) -> dict[str, Any]:
    """Each constructor argument's default where it is a plain value (the class's own over its parents')."""
    found: dict[str, Any] = {}
    for klass in reversed(cls.__mro__):
        try:
            parameters = inspect.signature(klass.__init__).parameters.values()
        except (TypeError, ValueError):
            continue
        for p in parameters:
            if p.default is not p.empty and (p.default is None or isinstance(p.default, bool | int | float | str)):
                found[p.name] = p.default
            elif p.name in found and p.default is not p.empty:
                del found[p.name]
    return found


def _layer_keys(cls: type, base: set[str]) -> list[str] | None:
    """The constructor's parameters, the keyword arguments ``__init__`` pops (``kwargs.pop("rms_scaling", …)``)
    anywhere in the class's hierarchy, and the base layer's."""
    try:
        signature = inspect.signature(cls.__init__)
    except (TypeError, ValueError):
        return None
    keys = {p.name for p in signature.parameters.values() if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)}
    keys.discard("self")
    if any(p.kind == p.VAR_KEYWORD for p in signature.parameters.values()):
        own = set(keys)
        keys |= base
        for klass in cls.__mro__:  # what **kwargs reaches: the parents' parameters and popped keywords
            try:
                if klass is not cls:
                    keys |= {p.name for p in inspect.signature(klass.__init__).parameters.values()
                             if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)} - {"self"}
                source = inspect.getsource(klass.__init__)
            except (OSError, TypeError, ValueError):
                continue
            keys |= set(re.findall(r"kwargs\.(?:pop|get)\(\s*[\"'](\w+)[\"']", source))
        keys -= {"cell", "layer", "args"} - own  # arguments the subclass passes itself
    return sorted(keys)


def _names(module: Any, candidates: set[str]) -> dict[str, list[str]]:
    """Identifiers ``module.get`` accepts as a string, and class names it accepts in a dict."""
    strings, classes = [], []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for name in sorted(candidates):
            try:
                if module.get(name) is not None:
                    strings.append(name)
            except Exception:
                pass
            try:
                if inspect.isclass(getattr(module, name, None)) or module.get({"class_name": name, "config": {}}) \
                        is not None:  # a class whose config needs keys (Constant's value) is still a class
                    classes.append(name)
            except Exception:
                pass
    return {"strings": strings, "classes": classes}


_REQUIRED = {
    "units": 2, "filters": 2, "kernel_size": 1, "rate": 0.1, "stddev": 0.1, "input_dim": 2, "output_dim": 2,
    "target_shape": (1,), "dims": (1,), "n": 2, "activation": "relu", "num_heads": 2, "key_dim": 2, "height": 2,
    "width": 2, "scale": 1.0, "equation": "ab,bc->ac", "output_shape": 2, "factor": 0.1, "num_query_heads": 2,
    "num_key_value_heads": 1, "head_dim": 2, "theta": 1.0, "l1": 0.0, "mask_value": 0.0, "size": 2, "cropping": 1,
    "pool_size": 2, "num_tokens": 2, "function": "identity", "axis": -1, "groups": 1, "padding": 1, "noise_shape": None,
}


def _masking(keras: Any, cls: type) -> dict[str, bool] | None:
    """Whether an instance passes a mask on (``supports_masking``) and whether ``call`` takes one."""
    import inspect as _inspect

    try:
        takes = "mask" in _inspect.signature(cls.call).parameters
    except (TypeError, ValueError, AttributeError):
        return None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            parameters = _inspect.signature(cls.__init__).parameters.values()
            kwargs: dict[str, Any] = {}
            for p in parameters:
                if p.name in ("self",) or p.kind in (p.VAR_KEYWORD, p.VAR_POSITIONAL) or p.default is not p.empty:
                    continue
                if p.name == "layer":
                    kwargs[p.name] = keras.layers.Dense(2)
                elif p.name == "cell":
                    kwargs[p.name] = keras.layers.SimpleRNNCell(2)
                elif p.name in _REQUIRED:
                    kwargs[p.name] = _REQUIRED[p.name]
                else:
                    return {"call_takes_mask": takes}
            instance = cls(**kwargs)
        except Exception:
            return {"call_takes_mask": takes}
        try:
            written = sorted(instance.get_config())  # keys from_config consumes itself (tf.keras's key_shape)
        except Exception:
            written = []
    return {"call_takes_mask": takes, "supports_masking": bool(getattr(instance, "supports_masking", False)),
            "written": written}


def _catalog(keras: Any, flavour: str) -> dict[str, Any]:
    layers: dict[str, list[str]] = {}
    defaults: dict[str, dict[str, Any]] = {}
    masking: dict[str, dict[str, bool]] = {}
    for name in dir(keras.layers):
        cls = getattr(keras.layers, name)
        if inspect.isclass(cls) and issubclass(cls, keras.layers.Layer):
            keys = _layer_keys(cls, BASE_KEYS[flavour])
            if keys is not None:
                layers[name] = keys
                defaults[name] = {k: v for k, v in _defaults(cls).items() if k in keys}
                found = _masking(keras, cls)
                if found is not None:
                    layers[name] = sorted(set(keys) | set(found.pop("written", [])))
                    masking[name] = found
    catalog: dict[str, Any] = {"layers": layers, "defaults": defaults, "masking": masking}
    for part in ("initializers", "regularizers", "constraints", "activations"):
        module = getattr(keras, part)
        candidates = {n for n in dir(module) if not n.startswith("_")}
        candidates |= {c.lower() for c in candidates} | {"l1_l2", "linear", "hard_silu", "hard_swish", "leaky_relu",
                                                         "glorot_uniform", "he_normal", "zeros", "ones", "orthogonal"}
        catalog[part] = _names(module, candidates)
    return catalog


def main() -> None:
    import keras
    import tf_keras

    catalog = {"keras3": _catalog(keras, "keras3"), "keras2": _catalog(tf_keras, "keras2"),
               "versions": {"keras": keras.__version__, "tf_keras": tf_keras.__version__}}
    OUT.write_text(json.dumps(catalog, indent=1, sort_keys=True) + "\n")
    print(f"wrote {OUT}: {len(catalog['keras3']['layers'])} Keras 3 and {len(catalog['keras2']['layers'])} tf_keras "
          "layer classes")


if __name__ == "__main__":
    main()
