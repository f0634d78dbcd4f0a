"""The six recurrent networks of "Long Short-Term Memory Networks With Python" (Brownlee, 2017).

Each is small; they share one module because each is a handful of layers. Keras models
accept any number of time steps (the config gives the usual one), as do the PyTorch ones.
"""

from __future__ import annotations

from typing import Any

from .._spec import IMAGE_SIZE_CEILING, Architecture, Param, TensorSpec

SOURCE = "J. Brownlee, Long Short-Term Memory Networks With Python (2017)"


def _torch(dtype: str) -> Any:
    import torch

    return getattr(torch, dtype)


# --------------------------------------------------------------------------- echo_sequence


def echo_keras(*, timesteps: int, n_features: int, units: int, dtype: str) -> Any:
    import keras
    from keras import layers

    sequence = keras.Input((None, n_features), dtype=dtype, name="sequence")
    x = layers.LSTM(units, dtype=dtype, name="lstm")(sequence)
    return keras.Model(sequence, layers.Dense(n_features, activation="softmax", dtype=dtype, name="out")(x),
                       name="echo_sequence")


def echo_torch(*, timesteps: int, n_features: int, units: int, dtype: str) -> Any:
    import torch
    from torch import nn

    class EchoSequence(nn.Module):
        """LSTM's last hidden state → softmax over the features."""

        def __init__(self) -> None:
            super().__init__()
            self.lstm = nn.LSTM(n_features, units, batch_first=True)
            self.out = nn.Sequential(nn.Linear(units, n_features), nn.Softmax(dim=-1))

        def forward(self, sequence: torch.Tensor) -> torch.Tensor:
            _, (h_n, _) = self.lstm(sequence)
            return self.out(h_n[-1])

    return EchoSequence().to(_torch(dtype))


# --------------------------------------------------------------------------- damped_sine


def damped_keras(*, timesteps: int, units: int, n_out: int, dtype: str) -> Any:
    import keras
    from keras import layers

    sequence = keras.Input((None, 1), dtype=dtype, name="sequence")
    x = layers.LSTM(units, return_sequences=True, dtype=dtype, name="lstm1")(sequence)
    x = layers.LSTM(units, dtype=dtype, name="lstm2")(x)
    return keras.Model(sequence, layers.Dense(n_out, dtype=dtype, name="out")(x), name="damped_sine")


def damped_torch(*, timesteps: int, units: int, n_out: int, dtype: str) -> Any:
    import torch
    from torch import nn

    class DampedSine(nn.Module):
        """Two stacked LSTMs (separate modules, as in Keras) → linear forecast of n_out steps."""

        def __init__(self) -> None:
            super().__init__()
            self.lstm1 = nn.LSTM(1, units, batch_first=True)
            self.lstm2 = nn.LSTM(units, units, batch_first=True)
            self.out = nn.Linear(units, n_out)

        def forward(self, sequence: torch.Tensor) -> torch.Tensor:
            x, _ = self.lstm1(sequence)
            _, (h_n, _) = self.lstm2(x)
            return self.out(h_n[-1])

    return DampedSine().to(_torch(dtype))


# --------------------------------------------------------------------------- moving_square


def _square_features(size: int) -> int:
    return (size - 1) // 2  # 2×2 valid conv, then 2×2 max-pool


def square_keras(*, frames: int, size: int, filters: int, units: int, dtype: str) -> Any:
    import keras
    from keras import layers

    video = keras.Input((None, size, size, 1), dtype=dtype, name="video")
    x = layers.TimeDistributed(layers.Conv2D(filters, 2, activation="relu", dtype=dtype), dtype=dtype, name="conv")(video)
    x = layers.TimeDistributed(layers.MaxPooling2D(2, dtype=dtype), dtype=dtype, name="pool")(x)
    x = layers.TimeDistributed(layers.Flatten(dtype=dtype), dtype=dtype, name="flatten")(x)
    x = layers.LSTM(units, dtype=dtype, name="lstm")(x)
    return keras.Model(video, layers.Dense(1, activation="sigmoid", dtype=dtype, name="out")(x), name="moving_square")


def square_torch(*, frames: int, size: int, filters: int, units: int, dtype: str) -> Any:
    import torch
    from torch import nn

    side = _square_features(size)

    class MovingSquare(nn.Module):
        """Per-frame conv features (frames folded into the batch) → LSTM → sigmoid."""

        def __init__(self) -> None:
            super().__init__()
            self.frame_encoder = nn.Sequential(nn.Conv2d(1, filters, 2), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten())
            self.lstm = nn.LSTM(filters * side * side, units, batch_first=True)
            self.out = nn.Sequential(nn.Linear(units, 1), nn.Sigmoid())
            # Keras flattened each (H, W, C) frame; the porter reorders the LSTM's input rows.
            self.keras_port_hints = {"lstm": {"flatten_from": (filters, side, side)}}

        def forward(self, video: torch.Tensor) -> torch.Tensor:
            batch, steps = video.shape[:2]
            features = self.frame_encoder(video.flatten(0, 1)).unflatten(0, (batch, steps))
            _, (h_n, _) = self.lstm(features)
            return self.out(h_n[-1])

    return MovingSquare().to(_torch(dtype))


# --------------------------------------------------------------------------- addition_seq2seq


def seq2seq_keras(*, n_in: int, n_out: int, n_chars: int, encoder_units: int, decoder_units: int, dtype: str) -> Any:
    import keras
    from keras import layers

    digits = keras.Input((None, n_chars), dtype=dtype, name="digits")
    x = layers.LSTM(encoder_units, dtype=dtype, name="encoder")(digits)
    x = layers.RepeatVector(n_out, dtype=dtype, name="repeat")(x)
    x = layers.LSTM(decoder_units, return_sequences=True, dtype=dtype, name="decoder")(x)
    x = layers.TimeDistributed(layers.Dense(n_chars, activation="softmax", dtype=dtype), dtype=dtype, name="out")(x)
    return keras.Model(digits, x, name="addition_seq2seq")


def seq2seq_torch(*, n_in: int, n_out: int, n_chars: int, encoder_units: int, decoder_units: int, dtype: str) -> Any:
    import torch
    from torch import nn

    class AdditionSeq2Seq(nn.Module):
        """Encoder LSTM's final state, repeated n_out times, decoded into per-step softmaxes."""

        def __init__(self) -> None:
            super().__init__()
            self.encoder = nn.LSTM(n_chars, encoder_units, batch_first=True)
            self.decoder = nn.LSTM(encoder_units, decoder_units, batch_first=True)
            self.out = nn.Sequential(nn.Linear(decoder_units, n_chars), nn.Softmax(dim=-1))

        def forward(self, digits: torch.Tensor) -> torch.Tensor:
            _, (h_n, _) = self.encoder(digits)
            repeated = h_n[-1].unsqueeze(1).expand(-1, n_out, -1)
            decoded, _ = self.decoder(repeated)
            return self.out(decoded)

    return AdditionSeq2Seq().to(_torch(dtype))


# --------------------------------------------------------------------------- cumsum_bidirectional


def cumsum_keras(*, timesteps: int, units: int, dtype: str) -> Any:
    import keras
    from keras import layers

    sequence = keras.Input((None, 1), dtype=dtype, name="sequence")
    x = layers.Bidirectional(layers.LSTM(units, return_sequences=True, dtype=dtype), merge_mode="concat",
                             dtype=dtype, name="bilstm")(sequence)
    x = layers.TimeDistributed(layers.Dense(1, activation="sigmoid", dtype=dtype), dtype=dtype, name="out")(x)
    return keras.Model(sequence, x, name="cumsum_bidirectional")


def cumsum_torch(*, timesteps: int, units: int, dtype: str) -> Any:
    import torch
    from torch import nn

    class CumsumBidirectional(nn.Module):
        """Bidirectional LSTM (features concatenated) → per-step sigmoid."""

        def __init__(self) -> None:
            super().__init__()
            self.lstm = nn.LSTM(1, units, batch_first=True, bidirectional=True)
            self.out = nn.Sequential(nn.Linear(2 * units, 1), nn.Sigmoid())

        def forward(self, sequence: torch.Tensor) -> torch.Tensor:
            x, _ = self.lstm(sequence)
            return self.out(x)

    return CumsumBidirectional().to(_torch(dtype))


# --------------------------------------------------------------------------- shape_generation


def shape_keras(*, units: int, dtype: str) -> Any:
    import keras
    from keras import layers

    point = keras.Input((None, 2), dtype=dtype, name="point")
    x = layers.LSTM(units, dtype=dtype, name="lstm")(point)
    return keras.Model(point, layers.Dense(2, dtype=dtype, name="out")(x), name="shape_generation")


def shape_torch(*, units: int, dtype: str) -> Any:
    import torch
    from torch import nn

    class ShapeGeneration(nn.Module):
        """LSTM over the (1-step) input → next (x, y) point."""

        def __init__(self) -> None:
            super().__init__()
            self.lstm = nn.LSTM(2, units, batch_first=True)
            self.out = nn.Linear(units, 2)

        def forward(self, point: torch.Tensor) -> torch.Tensor:
            _, (h_n, _) = self.lstm(point)
            return self.out(h_n[-1])

    return ShapeGeneration().to(_torch(dtype))


# --------------------------------------------------------------------------- registration


def _strategy(**ranges: tuple[int, int]) -> Any:
    from hypothesis import strategies as st

    return st.fixed_dictionaries({name: st.integers(low, high) for name, (low, high) in ranges.items()})


def _seq(name: str, length: int, features: int) -> TensorSpec:
    return TensorSpec(name, (length, features), (length, features))


ARCHITECTURES = [
    Architecture(
        name="echo_sequence",
        description="LSTM(units) over one-hot steps → Dense(n_features, softmax): echo a step of the sequence.",
        source=SOURCE, params={"timesteps": Param(5, "int", "usual sequence length", minimum=1),
                               "n_features": Param(10, "int", "one-hot width", minimum=1),
                               "units": Param(25, "int", "LSTM units", minimum=1)},
        build_keras=echo_keras, build_torch=echo_torch,
        inputs=lambda c: [_seq("sequence", c["timesteps"], c["n_features"])],
        outputs=lambda c: [TensorSpec("probabilities", (c["n_features"],), (c["n_features"],))],
        config_strategy=lambda: _strategy(timesteps=(1, 50), n_features=(1, 12), units=(1, 16)), tags=("sequence",),
    ),
    Architecture(
        name="damped_sine",
        description="Stacked LSTM(units, return_sequences) → LSTM(units) → Dense(n_out): forecast a damped sine.",
        source=SOURCE, params={"timesteps": Param(50, "int", "usual sequence length", minimum=1),
                               "units": Param(20, "int", "units of both LSTMs", minimum=1),
                               "n_out": Param(5, "int", "forecast length", minimum=1)},
        build_keras=damped_keras, build_torch=damped_torch,
        inputs=lambda c: [_seq("sequence", c["timesteps"], 1)],
        outputs=lambda c: [TensorSpec("forecast", (c["n_out"],), (c["n_out"],))],
        config_strategy=lambda: _strategy(timesteps=(1, 50), units=(1, 16), n_out=(1, 8)), tags=("sequence",),
    ),
    Architecture(
        name="moving_square",
        description="CNN-LSTM on video: TimeDistributed(Conv2D 2×2 relu → MaxPool 2×2 → Flatten) → LSTM → "
        "Dense(1, sigmoid).",
        source=SOURCE, params={"frames": Param(50, "int", "usual number of frames", minimum=1),
                               "size": Param(50, "int", "frame height and width", minimum=3, maximum=IMAGE_SIZE_CEILING),
                               "filters": Param(2, "int", "conv filters", minimum=1),
                               "units": Param(50, "int", "LSTM units", minimum=1)},
        build_keras=square_keras, build_torch=square_torch,
        inputs=lambda c: [TensorSpec("video", (c["frames"], c["size"], c["size"], 1),
                                     (c["frames"], 1, c["size"], c["size"]), spatial=2)],
        outputs=lambda c: [TensorSpec("probability", (1,), (1,))],
        config_strategy=lambda: _strategy(frames=(1, 12), size=(3, 16), filters=(1, 4), units=(1, 12)),
        tags=("sequence",),
    ),
    Architecture(
        name="addition_seq2seq",
        description="Encoder LSTM → RepeatVector(n_out) → decoder LSTM(return_sequences) → "
        "TimeDistributed(Dense(n_chars, softmax)).",
        source=SOURCE, params={"n_in": Param(8, "int", "input characters", minimum=1),
                               "n_out": Param(2, "int", "output characters", minimum=1),
                               "n_chars": Param(12, "int", "alphabet size (one-hot)", minimum=1),
                               "encoder_units": Param(100, "int", "encoder units", minimum=1),
                               "decoder_units": Param(50, "int", "decoder units", minimum=1)},
        build_keras=seq2seq_keras, build_torch=seq2seq_torch,
        inputs=lambda c: [_seq("digits", c["n_in"], c["n_chars"])],
        outputs=lambda c: [_seq("characters", c["n_out"], c["n_chars"])],
        config_strategy=lambda: _strategy(n_in=(1, 12), n_out=(1, 6), n_chars=(1, 12), encoder_units=(1, 16),
                                          decoder_units=(1, 16)),
        tags=("sequence",),
    ),
    Architecture(
        name="cumsum_bidirectional",
        description="Bidirectional(LSTM(units, return_sequences), concat) → TimeDistributed(Dense(1, sigmoid)).",
        source=SOURCE, params={"timesteps": Param(10, "int", "usual sequence length", minimum=1),
                               "units": Param(50, "int", "units per direction", minimum=1)},
        build_keras=cumsum_keras, build_torch=cumsum_torch,
        inputs=lambda c: [_seq("sequence", c["timesteps"], 1)],
        outputs=lambda c: [_seq("above_threshold", c["timesteps"], 1)],
        config_strategy=lambda: _strategy(timesteps=(1, 50), units=(1, 16)), tags=("sequence",),
    ),
    Architecture(
        name="shape_generation",
        description="LSTM(units) over a (1, 2) point → Dense(2): the next point of a drawn shape.",
        source=SOURCE, params={"units": Param(10, "int", "LSTM units", minimum=1)},
        build_keras=shape_keras, build_torch=shape_torch,
        inputs=lambda c: [_seq("point", 1, 2)],
        outputs=lambda c: [TensorSpec("next_point", (2,), (2,))],
        config_strategy=lambda: _strategy(units=(1, 16)), tags=("sequence",),
    ),
]
