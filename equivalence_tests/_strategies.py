"""Hypothesis strategies: configs from each architecture's declared space, seeds and batch sizes."""

from __future__ import annotations

from typing import Any

from hypothesis import strategies as st

__all__ = ["configs", "examples"]


def configs(name: str) -> Any:
    """The architecture's own config strategy (``Architecture.config_strategy``), or its defaults."""
    from zoo._api import architecture
    from zoo._spec import resolve_config

    arch = architecture(name)
    drawn = arch.config_strategy() if arch.config_strategy else st.just({})
    return drawn.filter(lambda config: _valid(arch, config, resolve_config))


def _valid(arch: Any, config: dict[str, Any], resolve: Any) -> bool:
    from zoo import ConfigError

    try:
        resolve(arch, config)
    except ConfigError:
        return False
    return True


def examples(name: str) -> Any:
    """(config, seed, batch): batch 2 to 4, any seed for weights and inputs."""
    return st.tuples(configs(name), st.integers(0, 2**32 - 1), st.integers(2, 4))
