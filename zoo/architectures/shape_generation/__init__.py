"""shape_generation: draw a shape point by point (an LSTM).

From Brownlee's book (``zoo.architectures._brownlee.SOURCE``). The Keras builder is in ``keras_model``,
the PyTorch class ``ShapeGeneration`` in ``torch_model``.
"""

from __future__ import annotations

from ..._spec import Architecture, Imported, Param, TensorSpec, TorchClass
from .._brownlee import SOURCE, integer_strategy, sequence

build_keras = Imported(f"{__name__}.keras_model:build_keras")
build_torch = TorchClass(f"{__name__}.torch_model:ShapeGeneration")


ARCHITECTURE = Architecture(
    name="shape_generation",
    description="LSTM(units) over a (1, 2) point → Dense(2): the next point of a drawn shape.",
    source=SOURCE,
    params={"units": Param(10, "int", "LSTM units", minimum=1)},
    build_keras=build_keras,
    build_torch=build_torch,
    inputs=lambda c: [sequence("point", 1, 2)],
    outputs=lambda c: [TensorSpec("next_point", (2,), (2,))],
    config_strategy=lambda: integer_strategy(units=(1, 16)),
    tags=("sequence",),
)
