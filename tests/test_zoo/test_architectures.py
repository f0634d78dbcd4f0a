"""Each catalog architecture: independently written Keras files in every format port exactly."""

from __future__ import annotations

from typing import Any

import keras_reference as ref
import pytest
from porting import FORMATS, keras_module, port_and_compare

MAX_ABS = {"float32": 1e-5, "float64": 1e-10}

CASES: dict[str, tuple[dict[str, Any], Any]] = {
    "mlp": ({"in_features": 20, "hidden": (32, 16, 24), "num_classes": 7}, ref.mlp),
    "cifar_cnn": ({"input_size": 16, "in_channels": 3, "num_classes": 5}, ref.cifar_cnn),
    "siamese-nested": ({"input_size": 70, "in_channels": 2, "embedding_dim": 48},
                       lambda K, **c: ref.siamese(K, nested=True, **c)),
    "siamese-flat": ({"input_size": 66, "in_channels": 1, "embedding_dim": 40},
                     lambda K, **c: ref.siamese(K, nested=False, **c)),
}


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("fmt", list(FORMATS))
@pytest.mark.parametrize("case", list(CASES))
def test_independent_keras_file_ports_exactly(case: str, fmt: str, dtype: str, tmp_path) -> None:
    config, build = CASES[case]
    flavour, how = FORMATS[fmt]
    keras_model = build(keras_module(flavour), dtype=dtype, **config)
    max_abs, passed = port_and_compare(case.split("-")[0], keras_model, tmp_path, how, dtype, config)
    assert passed and max_abs <= MAX_ABS[dtype], f"{case} via {fmt} [{dtype}]: max abs {max_abs:.3e}"


@pytest.mark.parametrize("name", ["mlp", "siamese", "cifar_cnn"])
@pytest.mark.parametrize("fmt", ["keras3-.keras", "keras3-.weights.h5", "keras3-model.h5"])
def test_zoo_keras_builder_file_ports_exactly(name: str, fmt: str, tmp_path) -> None:
    import zoo

    config = {"siamese": {"input_size": 65, "embedding_dim": 16}}.get(name, {})
    keras_model = zoo.get(name, backend="keras", **config)
    max_abs, passed = port_and_compare(name, keras_model, tmp_path, FORMATS[fmt][1], "float32", config)
    assert passed and max_abs <= 1e-5


@pytest.mark.sweep  # the small siamese ports exactly in every format in the default run
def test_siamese_at_full_size_ports_the_flatten_dense(tmp_path) -> None:
    """At 105×105 the embedding Dense reads 6·6·256 = 9216 channels-last rows (38.9 M parameters)."""
    import zoo

    keras_model = zoo.get("siamese", backend="keras")
    assert keras_model.count_params() == pytest.approx(38.95e6, rel=1e-3)
    max_abs, passed = port_and_compare("siamese", keras_model, tmp_path, "model.keras", "float32", {}, batch=2)
    assert passed and max_abs <= 1e-5
