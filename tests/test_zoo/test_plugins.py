"""Plugin discovery through real entry points, and isolation of broken plugins (zoo._plugins).

Each test writes a distribution (``*.dist-info`` with METADATA and entry_points.txt, plus
its module) into a temporary directory on ``sys.path``: ``importlib.metadata`` finds it
exactly as it finds a pip-installed plugin.
"""

from __future__ import annotations

import itertools
import textwrap
import warnings
from pathlib import Path

import pytest

import zoo
import zoo.architectures
from zoo import PluginError, ZooPluginWarning
from zoo._plugins import PluginHost

_counter = itertools.count()

GOOD_PLUGIN = """
from zoo import Architecture, Param, TensorSpec, hookimpl
from zoo.architectures import mlp

@hookimpl
def zoo_architectures():
    return [Architecture(
        name="{arch}", description="a tiny test model", source="tests",
        params={{"in_features": Param(4, "int", minimum=1)}},
        build_keras=lambda in_features, dtype: mlp.build_keras(in_features=in_features, hidden=(), num_classes=2, dtype=dtype),
        build_torch=lambda in_features, dtype: mlp.build_torch(in_features=in_features, hidden=(), num_classes=2, dtype=dtype),
        inputs=lambda c: [TensorSpec("x", (c["in_features"],), (c["in_features"],))],
        outputs=lambda c: [TensorSpec("p", (2,), (2,))],
    )]
"""


def install(site: Path, dist: str, version: str, source: str) -> str:
    """Write a distribution whose entry point (group "zoo") is a fresh module; return its name."""
    module = f"zoo_test_plugin_{next(_counter)}"
    (site / f"{module}.py").write_text(textwrap.dedent(source))
    info = site / f"{dist.replace('-', '_')}-{version}.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist}\nVersion: {version}\n")
    (info / "entry_points.txt").write_text(f"[zoo]\n{dist} = {module}\n")
    return module


@pytest.fixture
def site(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fresh_plugins) -> Path:
    monkeypatch.syspath_prepend(str(tmp_path))
    return tmp_path


def _load(strict: bool = False) -> PluginHost:
    from zoo import architectures

    return PluginHost(strict=strict).load(builtins=[("zoo.architectures", architectures)])


def test_builtins_register_through_the_hook() -> None:
    host = PluginHost(strict=True).load(builtins=[("zoo.architectures", zoo.architectures)], entry_points=False)
    assert {"cifar_cnn", "mlp", "siamese", "text_classifier", "shape_generation"} <= set(host.registry.names())
    assert host.manager.has_plugin("zoo.architectures")
    assert sorted(host.reports[0].architectures) == host.registry.names()


def test_installed_plugin_is_discovered_listed_and_built(site: Path) -> None:
    install(site, "acme-models", "1.4.2", GOOD_PLUGIN.format(arch="acme_tiny"))
    assert "acme_tiny" in zoo.list_models()
    report = next(r for r in zoo.plugins() if r.distribution == "acme-models")
    assert (report.version, report.architectures, report.error) == ("1.4.2", ["acme_tiny"], None)
    assert zoo.info("acme_tiny").registered_by == "acme-models 1.4.2"
    model = zoo.get("acme_tiny", backend="torch", in_features=6)
    assert model[0].in_features == 6


def test_plugin_that_fails_to_import_is_reported_and_the_rest_works(site: Path) -> None:
    install(site, "broken-models", "0.1", "raise RuntimeError('missing dependency: foo')\n")
    install(site, "acme-models", "1.0", GOOD_PLUGIN.format(arch="acme_ok"))
    with pytest.warns(ZooPluginWarning, match="broken-models 0.1.*missing dependency: foo"):
        host = _load()
    broken = next(r for r in host.reports if r.distribution == "broken-models")
    assert "import failed: RuntimeError: missing dependency: foo" in (broken.error or "")
    assert {"acme_ok", "mlp", "siamese", "cifar_cnn"} <= set(host.registry.names())


def test_broken_plugin_is_fatal_in_strict_mode(site: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    install(site, "broken-models", "0.1", "import no_such_module_anywhere\n")
    with pytest.raises(PluginError, match="broken-models 0.1.*ModuleNotFoundError"):
        _load(strict=True)
    monkeypatch.setenv("ZOO_STRICT_PLUGINS", "1")
    with pytest.raises(PluginError):
        zoo.list_models()


def test_failing_hook_is_isolated(site: Path) -> None:
    install(site, "hooky", "2.0", """
        from zoo import hookimpl
        @hookimpl
        def zoo_architectures():
            raise ValueError("bad catalog")
    """)
    with pytest.warns(ZooPluginWarning, match="hook zoo_architectures failed: ValueError: bad catalog"):
        host = _load()
    assert next(r for r in host.reports if r.distribution == "hooky").architectures == []
    assert "mlp" in host.registry.names()


def test_clashing_name_names_both_distributions_and_keeps_the_first(site: Path) -> None:
    install(site, "clasher", "3.1", GOOD_PLUGIN.format(arch="mlp"))
    with pytest.warns(ZooPluginWarning) as caught:
        host = _load()
    message = str(caught[0].message)
    assert "clasher 3.1" in message and "zoo (built-in)" in message and "'mlp'" in message
    assert host.registry.entry("mlp").source == "zoo (built-in)"
    assert host.registry.entry("mlp").architecture is zoo.architectures.mlp.ARCHITECTURE


def test_wrong_return_type_is_reported(site: Path) -> None:
    install(site, "sloppy", "1.0", """
        from zoo import hookimpl
        @hookimpl
        def zoo_architectures():
            return ["not an architecture"]
    """)
    with warnings.catch_warnings(record=True):
        warnings.simplefilter("always")
        host = _load()
    assert "not a zoo.Architecture" in (next(r for r in host.reports if r.distribution == "sloppy").error or "")


def test_warning_is_given_once_per_process(site: Path) -> None:
    install(site, "broken-models", "0.1", "raise ImportError('nope')\n")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        zoo.list_models()
        zoo.list_models()
        zoo.info("mlp")
    assert len([w for w in caught if issubclass(w.category, ZooPluginWarning)]) == 1


def test_broken_and_clashing_plugins_beside_the_real_one(site: Path) -> None:
    """With a broken and a clashing distribution installed, the rest (the real plugin too) works."""
    install(site, "broken-models", "0.1", "raise RuntimeError('boom')\n")
    install(site, "zzz-text-clash", "9.9", GOOD_PLUGIN.format(arch="text_attention"))  # loads after zoo-text-…
    with pytest.warns(ZooPluginWarning):
        names = zoo.list_models()
    assert {"text_attention", "mlp", "resnet50"} <= set(names)
    assert zoo.info("text_attention").registered_by == "zoo-text-attention 0.1.0"
    reports = {r.distribution: r for r in zoo.plugins()}
    assert "zoo-text-attention 0.1.0" in (reports["zzz-text-clash"].error or "")
    assert "boom" in (reports["broken-models"].error or "")
    assert zoo.get("text_attention", backend="torch", vocab_size=10, embed_dim=2, hidden=2) is not None


def test_two_distributions_may_use_the_same_entry_point_name(site: Path) -> None:
    for dist, arch in (("alpha-models", "alpha_net"), ("beta-models", "beta_net")):
        module = install(site, dist, "1.0", GOOD_PLUGIN.format(arch=arch))
        entry_points = next(site.glob(f"{dist.replace('-', '_')}-1.0.dist-info")) / "entry_points.txt"
        entry_points.write_text(f"[zoo]\nmodels = {module}\n")
    host = _load()
    assert {"alpha_net", "beta_net"} <= set(host.registry.names())
    assert sorted(r.distribution for r in host.reports if r.name == "models") == ["alpha-models", "beta-models"]


def test_strict_clash_does_not_claim_a_registration_is_kept(site: Path) -> None:
    install(site, "clasher", "3.1", GOOD_PLUGIN.format(arch="mlp"))
    with pytest.raises(PluginError) as failed:
        _load(strict=True)
    assert "kept" not in str(failed.value) and "clasher 3.1" in str(failed.value)


def test_a_broken_plugin_warning_points_at_its_entry_point(site: Path) -> None:
    module = install(site, "broken-models", "0.1", "raise RuntimeError('missing dependency: foo')\n")
    with pytest.warns(ZooPluginWarning) as caught:
        _load()
    assert caught[0].filename == f"<zoo plugin {module}>"


def test_rules_file_errors_name_the_file_and_the_fix(tmp_path: Path) -> None:
    from zoo import PluginError
    from zoo._plugins import rules_from_file

    empty, broken = tmp_path / "empty.py", tmp_path / "broken.py"
    empty.write_text("x = 1\n")
    broken.write_text("def zoo_convert_rules():\n    raise RuntimeError('boom')\n")
    with pytest.raises(PluginError, match="not a Python file"):
        rules_from_file(tmp_path / "missing.py")
    with pytest.raises(PluginError, match="defines no rules; give it a zoo_convert_rules"):
        rules_from_file(empty)
    with pytest.raises(PluginError, match=r"zoo_convert_rules\(\) raised RuntimeError: boom"):
        rules_from_file(broken)
