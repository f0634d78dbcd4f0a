"""Pairing errors, value checks and all-or-nothing loading (weights_port.porting, _files)."""

from __future__ import annotations

from pathlib import Path

import keras
import numpy as np
import pytest
import torch
from torch import nn

from weights_port import (
    KerasLayer,
    KerasSource,
    KerasWeight,
    LayoutMismatchError,
    PortError,
    WeightValueError,
    atomic_write,
    keras_to_state_dict,
    load_into_torch,
    open_keras,
)


def _source(*layers: tuple[str, str | None, list[np.ndarray]], ordered: bool = True) -> KerasSource:
    return KerasSource("test", [KerasLayer(n, c, None, tuple(KerasWeight(f"w{i}", a) for i, a in enumerate(arrays)))
                                for n, c, arrays in layers], ordered)


def _dense(n_in: int, n_out: int, value: float = 0.5) -> list[np.ndarray]:
    return [np.full((n_in, n_out), value, np.float32), np.zeros(n_out, np.float32)]


def test_extra_layers_in_the_file_are_named() -> None:
    source = _source(("d1", "Dense", _dense(4, 3)), ("d2", "Dense", _dense(3, 2)), ("extra", "Dense", _dense(2, 2)))
    with pytest.raises(LayoutMismatchError, match=r"1 layer\(s\) with weights that the model does not: 'extra'"):
        keras_to_state_dict(source, nn.Sequential(nn.Linear(4, 3), nn.Linear(3, 2)))


def test_missing_layers_are_named() -> None:
    with pytest.raises(LayoutMismatchError, match="no Dense / TimeDistributed layer left for PyTorch module '1' \\(Linear\\)"):
        keras_to_state_dict(_source(("d1", "Dense", _dense(4, 3))), nn.Sequential(nn.Linear(4, 3), nn.Linear(3, 2)))


def test_shape_mismatch_names_layer_parameter_and_both_shapes() -> None:
    with pytest.raises(LayoutMismatchError) as info:
        keras_to_state_dict(_source(("fc", "Dense", _dense(5, 3))), nn.Sequential(nn.Linear(4, 3)))
    message = str(info.value)
    assert "Keras layer 'fc' (Dense)" in message and "'0.weight'" in message
    assert "(3, 5)" in message and "(3, 4)" in message


def test_unordered_source_pairs_by_shape() -> None:
    """Keras 3 .weights.h5 only knows per-type order; shapes place a nested twin correctly."""
    source = _source(("head", "Dense", _dense(8, 1, 0.1)), ("twin/emb", "Dense", _dense(4, 8, 0.2)), ordered=False)
    state = keras_to_state_dict(source, nn.Sequential(nn.Linear(4, 8), nn.Linear(8, 1)))
    assert np.all(state["0.weight"] == np.float32(0.2)) and np.all(state["1.weight"] == np.float32(0.1))


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_non_finite_weights_name_the_layer(bad: float) -> None:
    arrays = _dense(4, 3)
    arrays[0][1, 2] = bad
    with pytest.raises(WeightValueError, match="Keras layer 'sick' .*1 non-finite"):
        keras_to_state_dict(_source(("sick", "Dense", arrays)), nn.Sequential(nn.Linear(4, 3)))


def test_integer_weights_are_refused() -> None:
    with pytest.raises(WeightValueError, match="dtype int64"):
        keras_to_state_dict(_source(("ints", "Dense", [np.ones((4, 3), np.int64)])),
                            nn.Sequential(nn.Linear(4, 3, bias=False)))


def test_half_precision_weights_port_to_the_model_dtype() -> None:
    arrays = [a.astype(np.float16) for a in _dense(4, 3, 0.25)]
    state = keras_to_state_dict(_source(("half", "Dense", arrays)), nn.Sequential(nn.Linear(4, 3)).double())
    assert state["0.weight"].dtype == np.float64 and np.all(state["0.weight"] == 0.25)


def test_failed_port_leaves_the_model_untouched() -> None:
    model = nn.Sequential(nn.Linear(4, 3), nn.Linear(3, 2))
    before = {k: v.clone() for k, v in model.state_dict().items()}
    good, bad = _dense(4, 3), _dense(3, 2)
    bad[0][0, 0] = np.nan  # the second layer fails after the first was converted
    with pytest.raises(WeightValueError):
        load_into_torch(_source(("a", "Dense", good), ("b", "Dense", bad)), model)
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())


def test_meta_device_model_gives_a_full_state_dict_without_parameter_memory() -> None:
    keras_model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3)])
    with torch.device("meta"):
        model = nn.Sequential(nn.Linear(4, 3))
    state = keras_to_state_dict(open_keras(keras_model), model)
    np.testing.assert_array_equal(state["0.weight"], keras_model.get_weights()[0].T)


def test_atomic_write_removes_the_partial_file_on_failure(tmp_path: Path) -> None:
    target = tmp_path / "out.bin"
    target.write_bytes(b"old")

    def half_write(temp: str) -> None:
        Path(temp).write_bytes(b"half")
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        atomic_write(target, half_write)
    assert target.read_bytes() == b"old" and [p.name for p in tmp_path.iterdir()] == ["out.bin"]


def test_atomic_write_refuses_the_input_as_output(tmp_path: Path) -> None:
    source = tmp_path / "model.h5"
    source.write_bytes(b"input")
    with pytest.raises(PortError, match="refusing to overwrite the input"):
        atomic_write(tmp_path / "." / "model.h5", lambda temp: None, protect=(source,))
    assert source.read_bytes() == b"input"
