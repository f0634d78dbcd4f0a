"""What the six recurrent networks of Brownlee's book share: the citation, tensors, config strategies.

Keras models accept any number of time steps (the config gives the usual one), as do the
PyTorch ones.
"""

from __future__ import annotations

from typing import Any

from .._spec import TensorSpec

__all__ = ["SOURCE", "integer_strategy", "sequence"]

SOURCE = "J. Brownlee, Long Short-Term Memory Networks With Python (2017)"


def integer_strategy(**ranges: tuple[int, int]) -> Any:
    """Hypothesis configs drawing each keyword from an inclusive integer range."""
    from hypothesis import strategies as st

    return st.fixed_dictionaries({name: st.integers(low, high) for name, (low, high) in ranges.items()})


def sequence(name: str, length: int, features: int) -> TensorSpec:
    return TensorSpec(name, (length, features), (length, features))
