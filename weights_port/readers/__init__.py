"""Reading saved Keras models without TensorFlow: ``.keras``, HDF5 (``.h5``, ``.weights.h5``), tf.keras SavedModel
folders and TensorFlow.js exports, each into the same ``KerasSource`` of layers and weights.

The guards live here too: every HDF5 file is checked to be self-contained (no external
links, files or virtual datasets) and every size is bounded before anything is read.
"""

from ._keras_files import is_live_model, open_keras, parse_json_object
from ._source import KerasLayer, KerasSource, KerasWeight

__all__ = ["KerasLayer", "KerasSource", "KerasWeight", "is_live_model", "open_keras", "parse_json_object"]
