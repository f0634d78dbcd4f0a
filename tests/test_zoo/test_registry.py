"""Names, lookup and clashes (zoo._registry)."""

from __future__ import annotations

import pytest

from zoo import DuplicateModelError, UnknownModelError
from zoo._api import architecture
from zoo._registry import Registry


def _registry() -> Registry:
    registry = Registry()
    for name in ("mlp", "siamese", "cifar_cnn"):
        registry.register(architecture(name), "zoo (built-in)")
    return registry


def test_names_are_sorted_and_filterable() -> None:
    registry = _registry()
    assert registry.names() == ["cifar_cnn", "mlp", "siamese"]
    assert registry.names("*cnn") == ["cifar_cnn"]
    assert registry.names("s*") == ["siamese"]
    assert registry.names("nothing*") == []


def test_unknown_name_suggests_the_closest() -> None:
    with pytest.raises(UnknownModelError, match="did you mean 'siamese'"):
        _registry().entry("siamse")


def test_unknown_name_without_close_match_points_to_zoo_list() -> None:
    with pytest.raises(UnknownModelError, match="zoo list"):
        _registry().entry("transformer")


def test_duplicate_names_both_sources_and_keeps_the_first() -> None:
    registry = _registry()
    with pytest.raises(DuplicateModelError) as info:
        registry.register(architecture("mlp"), "acme-models 1.2")
    assert "acme-models 1.2" in str(info.value) and "zoo (built-in)" in str(info.value)
    assert registry.entry("mlp").source == "zoo (built-in)"
