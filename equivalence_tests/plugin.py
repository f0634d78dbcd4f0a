"""pytest plugin (entry point ``pytest11``): the equivalence property for every registered architecture.

``pytest --pyargs equivalence_tests`` collects ``equivalence_tests/test_property.py``,
which runs one test per architecture and dtype, plugins' architectures included; with
``--zoo-train`` also ``test_training_property.py`` (the same steps trained both ways).
Options: ``--zoo-arch NAME`` (repeatable), ``--zoo-dtype float32|float64`` (repeatable),
``--zoo-examples N``. Hypothesis profiles: ``ci`` (derandomised, no deadline, few
examples; the default) and ``thorough`` (``--hypothesis-profile=thorough``).
"""

from __future__ import annotations

import importlib.util
from typing import Any

import pytest

__all__ = ["example_settings", "profiles"]

NEEDS_HYPOTHESIS = ("the equivalence property needs hypothesis, which is not installed; install it with "
                    "pip install 'keras-torch-zoo[test]' (or pip install hypothesis)")


def profiles() -> dict[str, Any]:
    """The hypothesis profiles: ``ci`` (derandomised, no deadline, few examples) and ``thorough``.

    No shrinking: every example builds real models (seconds for ResNet50); the report of the
    first failing example already names the diverging layer. Imported here, not at module
    level, so installing the project never makes pytest depend on hypothesis.
    """
    from hypothesis import HealthCheck, Phase, settings

    slow_ok = [HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.function_scoped_fixture]
    no_shrink = [Phase.explicit, Phase.reuse, Phase.generate]
    return {
        "ci": settings(derandomize=True, deadline=None, max_examples=3, database=None, suppress_health_check=slow_ok,
                       phases=no_shrink, print_blob=True),
        "thorough": settings(deadline=None, max_examples=30, suppress_health_check=slow_ok, phases=no_shrink,
                             print_blob=True),
    }


def example_settings(request: Any) -> Any:
    """The hypothesis settings a property runs with: the chosen profile, ``--zoo-examples`` examples."""
    from hypothesis import settings

    known = profiles()
    profile_name = request.config.getoption("hypothesis_profile", default=None) or "ci"
    profile = known.get(profile_name, known["ci"])
    return settings(profile, max_examples=request.config.getoption("zoo_examples") or profile.max_examples)


def _has_hypothesis() -> bool:
    try:
        return importlib.util.find_spec("hypothesis") is not None
    except ImportError:
        return False


@pytest.hookimpl(tryfirst=True)
def pytest_configure(config: Any) -> None:
    """Register the profiles before hypothesis's own plugin reads ``--hypothesis-profile``; without hypothesis,
    only the zoo's own options are an error (the user's other tests run as they would without this plugin)."""
    if not _has_hypothesis():
        used = [f"--{name.replace('_', '-')}" for name in ("zoo_arch", "zoo_dtype", "zoo_examples", "zoo_train")
                if config.getoption(name, default=None)]
        if used or any("equivalence_tests" in str(arg) for arg in config.args):
            raise pytest.UsageError(f"{' '.join(used) or 'equivalence_tests'}: {NEEDS_HYPOTHESIS}")
        return
    from hypothesis import settings

    for name, profile in profiles().items():
        settings.register_profile(name, profile)


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
