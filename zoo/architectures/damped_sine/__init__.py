"""damped_sine: forecast the next steps of a damped sine wave (stacked LSTMs).

From Brownlee's book (``zoo.architectures._brownlee.SOURCE``). The Keras builder is in ``keras_model``,
the PyTorch class ``DampedSine`` in ``torch_model``.
"""

from __future__ import annotations

from ..._spec import Architecture, Imported, Param, TensorSpec, TorchClass
from .._brownlee import SOURCE, integer_strategy, sequence

build_keras = Imported(f"{__name__}.keras_model:build_keras")
build_torch = TorchClass(f"{__name__}.torch_model:DampedSine")


ARCHITECTURE = Architecture(
    name="damped_sine",
    description="Stacked LSTM(units, return_sequences) → LSTM(units) → Dense(n_out): forecast a damped sine.",
    source=SOURCE,
    params={"timesteps": Param(50, "int", "usual sequence length", minimum=1),
            "units": Param(20, "int", "units of both LSTMs", minimum=1),
            "n_out": Param(5, "int", "forecast length", minimum=1)},
    build_keras=build_keras,
    build_torch=build_torch,
    inputs=lambda c: [sequence("sequence", c["timesteps"], 1)],
    outputs=lambda c: [TensorSpec("forecast", (c["n_out"],), (c["n_out"],))],
    config_strategy=lambda: integer_strategy(timesteps=(1, 50), units=(1, 16), n_out=(1, 8)),
    tags=("sequence",),
)
