"""Preprocessing layers with a tensor inference (conversion._rules_preprocessing, _rules_audio): CategoryEncoding,
Discretization and IntegerLookup against Keras reloading the file, on ids inside and outside their ranges;
MelSpectrogram and STFTSpectrogram (every mode) and the float32 arithmetic behind MelSpectrogram's filterbank; the
string and hashing layers refused with the reason."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from porting import reloaded_exactly

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


def test_mel_spectrogram(tmp_path: Path) -> None:
    """Decibels over the whole batch's maximum, Hann and Hamming windows shorter than the FFT. Keras 3.15 cannot
    run a float64 MelSpectrogram in decibels (its float32 reference meets the float64 spectrum): float32 only."""
    import keras
    from keras import layers as L

    signal = keras.Input((64,))
    outputs = [
        L.MelSpectrogram(fft_length=32, sequence_stride=8, sequence_length=16, num_mel_bins=8, sampling_rate=8000)(
            signal),
        L.MelSpectrogram(fft_length=32, sequence_stride=5, num_mel_bins=6, window="hamming", ref_power=2.0,
                         top_db=20.0, min_freq=100.0, max_freq=5000.0)(signal),
    ]
    check = reloaded_exactly(keras.Model(signal, outputs), tmp_path / "mel.keras", dtypes=("float32",))
    assert "Keras itself fails in float64" in check.notes[0]


def test_mel_spectrogram_power_in_float32_and_float64(tmp_path: Path) -> None:
    """Without decibels Keras runs in float64 too, with its float32 filterbank: the converted one holds the very
    float32 values TensorFlow computes (a correctly rounded one misses float64's tolerance)."""
    import keras
    from keras import layers as L

    signal = keras.Input((64,))
    outputs = [
        L.MelSpectrogram(fft_length=32, sequence_stride=8, sequence_length=20, num_mel_bins=8, sampling_rate=8000,
                         power_to_db=False)(signal),
        L.MelSpectrogram(fft_length=30, sequence_stride=7, num_mel_bins=5, window=None, mag_exp=1.0,
                         power_to_db=False)(signal),
    ]
    reloaded_exactly(keras.Model(signal, outputs), tmp_path / "mel_power.keras")


def test_stft_spectrogram_every_mode(tmp_path: Path) -> None:
    """The file's DFT kernels as one strided convolution; each mode; 'same' padding; expand_dims."""
    import keras
    from keras import layers as L

    signal = keras.Input((64, 2))
    modes = ("log", "magnitude", "psd", "real", "imag", "angle", "stft")
    outputs = [L.STFTSpectrogram(frame_length=16, frame_step=8, fft_length=16, mode=mode)(signal) for mode in modes]
    outputs += [
        L.STFTSpectrogram(frame_length=15, frame_step=6, padding="same", expand_dims=True)(signal),
        L.STFTSpectrogram(frame_length=12, frame_step=5, padding="same", mode="psd", window="hamming", periodic=True,
                          scaling="spectrum")(signal),
    ]
    reloaded_exactly(keras.Model(signal, outputs), tmp_path / "stft.keras")


def test_tensorflow_float32_log_and_mel_filterbank() -> None:
    """TensorFlow's float32 log (Eigen's packets, then the C library's logf for the rest) bit for bit, at sizes with
    and without a remainder, and Keras's own filterbank equal to the converter's."""
    import keras
    import tensorflow as tf

    from weights_port.conversion._rules_audio import mel_filterbank
    from weights_port.conversion._tf_float32 import float32_log

    rng = np.random.default_rng(0)
    for size in (1, 7, 8, 13, 1000, 20_003):
        values = rng.uniform(0.01, 30.0, size).astype(np.float32)
        assert np.array_equal(float32_log(values), tf.math.log(values).numpy()), size
    layer = keras.layers.MelSpectrogram()
    for mels, fft, rate, low, high in [(8, 32, 8000, 20.0, 4000.0), (128, 2048, 16000, 20.0, 8000.0),
                                       (40, 512, 22050, 0.0, 11025.0), (13, 70, 44100, 30.0, 20000.0)]:
        expected = np.asarray(layer.linear_to_mel_weight_matrix(mels, fft // 2 + 1, rate, low, high))
        assert np.array_equal(mel_filterbank(mels, fft // 2 + 1, rate, low, high), expected), (mels, fft)
