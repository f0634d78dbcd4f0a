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
