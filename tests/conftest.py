"""Shared fixtures: quiet TensorFlow, Keras reference models, saved files in every format."""

from __future__ import annotations

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")

import numpy as np
import pytest

import zoo._plugins


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(1234)


@pytest.fixture
def fresh_plugins():
    """A plugin host reloaded for this test and forgotten after it."""
    zoo._plugins.reset()
    yield
    zoo._plugins.reset()


@pytest.fixture(autouse=True)
def _keras_floatx_is_left_as_found(request: pytest.FixtureRequest):
    """A test that sets Keras's (or tf.keras's) floatx must restore it: later tests build models under it."""
    import sys

    def current() -> tuple[str | None, str | None, str | None]:
        keras, tf_keras = sys.modules.get("keras"), sys.modules.get("tf_keras")
        if keras is None or not hasattr(keras, "config"):
            return None, None, tf_keras.backend.floatx() if tf_keras is not None and hasattr(tf_keras, "backend") else None
        from keras.src.backend.common import global_state

        policy = global_state.get_global_attribute("dtype_policy", None)  # not dtype_policy(): that getter pins one
        return (keras.config.floatx(), policy.name if policy is not None else None,
                tf_keras.backend.floatx() if tf_keras is not None and hasattr(tf_keras, "backend") else None)

    before = current()
    yield
    after = current()
    # A framework imported during the test starts at float32 (and pins the float32 policy on its first layer).
    allowed = [(was, "float32", None) for was in before]
    if any(value not in options for value, options in zip(after, allowed, strict=True)):
        pytest.fail(f"{request.node.nodeid} left Keras's (floatx, global dtype policy, tf.keras floatx) at {after}, "
                    f"found {before}: later tests would build their models in that dtype")
