"""Preprocessing layers with a tensor inference (conversion._rules_preprocessing): CategoryEncoding, Discretization
and IntegerLookup against Keras reloading the file, on ids inside and outside their ranges; the string and hashing
layers refused with the reason."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

IDS = np.array([[12, 7, 3, 0], [5, 5, 9, 20], [0, 12, 12, 7]])


def _keras_and_torch(path: Path, inputs: list[np.ndarray], dtype: str = "float32") -> tuple[list, list]:
    import keras
    import torch

    from weights_port import convert

    expected = [np.asarray(y) for y in keras.models.load_model(path)(inputs)]
    with torch.no_grad():
        actual = convert(path, dtype=dtype).build()(*(torch.from_numpy(a) for a in inputs))
    return [a.numpy() for a in actual], expected


def test_encoding_discretization_and_integer_lookup(tmp_path: Path) -> None:
    import keras
    from keras import layers as L

    ids, values, single = keras.Input((4,), dtype="int64"), keras.Input((3,)), keras.Input((1,), dtype="int64")
    outputs = [
        L.CategoryEncoding(14, output_mode="multi_hot")(ids),
        L.CategoryEncoding(14, output_mode="count")(ids),
        L.CategoryEncoding(14, output_mode="one_hot")(single),
        L.Discretization(bin_boundaries=[-0.5, 0.0, 0.1, 0.7])(values),
        L.Discretization(bin_boundaries=[0.0, 0.3], output_mode="one_hot")(values),
        L.IntegerLookup(vocabulary=[12, 5, 7])(ids),
        L.IntegerLookup(vocabulary=[12, 5, 7], mask_token=0, output_mode="multi_hot")(ids),
        L.IntegerLookup(vocabulary=[12, 5, 7], mask_token=0)(ids),
        L.IntegerLookup(vocabulary=[12, 5, 7], num_oov_indices=3, output_mode="count")(ids),
        L.IntegerLookup(vocabulary=[12, 5, 7], invert=True)(ids),
    ]
    model = keras.Model([ids, values, single], outputs)
    model.save(tmp_path / "pre.keras")
    rng = np.random.default_rng(0)
    values_in = np.concatenate([rng.uniform(-1, 1, (3, 2)), np.array([[0.1], [0.3], [0.7]])], 1).astype("float32")
    inputs = [IDS, values_in, np.array([[3], [13], [20]])]
    for dtype in ("float32", "float64"):
        actual, expected = _keras_and_torch(tmp_path / "pre.keras", inputs, dtype)
        for i, (got, want) in enumerate(zip(actual, expected, strict=True)):
            assert got.shape == want.shape and np.array_equal(got, want), (dtype, i, got, want)


@pytest.mark.parametrize(("layer", "reason"), [("StringLookup", "strings"), ("Hashing", "FarmHash")])
def test_string_and_hashing_layers_are_refused_with_the_reason(layer: str, reason: str, tmp_path: Path) -> None:
    import keras

    from weights_port import UnsupportedLayerError, convert

    made = keras.layers.StringLookup(vocabulary=["a", "b"]) if layer == "StringLookup" else keras.layers.Hashing(8)
    tokens = keras.Input((2,), dtype="string" if layer == "StringLookup" else "int64")
    keras.Model(tokens, made(tokens)).save(tmp_path / "s.keras")
    with pytest.raises(UnsupportedLayerError, match=reason):
        convert(tmp_path / "s.keras")
