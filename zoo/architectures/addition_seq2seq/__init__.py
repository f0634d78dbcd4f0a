"""addition_seq2seq: add numbers written as characters (an encoder-decoder LSTM).

From Brownlee's book (``zoo.architectures._brownlee.SOURCE``). The Keras builder is in ``keras_model``,
the PyTorch class ``AdditionSeq2Seq`` in ``torch_model``.
"""

from __future__ import annotations

from ..._spec import Architecture, Imported, Param, TorchClass
from .._brownlee import SOURCE, integer_strategy, sequence

build_keras = Imported(f"{__name__}.keras_model:build_keras")
build_torch = TorchClass(f"{__name__}.torch_model:AdditionSeq2Seq")


ARCHITECTURE = Architecture(
    name="addition_seq2seq",
    description="Encoder LSTM → RepeatVector(n_out) → decoder LSTM(return_sequences) → "
    "TimeDistributed(Dense(n_chars, softmax)).",
    source=SOURCE,
    params={"n_in": Param(8, "int", "input characters", minimum=1),
            "n_out": Param(2, "int", "output characters", minimum=1),
            "n_chars": Param(12, "int", "alphabet size (one-hot)", minimum=1),
            "encoder_units": Param(100, "int", "encoder units", minimum=1),
            "decoder_units": Param(50, "int", "decoder units", minimum=1)},
    build_keras=build_keras,
    build_torch=build_torch,
    inputs=lambda c: [sequence("digits", c["n_in"], c["n_chars"])],
    outputs=lambda c: [sequence("characters", c["n_out"], c["n_chars"])],
    config_strategy=lambda: integer_strategy(n_in=(1, 12), n_out=(1, 6), n_chars=(1, 12), encoder_units=(1, 16),
                                             decoder_units=(1, 16)),
    tags=("sequence",),
)
