"""Measure how much of Keras 3's own layer catalog ``zoo convert`` handles; write docs/coverage.md.

The converter's tests prove the layers someone thought of. This script asks the other
question: of every public layer class in the installed ``keras.layers``, which does the
converter reproduce exactly, which does it refuse with a clear ``PortError``, and which
does it get wrong or crash on? Each class gets one small functional model (the table
``CASES``: class → the graph of the row, its input shapes), plus rows for options that
change the computation (channels-first convolutions, masks, causal attention, ...). Each
model's weights are randomised (``equivalence_tests.randomise_keras_weights``), it is
saved to a ``.keras`` file and ``equivalence_tests.check_conversion`` compares the
converted module with Keras reloading that file, in float32 and float64.

A row is ``exact`` (agrees in both dtypes), ``refused`` (``weights_port`` raised a
``PortError``), ``WRONG`` (converted and disagrees), ``n/a`` (Keras itself cannot build,
save or run the case here) or ``crash`` (any other exception: a bug). TensorFlow's CPU
kernels cannot run channels-first Conv1D, Conv2D and Conv2DTranspose; those rows are checked
against Keras on its torch backend, float32 only, as tests/test_weights_port/test_channels_first.py
does. Every case runs in a worker process the parent kills after a timeout, so one hang
or crash of a native library costs one row, not the run. Rerun it when Keras or the
converter changes:

    .venv/bin/python scripts/layer_coverage.py            # all rows, writes docs/coverage.md
    .venv/bin/python scripts/layer_coverage.py LSTM Dense  # only these classes' rows, prints them
"""

from __future__ import annotations

import argparse
import atexit
import contextlib
import json
import os
import queue
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import traceback
import warnings
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, NamedTuple

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "docs" / "coverage.md"
COMMAND = ".venv/bin/python scripts/layer_coverage.py"
TIMEOUT = 300.0
"""Seconds one row may take (building, saving, converting twice, checking) before its worker is killed."""
RESULT_MARK = "@@layer-coverage "

EXCLUDED = {
    "Layer": "the abstract base class: its `call` is whatever a subclass defines",
    "InputLayer": "made by `keras.Input` in every row; a placeholder, not a computation",
    "Wrapper": "abstract base of Bidirectional and TimeDistributed (`call` not implemented)",
}
"""Public ``keras.layers`` classes no row is built for, and why."""

RESULTS = ("exact", "refused", "WRONG", "crash", "n/a")
LABELS = {"exact": "exact", "refused": "refused", "WRONG": "wrong", "n/a": "not applicable", "crash": "crash"}


# ---------------------------------------------------------------------------------------------------------------------
# The table: one row per class (option "") and rows for options that change the computation.


class Spec(NamedTuple):
    """One model input: its shape without the batch axis and its dtype."""

    shape: tuple[int, ...]
    dtype: str = "float32"


Graph = Callable[[Any, Any], Any]
"""``(keras.layers, input tensor or list of them) → output tensor(s)``."""


@dataclass(frozen=True)
class Case:
    cls: str
    option: str
    graph: Graph
    inputs: tuple[Spec, ...]
    backend: str = "tensorflow"

    @property
    def key(self) -> str:
        return f"{self.cls}[{self.option}]" if self.option else self.cls


VEC, SEQ, IMG, VOL = Spec((5,)), Spec((6, 4)), Spec((8, 8, 3)), Spec((6, 6, 6, 2))
IMG_CF, SEQ_CF = Spec((3, 8, 8)), Spec((4, 6))  # channels-first image (C, H, W) and signal (C, T)
RGB = Spec((8, 8, 3))  # an image for the image-preprocessing layers (values in [-1, 1], value_range given)
TOKENS = Spec((6,), "int32")


def ints(*shape: int) -> Spec:
    return Spec(tuple(shape), "int32")


def strings(*shape: int) -> Spec:
    return Spec(tuple(shape), "string")


def C(cls: str, layer: Callable[[Any], Any], *inputs: Spec, option: str = "", backend: str = "tensorflow") -> Case:
    """A row whose model is one layer, ``layer(keras.layers)``, applied to the input (or the list of inputs)."""
    return Case(cls, option, lambda L, x: layer(L)(x), inputs, backend)


def G(cls: str, graph: Graph, *inputs: Spec, option: str = "", backend: str = "tensorflow") -> Case:
    """A row with a graph of its own (a mask from an Embedding, call arguments, several layers)."""
    return Case(cls, option, graph, inputs, backend)


def _masked(L: Any, x: Any, layer: Any) -> Any:
    """``layer`` on an Embedding with ``mask_zero``: token 0 (drawn often: ids are in [0, 10)) is masked."""
    return layer(L.Embedding(10, 4, mask_zero=True)(x))


def _torch_module_wrapper(L: Any) -> Any:
    import torch

    torch.manual_seed(0)
    return L.TorchModuleWrapper(torch.nn.Linear(5, 3), output_shape=(3,))


def _tfsm_layer(L: Any) -> Any:
    import keras

    folder = Path(tempfile.mkdtemp(prefix="tfsm-"))
    atexit.register(shutil.rmtree, folder, True)
    inner = keras.Sequential([keras.Input((5,)), L.Dense(3)])
    inner.export(str(folder / "saved"), verbose=False)
    return L.TFSMLayer(str(folder / "saved"), call_endpoint="serve")


def _spectral_normalization(L: Any, x: Any) -> Any:
    return L.SpectralNormalization(L.Dense(3))(x)


cf = "channels_first"
CASES: list[Case] = [
    # core
    C("Dense", lambda L: L.Dense(3), VEC),
    C("Dense", lambda L: L.Dense(3, activation="gelu"), SEQ, option="3-D input, gelu"),
    C("EinsumDense", lambda L: L.EinsumDense("ab,bc->ac", output_shape=3, bias_axes="c"), VEC),
    C("EinsumDense", lambda L: L.EinsumDense("btd,dnh->btnh", output_shape=(None, 2, 3), bias_axes="nh"), SEQ,
      option="btd,dnh->btnh"),
    C("Embedding", lambda L: L.Embedding(10, 4), TOKENS),
    C("ReversibleEmbedding", lambda L: L.ReversibleEmbedding(10, 4), TOKENS),
    C("Identity", lambda L: L.Identity(), VEC),
    C("Lambda", lambda L: L.Lambda(lambda t: t * 2.0), VEC),
    C("Masking", lambda L: L.Masking(0.0), SEQ),
    C("Activation", lambda L: L.Activation("tanh"), VEC),
    C("Activation", lambda L: L.Activation("gelu"), VEC, option="gelu"),
    C("Activation", lambda L: L.Activation("hard_silu"), VEC, option="hard_silu"),
    C("Activation", lambda L: L.Activation("softmax"), SEQ, option="softmax"),
    C("ELU", lambda L: L.ELU(alpha=0.5), VEC),
    C("LeakyReLU", lambda L: L.LeakyReLU(negative_slope=0.2), VEC),
    C("PReLU", lambda L: L.PReLU(), VEC),
    C("PReLU", lambda L: L.PReLU(shared_axes=[1, 2]), IMG, option="shared_axes=[1, 2]"),
    C("ReLU", lambda L: L.ReLU(), VEC),
    C("ReLU", lambda L: L.ReLU(max_value=0.5, negative_slope=0.1, threshold=0.2), VEC,
      option="max_value, negative_slope, threshold"),
    C("Softmax", lambda L: L.Softmax(), SEQ),
    C("Softmax", lambda L: L.Softmax(axis=1), SEQ, option="axis=1"),
    # convolution
    C("Conv1D", lambda L: L.Conv1D(3, 3), SEQ),
    C("Conv1D", lambda L: L.Conv1D(3, 3, padding="causal", dilation_rate=2), SEQ, option="causal, dilation 2"),
    C("Conv1D", lambda L: L.Conv1D(3, 3, padding="same", data_format=cf), SEQ_CF, option="channels_first",
      backend="torch"),
    C("Conv1DTranspose", lambda L: L.Conv1DTranspose(3, 3, strides=2), SEQ),
    C("Conv2D", lambda L: L.Conv2D(4, 3), IMG),
    C("Conv2D", lambda L: L.Conv2D(4, 3, strides=2, padding="same"), IMG, option="strides 2, same"),
    C("Conv2D", lambda L: L.Conv2D(6, 3, groups=3), IMG, option="groups=3"),
    C("Conv2D", lambda L: L.Conv2D(4, 3, dilation_rate=2), IMG, option="dilation 2"),
    C("Conv2D", lambda L: L.Conv2D(4, 3, strides=2, padding="same", data_format=cf), IMG_CF, option="channels_first",
      backend="torch"),
    C("Conv2DTranspose", lambda L: L.Conv2DTranspose(4, 3, strides=2, padding="same"), IMG),
    C("Conv2DTranspose", lambda L: L.Conv2DTranspose(4, 3, strides=2, data_format=cf), IMG_CF,
      option="channels_first", backend="torch"),
    C("Conv3D", lambda L: L.Conv3D(3, 2), VOL),
    C("Conv3DTranspose", lambda L: L.Conv3DTranspose(3, 2, strides=2), VOL),
    C("DepthwiseConv1D", lambda L: L.DepthwiseConv1D(3, depth_multiplier=2), SEQ),
    C("DepthwiseConv2D", lambda L: L.DepthwiseConv2D(3), IMG),
    C("DepthwiseConv2D", lambda L: L.DepthwiseConv2D(3, data_format=cf), IMG_CF, option="channels_first"),
    C("SeparableConv1D", lambda L: L.SeparableConv1D(4, 3), SEQ),
    C("SeparableConv2D", lambda L: L.SeparableConv2D(4, 3), IMG),
    C("SeparableConv2D", lambda L: L.SeparableConv2D(4, 3, data_format=cf), IMG_CF, option="channels_first"),
    # pooling
    C("AveragePooling1D", lambda L: L.AveragePooling1D(2), SEQ),
    C("AveragePooling2D", lambda L: L.AveragePooling2D(2), IMG),
    C("AveragePooling2D", lambda L: L.AveragePooling2D(3, strides=2, padding="same"), IMG,
      option="3x3, strides 2, same"),
    C("AveragePooling2D", lambda L: L.AveragePooling2D(2, data_format=cf), IMG_CF, option="channels_first"),
    C("AveragePooling3D", lambda L: L.AveragePooling3D(2), VOL),
    C("MaxPooling1D", lambda L: L.MaxPooling1D(2), SEQ),
    C("MaxPooling2D", lambda L: L.MaxPooling2D(2), IMG),
    C("MaxPooling2D", lambda L: L.MaxPooling2D(3, strides=2, padding="same"), IMG, option="3x3, strides 2, same"),
    C("MaxPooling2D", lambda L: L.MaxPooling2D(2, padding="same", data_format=cf), IMG_CF, option="channels_first"),
    C("MaxPooling3D", lambda L: L.MaxPooling3D(2), VOL),
    C("GlobalAveragePooling1D", lambda L: L.GlobalAveragePooling1D(), SEQ),
    G("GlobalAveragePooling1D", lambda L, x: _masked(L, x, L.GlobalAveragePooling1D()), TOKENS, option="with mask"),
    C("GlobalAveragePooling2D", lambda L: L.GlobalAveragePooling2D(), IMG),
    C("GlobalAveragePooling2D", lambda L: L.GlobalAveragePooling2D(keepdims=True, data_format=cf), IMG_CF,
      option="channels_first, keepdims"),
    C("GlobalAveragePooling3D", lambda L: L.GlobalAveragePooling3D(), VOL),
    C("GlobalMaxPooling1D", lambda L: L.GlobalMaxPooling1D(), SEQ),
    C("GlobalMaxPooling2D", lambda L: L.GlobalMaxPooling2D(), IMG),
    C("GlobalMaxPooling2D", lambda L: L.GlobalMaxPooling2D(keepdims=True), IMG, option="keepdims"),
    C("GlobalMaxPooling3D", lambda L: L.GlobalMaxPooling3D(), VOL),
    C("AdaptiveAveragePooling1D", lambda L: L.AdaptiveAveragePooling1D(4), SEQ),
    C("AdaptiveAveragePooling2D", lambda L: L.AdaptiveAveragePooling2D((3, 3)), IMG),
    C("AdaptiveAveragePooling3D", lambda L: L.AdaptiveAveragePooling3D((4, 4, 4)), VOL),
    C("AdaptiveMaxPooling1D", lambda L: L.AdaptiveMaxPooling1D(4), SEQ),
    C("AdaptiveMaxPooling2D", lambda L: L.AdaptiveMaxPooling2D((3, 3)), IMG),
    C("AdaptiveMaxPooling3D", lambda L: L.AdaptiveMaxPooling3D((4, 4, 4)), VOL),
    # normalisation
    C("BatchNormalization", lambda L: L.BatchNormalization(), IMG),
    C("BatchNormalization", lambda L: L.BatchNormalization(axis=1), IMG_CF, option="axis=1"),
    C("LayerNormalization", lambda L: L.LayerNormalization(), SEQ),
    C("LayerNormalization", lambda L: L.LayerNormalization(rms_scaling=True), SEQ, option="rms_scaling"),
    C("LayerNormalization", lambda L: L.LayerNormalization(axis=[1, 2]), SEQ, option="axis=[1, 2]"),
    C("LayerNormalization", lambda L: L.LayerNormalization(center=False), SEQ, option="center=False"),
    C("GroupNormalization", lambda L: L.GroupNormalization(groups=2), Spec((8, 8, 4))),
    C("RMSNormalization", lambda L: L.RMSNormalization(), SEQ),
    C("UnitNormalization", lambda L: L.UnitNormalization(), VEC),
    G("SpectralNormalization", _spectral_normalization, VEC),
    C("Normalization", lambda L: L.Normalization(), VEC),
    C("Normalization", lambda L: L.Normalization(invert=True), VEC, option="invert"),
    C("Normalization", lambda L: L.Normalization(axis=(1, 2)), SEQ, option="axis=(1, 2)"),
    # regularisation (identity at inference)
    C("Dropout", lambda L: L.Dropout(0.5), VEC),
    C("AlphaDropout", lambda L: L.AlphaDropout(0.2), VEC),
    C("GaussianDropout", lambda L: L.GaussianDropout(0.3), VEC),
    C("GaussianNoise", lambda L: L.GaussianNoise(0.1), VEC),
    C("SpatialDropout1D", lambda L: L.SpatialDropout1D(0.5), SEQ),
    C("SpatialDropout2D", lambda L: L.SpatialDropout2D(0.5), IMG),
    C("SpatialDropout3D", lambda L: L.SpatialDropout3D(0.5), VOL),
    C("ActivityRegularization", lambda L: L.ActivityRegularization(l1=0.01), VEC),
    # merging
    C("Add", lambda L: L.Add(), VEC, VEC),
    C("Subtract", lambda L: L.Subtract(), VEC, VEC),
    C("Multiply", lambda L: L.Multiply(), VEC, VEC),
    C("Average", lambda L: L.Average(), VEC, VEC),
    C("Maximum", lambda L: L.Maximum(), VEC, VEC),
    C("Minimum", lambda L: L.Minimum(), VEC, VEC),
    C("Concatenate", lambda L: L.Concatenate(), VEC, Spec((3,))),
    C("Concatenate", lambda L: L.Concatenate(axis=1), SEQ, Spec((2, 4)), option="axis=1"),
    C("Dot", lambda L: L.Dot(axes=1), VEC, VEC),
    C("Dot", lambda L: L.Dot(axes=(2, 2), normalize=True), SEQ, Spec((3, 4)), option="axes=(2, 2), normalize"),
    # reshaping
    C("Flatten", lambda L: L.Flatten(), Spec((4, 3, 2))),
    C("Flatten", lambda L: L.Flatten(data_format=cf), Spec((4, 3, 2)), option="channels_first"),
    C("Permute", lambda L: L.Permute((2, 1)), SEQ),
    C("RepeatVector", lambda L: L.RepeatVector(3), VEC),
    C("Reshape", lambda L: L.Reshape((3, 4)), Spec((12,))),
    C("Reshape", lambda L: L.Reshape((-1, 2)), SEQ, option="-1"),
    C("Cropping1D", lambda L: L.Cropping1D((1, 2)), SEQ),
    C("Cropping2D", lambda L: L.Cropping2D(((1, 0), (0, 2))), IMG),
    C("Cropping2D", lambda L: L.Cropping2D(((1, 0), (0, 2)), data_format=cf), IMG_CF, option="channels_first"),
    C("Cropping3D", lambda L: L.Cropping3D(((1, 0), (0, 2), (1, 1))), VOL),
    C("ZeroPadding1D", lambda L: L.ZeroPadding1D((1, 2)), SEQ),
    C("ZeroPadding2D", lambda L: L.ZeroPadding2D(((1, 0), (0, 2))), IMG),
    C("ZeroPadding2D", lambda L: L.ZeroPadding2D(((1, 0), (0, 2)), data_format=cf), IMG_CF, option="channels_first"),
    C("ZeroPadding3D", lambda L: L.ZeroPadding3D(((1, 0), (0, 2), (1, 1))), VOL),
    C("UpSampling1D", lambda L: L.UpSampling1D(2), SEQ),
    C("UpSampling2D", lambda L: L.UpSampling2D(2), IMG),
    C("UpSampling2D", lambda L: L.UpSampling2D(2, interpolation="bilinear"), IMG, option="bilinear"),
    C("UpSampling2D", lambda L: L.UpSampling2D(2, interpolation="lanczos3"), IMG, option="lanczos3"),
    C("UpSampling2D", lambda L: L.UpSampling2D(2, data_format=cf), IMG_CF, option="channels_first"),
    C("UpSampling3D", lambda L: L.UpSampling3D(2), VOL),
    # recurrent
    C("SimpleRNN", lambda L: L.SimpleRNN(3), SEQ),
    C("GRU", lambda L: L.GRU(3), SEQ),
    C("GRU", lambda L: L.GRU(3, reset_after=False, return_sequences=True), SEQ, option="reset_after=False, sequences"),
    G("GRU", lambda L, x: _masked(L, x, L.GRU(3, go_backwards=True)), TOKENS, option="with mask, go_backwards"),
    C("LSTM", lambda L: L.LSTM(3), SEQ),
    G("LSTM", lambda L, x: _masked(L, x, L.LSTM(3, return_sequences=True)), TOKENS, option="with mask"),
    G("LSTM", lambda L, x: L.LSTM(3, return_state=True)(x), SEQ, option="return_state"),
    C("ConvLSTM1D", lambda L: L.ConvLSTM1D(3, 3), Spec((3, 6, 2))),
    C("ConvLSTM2D", lambda L: L.ConvLSTM2D(3, 3), Spec((3, 6, 6, 2))),
    C("ConvLSTM2D", lambda L: L.ConvLSTM2D(3, 3, padding="same", strides=1, return_sequences=True), Spec((3, 6, 6, 2)),
      option="same, return_sequences"),
    C("ConvLSTM3D", lambda L: L.ConvLSTM3D(2, 2), Spec((3, 4, 4, 4, 2))),
    C("RNN", lambda L: L.RNN(L.SimpleRNNCell(3)), SEQ),
    C("SimpleRNNCell", lambda L: L.RNN(L.SimpleRNNCell(3), return_sequences=True), SEQ),
    C("GRUCell", lambda L: L.RNN(L.GRUCell(3)), SEQ),
    C("LSTMCell", lambda L: L.RNN(L.LSTMCell(3)), SEQ),
    C("StackedRNNCells", lambda L: L.RNN(L.StackedRNNCells([L.LSTMCell(3), L.GRUCell(2)])), SEQ),
    C("Bidirectional", lambda L: L.Bidirectional(L.LSTM(3)), SEQ),
    C("Bidirectional", lambda L: L.Bidirectional(L.GRU(3, return_sequences=True), merge_mode="sum"), SEQ,
      option="GRU sequences, merge_mode=sum"),
    G("Bidirectional", lambda L, x: _masked(L, x, L.Bidirectional(L.LSTM(3))), TOKENS, option="with mask"),
    C("TimeDistributed", lambda L: L.TimeDistributed(L.Dense(3)), SEQ),
    C("TimeDistributed", lambda L: L.TimeDistributed(L.Conv2D(2, 3)), Spec((3, 6, 6, 2)), option="Conv2D"),
    # attention
    C("Attention", lambda L: L.Attention(), Spec((4, 6)), Spec((5, 6))),
    C("Attention", lambda L: L.Attention(score_mode="concat", use_scale=True), Spec((4, 6)), Spec((5, 6)),
      option="score_mode=concat, use_scale"),
    G("Attention", lambda L, x: L.Attention()([x[0], x[1]], use_causal_mask=True), SEQ, SEQ, option="causal mask"),
    C("AdditiveAttention", lambda L: L.AdditiveAttention(), Spec((4, 6)), Spec((5, 6))),
    G("MultiHeadAttention", lambda L, x: L.MultiHeadAttention(2, 4)(x[0], x[1]), Spec((4, 8)), Spec((5, 8))),
    G("MultiHeadAttention", lambda L, x: L.MultiHeadAttention(2, 4)(x, x, use_causal_mask=True), Spec((5, 8)),
      option="causal mask"),
    G("MultiHeadAttention", lambda L, x: L.MultiHeadAttention(2, 4, value_dim=3)(x[0], x[1], x[2]), Spec((4, 8)),
      Spec((5, 8)), Spec((5, 6)), option="separate key, value_dim"),
    G("MultiHeadAttention", lambda L, x: _masked(L, x, lambda t: L.MultiHeadAttention(2, 4)(t, t)), TOKENS,
      option="padding mask from Embedding"),
    G("MultiHeadAttention", lambda L, x: L.MultiHeadAttention(2, 4)(x, x, return_attention_scores=True),
      Spec((5, 8)), option="return_attention_scores"),
    G("GroupedQueryAttention", lambda L, x: L.GroupQueryAttention(4, 4, 2)(x[0], x[1]), Spec((4, 8)), Spec((5, 8))),
    G("GroupedQueryAttention", lambda L, x: L.GroupQueryAttention(4, 4, 2)(x, x, use_causal_mask=True), Spec((5, 8)),
      option="causal mask"),
    G("GroupedQueryAttention", lambda L, x: L.GroupQueryAttention(4, 4, 2, sliding_window=2)(x, x, use_causal_mask=True),
      Spec((5, 8)), option="causal mask, sliding_window=2"),
    # preprocessing: numbers and tokens
    C("Rescaling", lambda L: L.Rescaling(1 / 127.5, offset=-1.0), IMG),
    C("Discretization", lambda L: L.Discretization(bin_boundaries=[-0.5, 0.0, 0.5]), VEC),
    C("Discretization", lambda L: L.Discretization(bin_boundaries=[-0.5, 0.0, 0.5], output_mode="one_hot"), Spec((1,)),
      option="one_hot"),
    C("CategoryEncoding", lambda L: L.CategoryEncoding(num_tokens=10, output_mode="multi_hot"), ints(3)),
    C("CategoryEncoding", lambda L: L.CategoryEncoding(num_tokens=10, output_mode="count"), ints(3), option="count"),
    C("CategoryEncoding", lambda L: L.CategoryEncoding(num_tokens=10, output_mode="one_hot"), ints(1),
      option="one_hot"),
    C("Hashing", lambda L: L.Hashing(num_bins=5), ints(3)),
    C("HashedCrossing", lambda L: L.HashedCrossing(num_bins=5), ints(1), ints(1)),
    C("IntegerLookup", lambda L: L.IntegerLookup(vocabulary=[1, 2, 3, 4]), ints(3)),
    C("IntegerLookup", lambda L: L.IntegerLookup(vocabulary=[1, 2, 3, 4], output_mode="multi_hot"), ints(3),
      option="multi_hot"),
    C("IntegerLookup", lambda L: L.IntegerLookup(vocabulary=[1, 2, 3, 4], num_oov_indices=2), ints(3),
      option="num_oov_indices=2"),
    C("IntegerLookup", lambda L: L.IntegerLookup(vocabulary=list(range(10, 19)), invert=True), ints(3),
      option="invert"),
    C("StringLookup", lambda L: L.StringLookup(vocabulary=["a", "b", "c"]), strings(3)),
    C("TextVectorization", lambda L: L.TextVectorization(vocabulary=["a", "b", "c"], output_sequence_length=4),
      strings(1)),
    # preprocessing: audio
    C("MelSpectrogram", lambda L: L.MelSpectrogram(fft_length=32, sequence_stride=8, sequence_length=16,
                                                   num_mel_bins=8, sampling_rate=8000), Spec((64,))),
    C("MelSpectrogram", lambda L: L.MelSpectrogram(fft_length=32, sequence_stride=8, num_mel_bins=8, sampling_rate=8000,
                                                   window="hamming", power_to_db=False), Spec((64,)),
      option="power_to_db=False, hamming"),
    C("STFTSpectrogram", lambda L: L.STFTSpectrogram(frame_length=16, frame_step=8, fft_length=16), Spec((64, 1))),
    C("STFTSpectrogram", lambda L: L.STFTSpectrogram(frame_length=12, frame_step=5, padding="same", mode="psd"),
      Spec((64, 2)), option="psd, same, 2 channels"),
    C("STFTSpectrogram", lambda L: L.STFTSpectrogram(frame_length=16, frame_step=8, data_format=cf, expand_dims=True),
      Spec((2, 64)), option="channels_first, expand_dims", backend="torch"),
    # preprocessing: images, deterministic
    C("Resizing", lambda L: L.Resizing(4, 6), IMG),
    C("Resizing", lambda L: L.Resizing(5, 6, interpolation="nearest"), IMG, option="nearest"),
    C("Resizing", lambda L: L.Resizing(4, 6, crop_to_aspect_ratio=True), IMG, option="crop_to_aspect_ratio"),
    C("Resizing", lambda L: L.Resizing(12, 10, interpolation="bicubic"), IMG, option="bicubic"),
    C("Resizing", lambda L: L.Resizing(5, 11, interpolation="lanczos3"), IMG, option="lanczos3"),
    C("Resizing", lambda L: L.Resizing(5, 6, interpolation="lanczos5", antialias=True), IMG,
      option="lanczos5, antialias"),
    C("CenterCrop", lambda L: L.CenterCrop(4, 5), IMG),
    C("AutoContrast", lambda L: L.AutoContrast(value_range=(-1, 1)), RGB),
    # alone, Equalization's output spec is its input tensor (a cycle Keras refuses); a Pipeline builds it
    C("Equalization", lambda L: L.Pipeline([L.Equalization(value_range=(-1, 1))]), RGB),
    C("ContrastLimitedAdaptiveHistogramEqualization",
      lambda L: L.ContrastLimitedAdaptiveHistogramEqualization(value_range=(-1, 1), tile_grid_size=(2, 2)), RGB),
    C("ContrastLimitedAdaptiveHistogramEqualization",
      lambda L: L.ContrastLimitedAdaptiveHistogramEqualization(value_range=(-1, 1), tile_grid_size=(3, 5),
                                                               clip_limit=2.7), RGB, option="3x5 tiles, clip_limit=2.7"),
    C("Solarization", lambda L: L.Solarization(threshold_factor=0.5, value_range=(-1, 1)), RGB),
    C("MaxNumBoundingBoxes", lambda L: L.MaxNumBoundingBoxes(max_number=3), RGB),
    C("Pipeline", lambda L: L.Pipeline([L.Rescaling(0.5), L.CenterCrop(4, 4)]), IMG),
    # preprocessing: images, random augmentation (identity at inference)
    C("AugMix", lambda L: L.AugMix(value_range=(-1, 1)), RGB),
    C("CutMix", lambda L: L.CutMix(), RGB),
    C("MixUp", lambda L: L.MixUp(), RGB),
    C("RandAugment", lambda L: L.RandAugment(value_range=(-1, 1)), RGB),
    C("RandomBrightness", lambda L: L.RandomBrightness(0.2, value_range=(-1, 1)), RGB),
    C("RandomColorDegeneration", lambda L: L.RandomColorDegeneration(0.2, value_range=(-1, 1)), RGB),
    C("RandomColorJitter", lambda L: L.RandomColorJitter(value_range=(-1, 1), brightness_factor=0.2), RGB),
    C("RandomContrast", lambda L: L.RandomContrast(0.2, value_range=(-1, 1)), RGB),
    C("RandomCrop", lambda L: L.RandomCrop(4, 5), IMG),
    C("RandomElasticTransform", lambda L: L.RandomElasticTransform(value_range=(-1, 1)), RGB),
    C("RandomErasing", lambda L: L.RandomErasing(value_range=(-1, 1)), RGB),
    C("RandomFlip", lambda L: L.RandomFlip(), IMG),
    C("RandomGaussianBlur", lambda L: L.RandomGaussianBlur(value_range=(-1, 1)), RGB),
    C("RandomGrayscale", lambda L: L.RandomGrayscale(), RGB),
    C("RandomHue", lambda L: L.RandomHue(0.2, value_range=(-1, 1)), RGB),
    C("RandomInvert", lambda L: L.RandomInvert(value_range=(-1, 1)), RGB),
    C("RandomPerspective", lambda L: L.RandomPerspective(), IMG),
    C("RandomPosterization", lambda L: L.RandomPosterization(4, value_range=(-1, 1)), RGB),
    C("RandomRotation", lambda L: L.RandomRotation(0.2), IMG),
    C("RandomSaturation", lambda L: L.RandomSaturation(0.2, value_range=(-1, 1)), RGB),
    C("RandomSharpness", lambda L: L.RandomSharpness(0.2, value_range=(-1, 1)), RGB),
    C("RandomShear", lambda L: L.RandomShear(0.2), IMG),
    C("RandomTranslation", lambda L: L.RandomTranslation(0.2, 0.2), IMG),
    C("RandomZoom", lambda L: L.RandomZoom(0.2), IMG),
    # foreign computations
    C("TFSMLayer", _tfsm_layer, VEC),
    C("TorchModuleWrapper", _torch_module_wrapper, VEC, backend="torch"),
    C("JaxLayer", lambda L: L.JaxLayer(lambda params, inputs: inputs, params={}), VEC),
    C("FlaxLayer", lambda L: L.FlaxLayer(None), VEC),
]


# ---------------------------------------------------------------------------------------------------------------------
# One row, in a worker process.


@dataclass
class Row:
    cls: str
    option: str
    backend: str
    result: str
    note: str = ""
    seconds: float = 0.0
    false_refusal: bool = False
    """A ``ConfigValueError`` (a value "Keras itself would refuse") for a file Keras wrote, reloaded and ran."""


class Outcome(Exception):
    """A row's result decided part-way (Keras cannot build it, the converter refused it, it disagrees)."""

    def __init__(self, result: str, note: str) -> None:
        super().__init__(f"{result}: {note}")
        self.result = result
        self.note = note


def _first_line(exc: BaseException) -> str:
    import re

    lines = [re.sub(r"\x1b\[[0-9;]*m", "", line).strip() for line in str(exc).splitlines()]
    informative = [line for line in lines if line and not line.startswith("Exception encountered")]
    return (informative[0] if informative else type(exc).__name__)[:240]


def _where(exc: BaseException) -> str:
    """The innermost frame of the project's own code (not the venv's) the exception passed through."""
    frames = [f for f in traceback.extract_tb(exc.__traceback__)
              if f.filename.startswith(str(ROOT)) and "/.venv/" not in f.filename and not f.filename.endswith(
                  "layer_coverage.py")]
    if not frames:
        return ""
    frame = frames[-1]
    return f" (at {Path(frame.filename).relative_to(ROOT)}:{frame.lineno} in {frame.name})"


@contextlib.contextmanager
def _stage(result: str, what: str) -> Iterator[None]:
    """Any exception in the block decides the row: ``result``, with ``what`` and the error's first line."""
    try:
        yield
    except Outcome:
        raise
    except Exception as exc:
        raise Outcome(result, f"{what}: {type(exc).__name__}: {_first_line(exc)}") from exc


def _inputs(specs: Sequence[Spec], rng: Any) -> list[Any]:
    import numpy as np

    words = np.array(["a", "b", "c", "d", "a b", "c d a", "zz"])
    arrays = []
    for spec in specs:
        shape = (2, *spec.shape)
        if spec.dtype == "string":
            arrays.append(rng.choice(words, shape))
        elif spec.dtype.startswith("int"):
            arrays.append(rng.integers(0, 10, shape).astype(spec.dtype))
        else:
            arrays.append(rng.uniform(-1.0, 1.0, shape).astype(spec.dtype))
    return arrays


def _outputs(values: Any) -> list[Any]:
    import numpy as np

    values = values if isinstance(values, list | tuple) else [values]
    return [np.asarray(v.detach().cpu() if hasattr(v, "detach") else v) for v in values]


def _build(case: Case) -> Any:
    import keras

    inputs = [keras.Input(spec.shape, dtype=spec.dtype) for spec in case.inputs]
    outputs = case.graph(keras.layers, inputs[0] if len(inputs) == 1 else inputs)
    return keras.Model(inputs, outputs)


def _convert_both(path: Path) -> None:
    """Convert in float32 and float64: a ``PortError`` is a refusal, any other exception a crash."""
    import weights_port

    for dtype in ("float32", "float64"):
        try:
            weights_port.convert(path, dtype=dtype)
        except weights_port.PortError as exc:
            raise Outcome("refused", f"{type(exc).__name__}: {_first_line(exc)}") from exc
        except Exception as exc:
            raise Outcome("crash", f"convert({dtype}): {type(exc).__name__}: {_first_line(exc)}{_where(exc)}") from exc


def _check_on_tensorflow(path: Path, live: Any, notes: list[str]) -> None:
    import weights_port
    from equivalence_tests import check_conversion

    try:
        check = check_conversion(path, keras_model=live)
    except weights_port.PortError as exc:
        text = _first_line(exc)
        if not text.startswith("Keras cannot run the model"):  # the module cannot run what Keras ran: a bug
            raise Outcome("crash", f"check: {type(exc).__name__}: {text}{_where(exc)}") from exc
        notes.append(f"float64 not checked ({text})")
        with _stage("crash", "check (float32)"):
            check = check_conversion(path, keras_model=live, dtypes=("float32",))
    except Exception as exc:
        if live is None:
            raise Outcome("crash", f"check: {type(exc).__name__}: {_first_line(exc)}{_where(exc)}") from exc
        # Keras could not reload its own file, so it cannot rebuild the model in float64 either: float32 only
        notes.append(f"float64 not checked (Keras cannot rebuild its own config: {type(exc).__name__})")
        with _stage("crash", "check (float32)"):
            check = check_conversion(path, keras_model=live, dtypes=("float32",))
    notes += check.notes
    if not check.passed:
        worst = [f"{r.dtype} {r.output}: max abs {r.agreement.max_abs:.2e}" for r in check.results
                 if not r.agreement.passed]
        raise Outcome("WRONG", "; ".join(worst + check.reports))
    dtypes = sorted({r.dtype for r in check.results})
    if dtypes != ["float32", "float64"]:
        notes.append(f"checked in {', '.join(dtypes)} only")


def _check_on_torch(path: Path, reference: Any, inputs: list[Any], notes: list[str]) -> None:
    """Keras on its torch backend is the reference (float32 only): compare the converted module with it."""
    import numpy as np
    import torch

    import weights_port
    from equivalence_tests import compare_arrays

    conversion = weights_port.convert(path, dtype="float32")
    try:
        module = conversion.build()
        tensors = [torch.from_numpy(np.ascontiguousarray(a.transpose(entry["permutation"])))
                   for a, entry in zip(inputs, conversion.manifest["inputs"], strict=True)]
        with torch.no_grad():
            actual = _outputs(module(*tensors))
    except Exception as exc:
        raise Outcome("crash", f"running the converted module: {type(exc).__name__}: {_first_line(exc)}"
                      f"{_where(exc)}") from exc
    worst = []
    for entry, got, want in zip(conversion.manifest["outputs"], actual, reference, strict=True):
        agreement = compare_arrays(got, want.transpose(entry["permutation"]), "float32")
        if not agreement.passed:
            worst.append(f"float32 {entry['name']}: max abs {agreement.max_abs:.2e}")
    if worst:
        raise Outcome("WRONG", "; ".join([*worst, "reference: Keras on its torch backend"]))
    notes.append("float32 only, against Keras on its torch backend")


def run_case(case: Case, folder: Path) -> Row:
    """Build, randomise, save, reload and run ``case`` with Keras, then convert and check it."""
    import keras
    import numpy as np

    from equivalence_tests import randomise_keras_weights
    from equivalence_tests._convert_check import load_keras_model

    notes: list[str] = []
    false_refusal = False
    start = time.perf_counter()
    try:
        with _stage("n/a", "Keras cannot build it"):
            model = _build(case)
        with _stage("n/a", "Keras cannot randomise its weights"):
            randomise_keras_weights(model, np.random.default_rng(0))
        path = folder / f"{case.key.replace(' ', '_').replace('/', '_')}.keras"
        with _stage("n/a", "Keras cannot save it"):
            model.save(path)
        try:
            reference = load_keras_model(path)
            live = None
        except Exception as exc:
            notes.append(f"Keras cannot reload its own file ({type(exc).__name__}: {_first_line(exc)}); "
                         "the reference is the model that wrote it")
            reference = live = model
        inputs = _inputs(case.inputs, np.random.default_rng(1))
        with _stage("n/a", "Keras cannot run it"):
            expected = _outputs(reference(inputs if len(inputs) > 1 else inputs[0], training=False))
        try:
            _convert_both(path)
        except Outcome as outcome:
            if outcome.note.startswith("ConfigValueError") and live is None:
                false_refusal = True
                notes.insert(0, "yet Keras wrote this value and reloads and runs the file: a false refusal")
            raise
        if case.backend == "torch":
            _check_on_torch(path, expected, inputs, notes)
        else:
            _check_on_tensorflow(path, live, notes)
        result, note = "exact", ""
    except Outcome as outcome:
        result, note = outcome.result, outcome.note
    except Exception as exc:  # the harness itself
        result, note = "crash", f"harness: {type(exc).__name__}: {_first_line(exc)}{_where(exc)}"
    finally:
        keras.backend.clear_session()
    return Row(case.cls, case.option, case.backend, result, "; ".join([note, *notes] if note else notes),
               round(time.perf_counter() - start, 2), false_refusal)


def catalog() -> dict[str, list[str]]:
    """Each public layer class of ``keras.layers`` by its own name → the names it is exported under."""
    import inspect

    import keras

    found: dict[str, list[str]] = {}
    for name in sorted(dir(keras.layers)):
        value = getattr(keras.layers, name)
        if inspect.isclass(value) and issubclass(value, keras.layers.Layer):
            found.setdefault(value.__name__, []).append(name)
    return found


def worker() -> None:
    """Read row keys on stdin, answer one marked JSON line each (``catalog`` answers the class list)."""
    import logging

    warnings.simplefilter("ignore")
    logging.disable(logging.WARNING)
    import keras

    cases = {case.key: case for case in CASES}
    with tempfile.TemporaryDirectory(prefix="layer-coverage-") as name:
        folder = Path(name)
        print(RESULT_MARK + json.dumps({"ready": keras.backend.backend(), "keras": keras.__version__}), flush=True)
        for line in sys.stdin:
            key = line.strip()
            if key == "catalog":
                answer: Any = catalog()
            else:
                with contextlib.redirect_stdout(sys.stderr):  # Keras prints; only marked lines go to the parent
                    answer = asdict(run_case(cases[key], folder))
            print(RESULT_MARK + json.dumps(answer), flush=True)


# ---------------------------------------------------------------------------------------------------------------------
# The parent: workers with a timeout, the summary and the document.


class Worker:
    """A ``--worker`` process on one Keras backend, restarted after a hang or a death."""

    def __init__(self, backend: str, log: Path) -> None:
        self.backend = backend
        self.log = log
        self.process: subprocess.Popen[str] | None = None
        self.lines: queue.Queue[str | None] = queue.Queue()
        self.versions: dict[str, str] = {}

    def _start(self) -> subprocess.Popen[str]:
        env = {**os.environ, "KERAS_BACKEND": self.backend, "TF_CPP_MIN_LOG_LEVEL": "3", "TF_ENABLE_ONEDNN_OPTS": "0",
               "CUDA_VISIBLE_DEVICES": ""}
        with self.log.open("a") as log:
            process = subprocess.Popen([sys.executable, str(Path(__file__).resolve()), "--worker"], cwd=ROOT, env=env,
                                       stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=log, text=True)
        self.lines = queue.Queue()
        threading.Thread(target=self._read, args=(process, self.lines), daemon=True).start()
        self.process = process
        ready = self._answer(180.0)
        if not isinstance(ready, dict) or "ready" not in ready:
            raise RuntimeError(f"the {self.backend} worker did not start: {ready}; see {self.log}")
        self.versions = {"keras": ready["keras"]}
        return process

    @staticmethod
    def _read(process: subprocess.Popen[str], lines: queue.Queue[str | None]) -> None:
        assert process.stdout is not None
        for line in process.stdout:
            if line.startswith(RESULT_MARK):
                lines.put(line[len(RESULT_MARK):])
        lines.put(None)

    def _answer(self, timeout: float) -> Any:
        try:
            line = self.lines.get(timeout=timeout)
        except queue.Empty:
            self.stop()
            return TimeoutError(f"no answer within {timeout:g} s; the worker was killed")
        if line is None:
            code = self.process.wait() if self.process else None
            self.process = None
            return RuntimeError(f"the worker died (exit code {code}); its stderr is in {self.log}")
        return json.loads(line)

    def ask(self, key: str, timeout: float) -> Any:
        process = self.process or self._start()
        assert process.stdin is not None
        process.stdin.write(key + "\n")
        process.stdin.flush()
        return self._answer(timeout)

    def stop(self, graceful: bool = False) -> None:
        """End the worker: at the end of the run by closing its input (it removes its files), else by killing it."""
        if self.process is None:
            return
        if graceful and self.process.stdin is not None:
            self.process.stdin.close()
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                pass
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()
        self.process = None


def run_rows(cases: Sequence[Case], timeout: float, log: Path) -> tuple[list[Row], dict[str, list[str]], str]:
    workers = {backend: Worker(backend, log) for backend in sorted({c.backend for c in cases} | {"tensorflow"})}
    rows: list[Row] = []
    try:
        classes = workers["tensorflow"].ask("catalog", 180.0)
        if not isinstance(classes, dict):
            raise RuntimeError(f"could not list keras.layers: {classes}")
        version = workers["tensorflow"].versions["keras"]
        for index, case in enumerate(cases, 1):
            start = time.perf_counter()
            answer = workers[case.backend].ask(case.key, timeout)
            if isinstance(answer, dict):
                row = Row(**answer)
            else:
                row = Row(case.cls, case.option, case.backend, "crash", f"{type(answer).__name__}: {answer}",
                          round(time.perf_counter() - start, 2))
            rows.append(row)
            loud = "  <<<" if row.result in ("WRONG", "crash") else ""
            print(f"[{index:3}/{len(cases)}] {case.key:60} {row.result:8} {row.seconds:6.1f}s  {row.note[:150]}{loud}",
                  flush=True)
    finally:
        for w in workers.values():
            w.stop(graceful=True)
    return rows, classes, version


def totals(results: Sequence[str]) -> str:
    counts = {r: sum(1 for x in results if x == r) for r in RESULTS}
    return " / ".join(f"{LABELS[r]} {counts[r]}" for r in RESULTS)


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ") or " "


def revision() -> str:
    """The commit measured, and whether the converter's files differ from it (read-only git)."""
    def git(*args: str) -> str:
        done = subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True, check=False)
        return done.stdout.strip() if done.returncode == 0 else ""

    commit = git("rev-parse", "--short", "HEAD") or "unknown"
    changed = git("status", "--porcelain", "--", "weights_port", "equivalence_tests")
    return f"commit {commit}" + (" with uncommitted changes under weights_port/ or equivalence_tests/" if changed else "")


def document(rows: Sequence[Row], classes: dict[str, list[str]], version: str, seconds: float) -> str:
    defaults = {row.cls: row for row in rows if not row.option}
    counted = [name for name in classes if name not in EXCLUDED]
    uncovered = [name for name in counted if name not in defaults]
    class_results = [defaults[name].result for name in counted if name in defaults]
    options = [row for row in rows if row.option]
    aliases = sorted(f"{', '.join(a for a in names if a != name)} (= {name})" for name, names in classes.items()
                     if [a for a in names if a != name])
    lines = [
        "# Keras 3 layer coverage of `zoo convert`",
        "",
        f"Every public layer class in `keras.layers` (Keras {version}), one small functional model each, plus rows",
        "for options that change the computation. Each model's weights are randomised",
        "(`equivalence_tests.randomise_keras_weights`), it is saved as `.keras`, and",
        "`equivalence_tests.check_conversion` compares the converted PyTorch module with Keras reloading the file",
        "on random inputs, in float32 and float64. Written by `scripts/layer_coverage.py` (the cases are its",
        "`CASES` table); rerun with:",
        "",
        f"    {COMMAND}",
        "",
        "Results: **exact** — agrees with Keras in float32 and float64 (a note says when only float32 was checked);",
        "**refused** — `weights_port` raised a `PortError` (its first line is the note); **WRONG** — converted but",
        "disagrees with Keras; **n/a** — Keras itself cannot build, save or run the case here; **crash** — any",
        "other exception (a bug). TensorFlow's CPU kernels cannot run channels-first Conv1D, Conv2D and",
        "Conv2DTranspose, and TorchModuleWrapper exists only on the torch backend: those rows (marked `torch backend`)",
        "are checked against Keras on its torch backend, float32 only. A class counts by its default row; the",
        "option rows are counted apart.",
        "",
        "## Totals",
        "",
        f"- Classes (each by its default row): {totals(class_results)} of {len(class_results)} classes",
        f"- Option rows: {totals([r.result for r in options])} of {len(options)} rows",
        f"- Measured: {revision()}; run time {seconds / 60:.1f} min",
    ]
    if uncovered:
        lines.append(f"- Classes with no row in `CASES` (new in this Keras?): {', '.join(uncovered)}")
    bad = [row for row in rows if row.result in ("WRONG", "crash")]
    if bad:
        lines += ["", "## WRONG and crash rows", ""]
        lines += [f"- **{row.result}** `{row.cls}`{f' [{row.option}]' if row.option else ''}: {row.note}" for row in bad]
    false = [row for row in rows if row.false_refusal]
    if false:
        lines += ["", "## Refusals that contradict Keras", "",
                  "`ConfigValueError` says a config value is one Keras itself would refuse, but Keras wrote these files,",
                  "reloads them and runs them:", ""]
        lines += [f"- `{row.cls}`{f' [{row.option}]' if row.option else ''}: {row.note.split('; yet Keras')[0]}"
                  for row in false]
    lines += ["", "## Not counted", ""]
    lines += [f"- `{name}`: {why}" for name, why in EXCLUDED.items()]
    lines.append(f"- Aliases, counted once under the class's own name: {'; '.join(aliases)}")
    lines += ["", "## Rows", "", "| class | case | result | note |", "|---|---|---|---|"]
    order = {name: index for index, name in enumerate(sorted(classes, key=str.lower))}
    for row in sorted(rows, key=lambda r: (order.get(r.cls, len(order)), r.option != "", r.option)):
        result = f"**{row.result}**" if row.result in ("WRONG", "crash") else row.result
        case = row.option or "default"
        if row.backend != "tensorflow":
            case += f" ({row.backend} backend)"
        lines.append(f"| {row.cls} | {_cell(case)} | {result} | {_cell(row.note)} |")
    return "\n".join(lines) + "\n"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("only", nargs="*", help="run only these classes' rows and print them (docs are not written)")
    parser.add_argument("--timeout", type=float, default=TIMEOUT, help="seconds per row before its worker is killed")
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        worker()
        return 0
    unknown = set(args.only) - {case.cls for case in CASES}
    if unknown:
        parser.error(f"no rows for {', '.join(sorted(unknown))}")
    cases = [case for case in CASES if not args.only or case.cls in args.only]
    log = Path(tempfile.mkdtemp(prefix="layer-coverage-log-")) / "workers.log"
    start = time.perf_counter()
    rows, classes, version = run_rows(cases, args.timeout, log)
    seconds = time.perf_counter() - start
    defaults = {row.cls: row.result for row in rows if not row.option}
    counted = [defaults[name] for name in classes if name not in EXCLUDED and name in defaults]
    options = [row.result for row in rows if row.option]
    print()
    for row in rows:
        if row.result in ("WRONG", "crash"):
            print(f"{row.result}: {row.cls}{f' [{row.option}]' if row.option else ''}: {row.note}")
    for row in rows:
        if row.false_refusal:
            print(f"false refusal: {row.cls}{f' [{row.option}]' if row.option else ''}: {row.note.split('; yet Keras')[0]}")
    print(f"{totals(counted)} of {len(counted)} classes")
    print(f"option rows: {totals(options)} of {len(options)} rows")
    print(f"{seconds / 60:.1f} min; worker stderr in {log}")
    missing = [name for name in classes if name not in EXCLUDED and name not in {c.cls for c in CASES}]
    if missing:
        print(f"classes with no row: {', '.join(missing)}")
    strays = sorted({case.cls for case in cases} - set(classes))
    if strays:
        print(f"rows for classes keras.layers does not export (misspelt?): {', '.join(strays)}")
    if not args.only:
        OUT.write_text(document(rows, classes, version, seconds))
        print(f"wrote {OUT.relative_to(ROOT)}")
    return 1 if any(row.result in ("WRONG", "crash") for row in rows) else 0


if __name__ == "__main__":
    sys.exit(main())
