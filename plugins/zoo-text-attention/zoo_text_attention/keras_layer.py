"""The custom Keras layer: attention pooling over time, with weights of its own.

score_t = tanh(x_t·W + b); weights = softmax over t of score_t·u; output = Σ_t weights_t·x_t.
Registered for Keras serialisation, so a saved ``.keras`` file reloads with ``load_model``.
"""

from __future__ import annotations

from typing import Any

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="zoo_text_attention")
class Attention(keras.layers.Layer):
    """Attention pooling: (batch, time, features) → (batch, features)."""

    def __init__(self, units: int = 64, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.units = units

    def build(self, input_shape: Any) -> None:
        features = input_shape[-1]
        self.W = self.add_weight(name="W", shape=(features, self.units), initializer="glorot_uniform")
        self.b = self.add_weight(name="b", shape=(self.units,), initializer="zeros")
        self.u = self.add_weight(name="u", shape=(self.units,), initializer="random_normal")

    def call(self, x: Any) -> Any:
        score = ops.tanh(ops.matmul(x, self.W) + self.b)
        weights = ops.softmax(ops.tensordot(score, self.u, axes=1), axis=-1)
        return ops.sum(x * ops.expand_dims(weights, -1), axis=1)

    def compute_output_shape(self, input_shape: Any) -> Any:
        return (input_shape[0], input_shape[-1])

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "units": self.units}
