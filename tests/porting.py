"""Helpers for tests that save a Keras model, port the file and compare with Keras."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

import zoo
from equivalence_tests import compare_arrays, random_inputs, randomise_keras_weights, run_keras, run_torch
from zoo._api import architecture
from zoo._spec import resolve_config

# (Keras flavour, how the file is written): all four formats, from Keras 3 and Keras 2.
FORMATS = {
    "keras3-.keras": ("keras", "model.keras"),
    "keras3-.weights.h5": ("keras", "model.weights.h5"),
    "keras3-model.h5": ("keras", "model.h5"),
    "keras2-model.h5": ("tf_keras", "model.h5"),
    "keras2-save_weights.h5": ("tf_keras", "weights.h5"),
}


def keras_module(flavour: str) -> Any:
    if flavour == "tf_keras":
        import tf_keras

        return tf_keras
    import keras

    return keras


def save(model: Any, directory: Path, how: str) -> Path:
    path = directory / how
    if how in ("model.weights.h5", "weights.h5"):
        model.save_weights(str(path))
    else:
        model.save(str(path))
    return path


def port_and_compare(name: str, keras_model: Any, directory: Path, how: str, dtype: str,
                     config: dict[str, Any], seed: int = 0, batch: int = 3) -> tuple[float, bool]:
    """Randomise ``keras_model``, save it ``how``, port with zoo.get, compare; (max abs, passed)."""
    rng = np.random.default_rng(seed)
    randomise_keras_weights(keras_model, rng)
    path = save(keras_model, directory, how)
    torch_model = zoo.get(name, backend="torch", weights=path, dtype=dtype, **config)
    arch = architecture(name)
    resolved = resolve_config(arch, config)
    specs = arch.inputs(resolved)
    inputs = random_inputs(specs, batch, dtype, rng)
    expected = run_keras(keras_model, inputs)
    actual = run_torch(torch_model, inputs, specs)
    out_specs = arch.outputs(resolved)
    results = [compare_arrays(a, s.keras_to_torch(e), dtype) for a, e, s in zip(actual, expected, out_specs, strict=False)]
    assert len(actual) == len(expected)
    return max(r.max_abs for r in results), all(r.passed for r in results)

# Small configs of every built-in architecture, for tests that visit them all.
SMALL_CONFIGS: dict[str, dict[str, Any]] = {
    "mlp": {"in_features": 12, "hidden": (9, 7)},
    "siamese": {"input_size": 65, "in_channels": 2, "embedding_dim": 12},
    "cifar_cnn": {"input_size": 16},
    "text_classifier": {"vocab_size": 40, "embed_dim": 6, "maxlen": 9, "hidden": 4},
    "echo_sequence": {"timesteps": 6, "n_features": 5, "units": 4},
    "damped_sine": {"timesteps": 8, "units": 4},
    "moving_square": {"frames": 3, "size": 9, "filters": 2, "units": 3},
    "addition_seq2seq": {"encoder_units": 6, "decoder_units": 5},
    "cumsum_bidirectional": {"timesteps": 6, "units": 4},
    "shape_generation": {"units": 5},
    "resnet50": {"input_size": 32, "num_classes": 4},
    "mobilenet_v2": {"input_size": 32, "num_classes": 4, "alpha": 0.35},
}


def converted_exactly(model: Any, path: Path) -> Any:
    """Randomise ``model``'s weights, save it to ``path``, convert it and prove it in float32 and float64 against
    the live model (the reference Keras cannot always reload); returns the (structured) conversion."""
    import weights_port
    from equivalence_tests import check_conversion

    randomise_keras_weights(model, np.random.default_rng(0))
    model.save(path)
    check = check_conversion(path, keras_model=model)
    assert check.passed, (check.results, check.reports)
    assert {r.dtype for r in check.results} == {"float32", "float64"}
    return weights_port.convert(path)


def manifest_maps_every_key(conversion: Any, model: Any) -> None:
    """``manifest["state"]``: every state key names its Keras layer and the weight it holds (a layout change keeps
    the values: the same multiset), under the structured names (``stage1.1.conv1.weight``) as under the flat ones."""
    assert sorted(conversion.manifest["state"]) == sorted(conversion.state_dict)
    for key, origin in conversion.manifest["state"].items():
        assert origin["keras_weights"] is not None and len(origin["keras_weights"]) == 1, (key, origin)
        layer = model
        for name in origin["keras_layer"].split("/"):  # a nested model's layer: "backbone/conv"
            layer = layer.get_layer(name)
        expected = _keras_weight(layer, origin["keras_weights"][0])
        np.testing.assert_array_equal(np.sort(conversion.state_dict[key], axis=None), np.sort(expected, axis=None),
                                      err_msg=key)


def _keras_weight(layer: Any, path: str) -> np.ndarray:
    """The weight a file path inside a layer names: ``vars/1`` is the layer's second variable, ``query_dense/vars/0``
    the first of its sublayer held as ``_query_dense`` (as Keras 3's saving names its sublayers)."""
    *owners, _, index = path.split("/")
    owner = layer
    for part in owners:
        owner = getattr(owner, part, None) or getattr(owner, f"_{part}")
    return np.asarray(owner.get_weights()[int(index)])


def reloaded_exactly(model: Any, path: Path, dtypes: tuple[str, ...] = ("float32", "float64")) -> Any:
    """Randomise ``model``'s weights, save it to ``path``, convert it and prove it against Keras reloading the
    file, in ``dtypes`` (the dtypes Keras itself can run it in); returns the ``ConversionCheck``."""
    from equivalence_tests import check_conversion

    randomise_keras_weights(model, np.random.default_rng(0))
    model.save(path)
    check = check_conversion(path)
    assert check.passed, (check.results, check.reports)
    assert {r.dtype for r in check.results} == set(dtypes), check.notes
    return check
