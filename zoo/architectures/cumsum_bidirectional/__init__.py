"""cumsum_bidirectional: has the running sum passed a threshold, per step? (a bidirectional LSTM)

From Brownlee's book (``zoo.architectures._brownlee.SOURCE``). The Keras builder is in ``keras_model``,
the PyTorch class ``CumsumBidirectional`` in ``torch_model``.
"""

from __future__ import annotations

from ..._spec import Architecture, Imported, Param, TorchClass
from .._brownlee import SOURCE, integer_strategy, sequence

build_keras = Imported(f"{__name__}.keras_model:build_keras")
build_torch = TorchClass(f"{__name__}.torch_model:CumsumBidirectional")


ARCHITECTURE = Architecture(
    name="cumsum_bidirectional",
    description="Bidirectional(LSTM(units, return_sequences), concat) → TimeDistributed(Dense(1, sigmoid)).",
    source=SOURCE,
    params={"timesteps": Param(10, "int", "usual sequence length", minimum=1),
            "units": Param(50, "int", "units per direction", minimum=1)},
    build_keras=build_keras,
    build_torch=build_torch,
    inputs=lambda c: [sequence("sequence", c["timesteps"], 1)],
    outputs=lambda c: [sequence("above_threshold", c["timesteps"], 1)],
    config_strategy=lambda: integer_strategy(timesteps=(1, 50), units=(1, 16)),
    tags=("sequence",),
)
