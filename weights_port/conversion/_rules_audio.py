"""Keras 3's audio preprocessing layers: MelSpectrogram (``torch.stft`` and Keras's float32 mel filterbank) and
STFTSpectrogram (its DFT kernels, read from the file, as one strided convolution).

Each follows Keras 3.15's ``call`` on the TensorFlow backend: MelSpectrogram's
``backend.tensorflow.math.stft`` (reflect-padded centred frames, a periodic window centred in ``fft_length``),
``linear_to_mel_weight_matrix`` (float32 whatever the dtype, computed here as TensorFlow computes it) and
``_dbscale``; STFTSpectrogram's ``_apply_conv`` and ``_adjust_shapes`` for every ``mode``.
"""

from __future__ import annotations

import math

import numpy as np

from ._emitter import Emitter, refuse
from ._graph import Layer, Op
from ._ir import Expr, F, Name, Value, nn, torch
from ._settings import Settings
from ._table import ConvertRule
from ._tf_float32 import float32_linspace, float32_log

__all__ = ["AUDIO_RULES", "mel_filterbank"]

_KERAS_EPSILON = 1e-7
"""``keras.config.epsilon()``'s default, which STFTSpectrogram's magnitude and log read (a file does not record
it)."""


def _hertz_to_mel(hertz: np.ndarray) -> np.ndarray:
    """Keras's ``_hertz_to_mel`` in float32: 1127 · log(1 + f / 700)."""
    return np.float32(1127.0) * float32_log(np.float32(1.0) + np.asarray(hertz, np.float32) / np.float32(700.0))


def mel_filterbank(num_mel_bins: int, num_spectrogram_bins: int, sampling_rate: float, lower_hertz: float,
                   upper_hertz: float) -> np.ndarray:
    """Keras's ``linear_to_mel_weight_matrix`` (num_spectrogram_bins, num_mel_bins) as TensorFlow computes it in
    float32: triangles between mel-spaced edges, linear in mel, over the bins above DC."""
    nyquist = np.float32(sampling_rate) / np.float32(2.0)
    bins_mel = _hertz_to_mel(float32_linspace(0.0, float(nyquist), num_spectrogram_bins)[1:])[:, None]
    edges_mel = float32_linspace(float(_hertz_to_mel(np.array([lower_hertz]))[0]),
                                 float(_hertz_to_mel(np.array([upper_hertz]))[0]), num_mel_bins + 2)
    lower, center, upper = edges_mel[None, :-2], edges_mel[None, 1:-1], edges_mel[None, 2:]
    rising = (bins_mel - lower) / (center - lower)
    falling = (upper - bins_mel) / (upper - center)
    weights = np.maximum(np.float32(0.0), np.minimum(rising, falling)).astype(np.float32)
    return np.pad(weights, [(1, 0), (0, 0)])


def _window(name: str | None, length: int, fft_length: int) -> np.ndarray:
    """TensorFlow's periodic Hann or Hamming window of ``length``, centred in ``fft_length`` zeros (all ones
    without a window: each frame is then ``fft_length`` samples)."""
    if name is None:
        return np.ones(fft_length)
    n = np.arange(length)
    a = 0.5 if name == "hann" else 0.54
    window = a - (1 - a) * np.cos(2 * np.pi * n / length)
    left = (fft_length - length) // 2
    return np.pad(window, (left, fft_length - length - left))


def _mel_spectrogram(op: Op, inputs: list[Value], em: Emitter) -> list[Value]:
    """|STFT|^mag_exp of each signal, its mel bands (the filterbank as a constant), in decibels clipped
    ``top_db`` below the largest value of the whole batch (Keras's ``max`` without an axis): (batch, mels,
    frames)."""
    layer, s = op.layer, Settings(op.layer)
    fft_length = s.integer("fft_length", 2048, minimum=1)
    stride = s.integer("sequence_stride", 512, minimum=1)
    length = s.integer("sequence_length", fft_length, minimum=1, maximum=fft_length)
    window = s.raw("window", "hann")
    if window not in ("hann", "hamming", None):
        raise s.error("window", window, "'hann', 'hamming' or null")
    sampling_rate = s.number("sampling_rate", 16000, minimum=0.0, exclusive_minimum=True)
    mels = s.integer("num_mel_bins", 128, minimum=1)
    min_freq = s.number("min_freq", 20.0, minimum=0.0)
    max_freq = s.number("max_freq", float(int(sampling_rate / 2)), minimum=0.0)
    mag_exp = s.number("mag_exp", 2.0)
    x = em.to_layout(inputs[0], "keras")
    if x.rank != 2:
        raise refuse(layer, f"takes a tensor of rank {x.rank}", "a batch of signals (batch, samples)")
    if x.shape[1] is not None and x.shape[1] <= fft_length // 2:
        raise refuse(layer, f"reflect-pads {x.shape[1]} samples by {fft_length // 2}", "Keras cannot run it either")
    if x.integer:
        x = em.let(layer.name + "_float", x.ref.m("to", em.float_type), x, integer=False)
    bins = fft_length // 2 + 1
    filterbank = mel_filterbank(mels, bins, sampling_rate, min_freq, max_freq)
    if not np.all(np.isfinite(filterbank)):
        raise refuse(layer, f"has a mel filterbank that is not finite for min_freq={min_freq:g}, "
                     f"max_freq={max_freq:g}", "Keras's own has NaNs too; give distinct frequencies")
    frames = None if x.shape[1] is None else 1 + (x.shape[1] + 2 * (fft_length // 2) - fft_length) // stride
    window_buffer = em.constant(layer, _window(window, length, fft_length))
    spectrum = torch.stft(x.ref, fft_length, hop_length=stride, window=window_buffer.ref, center=True,
                          pad_mode="reflect", return_complex=True)
    power = em.let(layer.name + "_power", spectrum.m("abs").m("pow", mag_exp), x, shape=(x.shape[0], bins, frames))
    bands = em.constant(layer, filterbank.T.astype(np.float64))
    mel = em.let(layer.name + "_mel", torch.matmul(bands.ref, power.ref), power, shape=(x.shape[0], mels, frames))
    if not s.flag("power_to_db", True):
        return [mel]
    min_power = s.number("min_power", 1e-10, minimum=0.0, exclusive_minimum=True)
    top_db = s.number("top_db", 80.0)
    reference_db = 10.0 * math.log10(max(abs(s.number("ref_power", 1.0)), min_power))
    decibels: Expr = 10.0 * torch.log10(torch.clamp(mel.ref, min=min_power))
    if reference_db:
        decibels = decibels - reference_db
    db = em.let(layer.name + "_db", decibels, mel)
    return [em.let(layer.name, torch.maximum(db.ref, db.ref.m("amax") - top_db), db)]


def _stft_spectrogram(op: Op, inputs: list[Value], em: Emitter) -> list[Value]:
    """The file's real and imaginary DFT kernels (frame_length, 1, bins) as one ``nn.Conv1d`` over each channel
    of the signal, strided by frame_step ('same': TensorFlow's padding, the extra sample after); then the mode's
    function of (real, imag) per (batch, channel, bin, frame), laid out as ``_adjust_shapes`` lays it out."""
    layer, s = op.layer, Settings(op.layer)
    mode = s.choice("mode", ("log", "magnitude", "psd", "real", "imag", "angle", "stft"), "log")
    frame_length = s.integer("frame_length", 256, minimum=1)
    step = s.integer("frame_step", frame_length // 2, minimum=1, maximum=frame_length)
    padding = s.choice("padding", ("valid", "same"), "valid")
    channels_last = s.choice("data_format", ("channels_last", "channels_first"), "channels_last",
                             nullable=True) == "channels_last"
    expand = s.flag("expand_dims", False)
    x = inputs[0]
    if x.rank != 3:
        raise refuse(layer, f"takes a tensor of rank {x.rank}", "Keras's (batch, time, channels) signals")
    signal = em.to_layout(x, "cf" if channels_last else "keras")  # (batch, channels, time) either way
    channels, time = (x.shape[2], x.shape[1]) if channels_last else (x.shape[1], x.shape[2])
    kernels = list(em.arrays(layer))
    if len(kernels) != (1 if mode in ("real", "imag") else 2) or \
            any(k.ndim != 3 or k.shape[:2] != (frame_length, 1) or k.shape != kernels[0].shape for k in kernels):
        raise refuse(layer, f"holds arrays {[k.shape for k in kernels]} for mode {mode!r} and frame_length "
                     f"{frame_length}", "(frame_length, 1, bins) real and imaginary kernels")
    if channels is None:
        raise refuse(layer, f"takes signals of shape {x.shape}", "a known number of channels")
    bins = kernels[0].shape[2]
    weight = np.concatenate([k.transpose(2, 1, 0) for k in kernels])  # (kernels · bins, 1, frame_length)
    conv = em.module(layer, nn.Conv1d, 1, weight.shape[0], frame_length, stride=step, bias=False,
                     state={"weight": weight})
    samples: Expr = signal.ref.m("flatten", 0, 1).m("unsqueeze", 1)
    if padding == "same":
        samples = em.runtime("pad_same")(samples, (frame_length,), (step,), (1,))
        frames = None if time is None else -(-time // step)
    else:
        frames = None if time is None else (time - frame_length) // step + 1
        if frames is not None and frames < 1:
            raise refuse(layer, f"frames {time} samples by {frame_length} without padding", "Keras cannot run it")
    out = em.let(layer.name + "_dft", conv(samples).m("unflatten", 0, (-1, channels)), signal, layout="keras",
                 shape=(x.shape[0], channels, weight.shape[0], frames))
    if mode in ("real", "imag", "stft"):
        value = out
    else:
        real, imag = (Name(n) for n in em.unpack(out.ref.m("chunk", 2, dim=2),
                                                 [layer.name + "_real", layer.name + "_imag"]))
        halves = out.with_(shape=(x.shape[0], channels, bins, frames))
        if mode == "angle":
            value = em.let(layer.name + "_angle", torch.atan2(imag, real), halves)
        else:
            value = _power_mode(em, layer, mode, real, imag, halves)
    features = value.shape[2]
    shape: tuple[int | None, ...]
    if expand:  # (batch, channels, frames, bins): Keras's (batch, frames, bins, channels) held channels-first
        result = value.ref.m("transpose", 2, 3)
        shape = (x.shape[0], frames, features, channels) if channels_last else (x.shape[0], channels, frames, features)
    else:  # (batch, channels · bins, frames)
        result = value.ref.m("flatten", 1, 2)
        flat = None if features is None else channels * features
        shape = (x.shape[0], frames, flat) if channels_last else (x.shape[0], flat, frames)
    return [em.let(layer.name, result, value, layout="cf" if channels_last else "keras", shape=shape)]


def _power_mode(em: Emitter, layer: Layer, mode: str, real: Expr, imag: Expr, like: Value) -> Value:
    """psd (interior bins doubled), magnitude √max(power, ε) and its log, ε Keras's epsilon."""
    power = em.let(layer.name + "_power", real.m("square") + imag.m("square"), like)
    if mode == "psd":
        return em.let(layer.name + "_psd", power.ref + F.pad(power.ref[:, :, 1:-1], (0, 0, 1, 1)), power)
    magnitude = em.let(layer.name + "_magnitude", torch.sqrt(torch.clamp(power.ref, min=_KERAS_EPSILON)), power)
    if mode == "magnitude":
        return magnitude
    return em.let(layer.name + "_log", torch.log(torch.clamp(magnitude.ref, min=_KERAS_EPSILON)), magnitude)


AUDIO_RULES = [
    ConvertRule("MelSpectrogram", _mel_spectrogram, "keras"),
    ConvertRule("STFTSpectrogram", _stft_spectrogram, "any"),
]
