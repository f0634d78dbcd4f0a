"""Building a Keras model in float64 when its constructor takes no dtype (keras.applications)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

__all__ = ["keras_dtype_policy"]


@contextmanager
def keras_dtype_policy(dtype: str) -> Iterator[None]:
    """Every layer (and input) created inside uses ``dtype``; the globals are restored afterwards, as found.

    ``floatx`` alone is not enough, and reading the policy with ``keras.config.dtype_policy()`` is a
    trap: when none is set, that getter pins one built from the current floatx, so every layer built
    after it keeps that dtype whatever floatx later says. The policy is therefore saved and restored
    as the raw global (unset stays unset).
    """
    import keras
    from keras.src.backend.common import global_state

    previous_policy, previous_floatx = global_state.get_global_attribute("dtype_policy", None), keras.config.floatx()
    keras.config.set_dtype_policy(dtype)
    keras.config.set_floatx(dtype)
    try:
        yield
    finally:
        keras.config.set_floatx(previous_floatx)
        global_state.set_global_attribute("dtype_policy", previous_policy)
