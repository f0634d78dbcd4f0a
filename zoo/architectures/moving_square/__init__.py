"""moving_square: does a square move left or right in a video? (a CNN-LSTM)

From Brownlee's book (``zoo.architectures._brownlee.SOURCE``). The Keras builder is in ``keras_model``,
the PyTorch class ``MovingSquare`` in ``torch_model``.
"""

from __future__ import annotations

from ..._spec import IMAGE_SIZE_CEILING, Architecture, Imported, Param, TensorSpec, TorchClass
from .._brownlee import SOURCE, integer_strategy


def feature_size(size: int) -> int:
    """Side of each frame's feature map: a 2×2 valid convolution, then a 2×2 max-pool."""
    return (size - 1) // 2


build_keras = Imported(f"{__name__}.keras_model:build_keras")
build_torch = TorchClass(f"{__name__}.torch_model:MovingSquare")


ARCHITECTURE = Architecture(
    name="moving_square",
    description="CNN-LSTM on video: TimeDistributed(Conv2D 2×2 relu → MaxPool 2×2 → Flatten) → LSTM → "
    "Dense(1, sigmoid).",
    source=SOURCE,
    params={"frames": Param(50, "int", "usual number of frames", minimum=1),
            "size": Param(50, "int", "frame height and width", minimum=3, maximum=IMAGE_SIZE_CEILING),
            "filters": Param(2, "int", "conv filters", minimum=1),
            "units": Param(50, "int", "LSTM units", minimum=1)},
    build_keras=build_keras,
    build_torch=build_torch,
    inputs=lambda c: [TensorSpec("video", (c["frames"], c["size"], c["size"], 1),
                                 (c["frames"], 1, c["size"], c["size"]), spatial=2)],
    outputs=lambda c: [TensorSpec("probability", (1,), (1,))],
    config_strategy=lambda: integer_strategy(frames=(1, 12), size=(3, 16), filters=(1, 4), units=(1, 12)),
    tags=("sequence",),
)
