"""The equivalence property, collected by ``pytest --pyargs equivalence_tests``.

For any config the architecture declares, any randomised Keras weights and any random
inputs, the PyTorch model given the ported weights computes what Keras computes, and
the weights survive Keras → PyTorch → Keras bit for bit.
"""

from __future__ import annotations

from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from equivalence_tests._check import ArchitectureCheck
from equivalence_tests._strategies import examples
from equivalence_tests.plugin import example_settings

_built: dict[tuple[str, str, str], ArchitectureCheck] = {}


def _check_for(name: str, config: dict[str, Any], dtype: str) -> ArchitectureCheck:
    """Models are built once per (architecture, config, dtype) and reused across examples."""
    key = (name, repr(sorted(config.items())), dtype)
    if key not in _built:
        _built.clear()  # keep one pair of models alive at a time
        _built[key] = ArchitectureCheck(name, config, dtype)
    return _built[key]


def test_keras_and_pytorch_compute_the_same_function(zoo_arch: str, zoo_dtype: str, request: Any) -> None:
    @example_settings(request)
    @given(st.data())
    def prove(data: Any) -> None:
        config, seed, batch = data.draw(examples(zoo_arch), label="config, seed, batch")
        outcome = _check_for(zoo_arch, config, zoo_dtype).run(seed, batch)
        assert outcome.passed, outcome.report or f"{zoo_arch}: max abs {outcome.agreement.max_abs:.2e}"

    prove()
