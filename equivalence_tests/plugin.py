"""pytest plugin (entry point ``pytest11``): the equivalence property for every registered architecture.

``pytest --pyargs equivalence_tests`` collects ``equivalence_tests/test_property.py``,
which runs one test per architecture and dtype, plugins' architectures included.
Options: ``--zoo-arch NAME`` (repeatable), ``--zoo-dtype float32|float64`` (repeatable),
``--zoo-examples N``. Hypothesis profiles: ``ci`` (derandomised, no deadline, few
examples; the default) and ``thorough`` (``--hypothesis-profile=thorough``).
"""

from __future__ import annotations

from typing import Any

from hypothesis import HealthCheck, Phase, settings

__all__ = ["PROFILES"]

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


def pytest_addoption(parser: Any) -> None:
    group = parser.getgroup("zoo", "Keras ⇄ PyTorch equivalence (keras-torch-zoo)")
    group.addoption("--zoo-arch", action="append", default=[], metavar="NAME",
                    help="check only this architecture (repeatable; default: every registered one)")
    group.addoption("--zoo-dtype", action="append", default=[], choices=("float32", "float64"),
                    help="check only this dtype (repeatable; default: both)")
    group.addoption("--zoo-examples", type=int, default=None, metavar="N",
                    help="hypothesis examples per architecture and dtype (default: the profile's)")


def pytest_generate_tests(metafunc: Any) -> None:
    if "zoo_arch" not in metafunc.fixturenames:
        return
    import zoo

    wanted = metafunc.config.getoption("zoo_arch") or zoo.list_models()
    for name in wanted:
        zoo.info(name)  # an unknown name fails collection with the registry's suggestion
    dtypes = metafunc.config.getoption("zoo_dtype") or ["float32", "float64"]
    metafunc.parametrize(("zoo_arch", "zoo_dtype"), [(n, d) for n in wanted for d in dtypes],
                         ids=[f"{n}-{d}" for n in wanted for d in dtypes])
