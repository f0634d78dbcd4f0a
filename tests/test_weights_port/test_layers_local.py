"""tf.keras's LocallyConnected1D/2D (Keras 2 only) converted from .h5 files and proven against tf.keras.

Each implementation saves its kernel in its own layout (1: per-position window matrices,
2: a masked dense kernel, 3: the values of a sparse matrix); the converter rearranges all
three into the runtime ``LocallyConnected``'s one layout. Every model is randomised (biases
included), saved, converted, and compared with tf.keras in float32 and float64 by
``check_conversion`` at its fixed tolerances.
"""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np
import pytest
import tf_keras

import weights_port
from equivalence_tests import check_conversion, randomise_keras_weights

L = tf_keras.layers


def _checked(model, tmp_path: Path) -> None:
    randomise_keras_weights(model, np.random.default_rng(0))
    path = tmp_path / "model.h5"
    model.save(path)
    check = check_conversion(path, keras_model=model)
    assert check.passed, (check.results, check.reports)
    assert {r.dtype for r in check.results} == {"float32", "float64"}


def test_every_implementation_in_one_model(tmp_path: Path) -> None:
    """Modes 1, 2 and 3, 1-D and 2-D, 'same' and 'valid', strides, both data formats, with and without bias."""
    image, sequence = tf_keras.Input((7, 6, 3)), tf_keras.Input((9, 4))
    a = L.LocallyConnected2D(4, (3, 2), strides=(2, 1), implementation=1, activation="tanh")(image)
    b = L.LocallyConnected2D(3, 3, strides=2, padding="same", implementation=2, data_format="channels_first")(image)
    c = L.LocallyConnected2D(2, (2, 3), padding="same", implementation=3, use_bias=False, activation="relu")(a)
    d = L.LocallyConnected1D(5, 3, strides=2, padding="same", implementation=3, data_format="channels_first")(sequence)
    e = L.LocallyConnected1D(3, 2, implementation=1, data_format="channels_first", activation="sigmoid")(d)
    f = L.LocallyConnected1D(2, 4, strides=3, implementation=2, use_bias=False)(sequence)
    _checked(tf_keras.Model([image, sequence], [b, c, e, f]), tmp_path)


def test_generated_source_uses_the_runtime_module(tmp_path: Path) -> None:
    model = tf_keras.Sequential([tf_keras.Input((8, 8, 3)),
                                 L.LocallyConnected2D(4, 3, strides=2, padding="same", implementation=3)])
    model.save(tmp_path / "model.h5")
    source = weights_port.convert(tmp_path / "model.h5").source
    assert "class LocallyConnected(nn.Module)" in source
    assert "LocallyConnected(3,4,(3,3),(4,4),stride=(2,2),padding=((1,0),(1,0)))" in "".join(source.split())


_MODES = [(impl, padding) for impl in (1, 2, 3) for padding in ("valid", "same") if impl > 1 or padding == "valid"]


@pytest.mark.sweep
@pytest.mark.parametrize(("rank", "mode", "data_format", "strides", "use_bias"), list(itertools.product(
    (1, 2), _MODES, ("channels_last", "channels_first"), ((1, 1), (2, 3)), (True, False))))
def test_option_sweep(tmp_path: Path, rank: int, mode: tuple[int, str], data_format: str,
                      strides: tuple[int, int], use_bias: bool) -> None:
    implementation, padding = mode
    options = dict(padding=padding, data_format=data_format, implementation=implementation, use_bias=use_bias,
                   activation="tanh")
    if rank == 1:
        shape = (8, 3) if data_format == "channels_last" else (3, 8)
        layer = L.LocallyConnected1D(4, 3, strides=strides[1], **options)
    else:
        shape = (6, 7, 3) if data_format == "channels_last" else (3, 6, 7)
        layer = L.LocallyConnected2D(4, (3, 2), strides=strides, **options)
    _checked(tf_keras.Sequential([tf_keras.Input(shape), layer]), tmp_path)
