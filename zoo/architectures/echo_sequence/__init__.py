"""echo_sequence: echo one step of a random one-hot sequence (an LSTM classifier).

From Brownlee's book (``zoo.architectures._brownlee.SOURCE``). The Keras builder is in ``keras_model``,
the PyTorch class ``EchoSequence`` in ``torch_model``.
"""

from __future__ import annotations

from ..._spec import Architecture, Imported, Param, TensorSpec, TorchClass
from .._brownlee import SOURCE, integer_strategy, sequence

build_keras = Imported(f"{__name__}.keras_model:build_keras")
build_torch = TorchClass(f"{__name__}.torch_model:EchoSequence")


ARCHITECTURE = Architecture(
    name="echo_sequence",
    description="LSTM(units) over one-hot steps → Dense(n_features, softmax): echo a step of the sequence.",
    source=SOURCE,
    params={"timesteps": Param(5, "int", "usual sequence length", minimum=1),
            "n_features": Param(10, "int", "one-hot width", minimum=1),
            "units": Param(25, "int", "LSTM units", minimum=1)},
    build_keras=build_keras,
    build_torch=build_torch,
    inputs=lambda c: [sequence("sequence", c["timesteps"], c["n_features"])],
    outputs=lambda c: [TensorSpec("probabilities", (c["n_features"],), (c["n_features"],))],
    config_strategy=lambda: integer_strategy(timesteps=(1, 50), n_features=(1, 12), units=(1, 16)),
    tags=("sequence",),
)
