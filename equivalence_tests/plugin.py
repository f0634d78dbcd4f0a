"""pytest plugin (entry point ``pytest11``): the equivalence property for every registered architecture.

``pytest --pyargs equivalence_tests`` collects ``equivalence_tests/test_property.py``,
which runs one test per architecture and dtype, plugins' architectures included; with
``--zoo-train`` also ``test_training_property.py`` (the same steps trained both ways).
Options: ``--zoo-arch NAME`` (repeatable), ``--zoo-dtype float32|float64`` (repeatable),
``--zoo-examples N``. Hypothesis profiles: ``ci`` (derandomised, no deadline, few
examples; the default) and ``thorough`` (``--hypothesis-profile=thorough``).
"""

from __future__ import annotations

from typing import Any

from hypothesis import HealthCheck, Phase, settings

__all__ = ["PROFILES", "example_settings"]

_SLOW_OK = [HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.function_scoped_fixture]
# No shrinking: every example builds real models (seconds for ResNet50); the report of the
# first failing example already names the diverging layer.
_NO_SHRINK = [Phase.explicit, Phase.reuse, Phase.generate]
PROFILES = {
    "ci": settings(derandomize=True, deadline=None, max_examples=3, database=None, suppress_health_check=_SLOW_OK,
                   phases=_NO_SHRINK, print_blob=True),
    "thorough": settings(deadline=None, max_examples=30, suppress_health_check=_SLOW_OK, phases=_NO_SHRINK,
                         print_blob=True),
}
for _name, _profile in PROFILES.items():  # registered at import: before --hypothesis-profile is read
    settings.register_profile(_name, _profile)


def example_settings(request: Any) -> settings:
    """The hypothesis settings a property runs with: the chosen profile, ``--zoo-examples`` examples."""
    profile_name = request.config.getoption("hypothesis_profile", default=None) or "ci"
    profile = PROFILES.get(profile_name, PROFILES["ci"])
    return settings(profile, max_examples=request.config.getoption("zoo_examples") or profile.max_examples)


def pytest_addoption(parser: Any) -> None:
    group = parser.getgroup("zoo", "Keras ⇄ PyTorch equivalence (keras-torch-zoo)")
    group.addoption("--zoo-arch", action="append", default=[], metavar="NAME",
                    help="check only this architecture (repeatable; default: every registered one)")
    group.addoption("--zoo-dtype", action="append", default=[], choices=("float32", "float64"),
                    help="check only this dtype (repeatable; default: both)")
    group.addoption("--zoo-examples", type=int, default=None, metavar="N",
                    help="hypothesis examples per architecture and dtype (default: the profile's)")
    group.addoption("--zoo-train", action="store_true",
                    help="also prove training: Keras's train_on_batch and zoo.training_setup(...).step agree")


def pytest_generate_tests(metafunc: Any) -> None:
    fixture = next((f for f in ("zoo_arch", "zoo_train_arch") if f in metafunc.fixturenames), None)
    if fixture is None:
        return
    import zoo

    if fixture == "zoo_train_arch" and not metafunc.config.getoption("zoo_train"):
        metafunc.parametrize(("zoo_train_arch", "zoo_dtype"), [])  # collected only with --zoo-train
        return

    wanted = metafunc.config.getoption("zoo_arch") or zoo.list_models()
    for name in wanted:
        zoo.info(name)  # an unknown name fails collection with the registry's suggestion
    dtypes = metafunc.config.getoption("zoo_dtype") or ["float32", "float64"]
    metafunc.parametrize((fixture, "zoo_dtype"), [(n, d) for n in wanted for d in dtypes],
                         ids=[f"{n}-{d}" for n in wanted for d in dtypes])


def pytest_collection_modifyitems(config: Any, items: list[Any]) -> None:
    """Without ``--zoo-train`` the training property is deselected (reported as such), not skipped."""
    if config.getoption("zoo_train", default=False):
        return
    training = [item for item in items if "zoo_train_arch" in getattr(item, "fixturenames", ())]
    if training:
        config.hook.pytest_deselected(items=training)
        items[:] = [item for item in items if item not in training]
