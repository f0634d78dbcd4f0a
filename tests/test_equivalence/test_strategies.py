"""Config spaces and random inputs (equivalence_tests._strategies, _random)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import zoo
from equivalence_tests import random_inputs
from equivalence_tests._strategies import configs, examples
from zoo._api import architecture
from zoo._spec import resolve_config


@pytest.mark.parametrize("name", zoo.list_models())
def test_every_architecture_declares_a_varied_valid_config_space(name: str) -> None:
    drawn: list[dict] = []

    @settings(max_examples=25, deadline=None, derandomize=True)
    @given(configs(name))
    def collect(config: dict) -> None:
        resolve_config(architecture(name), config)
        drawn.append(config)

    collect()
    assert architecture(name).config_strategy is not None
    assert len({repr(sorted(c.items())) for c in drawn}) > 3, f"{name}: config space too narrow"


@settings(max_examples=30, deadline=None)
@given(data=st.data())
def test_inputs_are_bounded_varied_and_in_vocabulary(data: st.DataObject) -> None:
    config, seed, batch = data.draw(examples("text_classifier"))
    resolved = resolve_config(architecture("text_classifier"), config)
    tokens, meta = random_inputs(architecture("text_classifier").inputs(resolved), batch, "float32",
                                 np.random.default_rng(seed))
    assert 2 <= batch <= 4 and tokens.shape == (batch, resolved["maxlen"])
    assert tokens.min() >= 0 and tokens.max() < resolved["vocab_size"]
    assert meta.dtype == np.float32 and np.all(np.abs(meta) <= 1)
    if meta.size > 1:
        assert len(np.unique(meta)) > 1
