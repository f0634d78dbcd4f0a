"""One pluggy manager for built-in and third-party architectures, each plugin isolated.

A plugin that fails to import, whose hook raises, or that registers a taken name is
recorded with its error and skipped (and warned about once); the rest of the zoo works.
``ZOO_STRICT_PLUGINS=1`` turns any such failure into a ``PluginError``.
"""

from __future__ import annotations

import functools
import importlib.metadata
import importlib.util
import os
import sys
import warnings
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pluggy

from ._errors import PluginError, ZooError, ZooPluginWarning
from ._registry import Registry
from ._spec import Architecture
from .hookspecs import PROJECT_NAME, ZooHookSpecs

__all__ = ["ENTRY_POINT_GROUP", "STRICT_ENV", "PluginHost", "PluginReport", "host", "reset", "rules_from_file"]

ENTRY_POINT_GROUP = "zoo"
STRICT_ENV = "ZOO_STRICT_PLUGINS"
BUILTIN_SOURCE = "zoo (built-in)"


@dataclass
class PluginReport:
    """What ``zoo plugins`` shows for one plugin."""

    name: str
    distribution: str
    version: str
    architectures: list[str] = field(default_factory=list)
    rules: list[str] = field(default_factory=list)
    error: str | None = None
    origin: str = ""
    """The entry point's object reference ("package.module:attr"), where a failure is to be fixed."""

    @property
    def source(self) -> str:
        return f"{self.distribution} {self.version}".strip()


class PluginHost:
    """The plugin manager, the registry it fills, and the porting rules plugins add."""

    def __init__(self, strict: bool | None = None) -> None:
        self.strict = os.environ.get(STRICT_ENV, "") not in ("", "0") if strict is None else strict
        self.manager = pluggy.PluginManager(PROJECT_NAME)
        self.manager.add_hookspecs(ZooHookSpecs)
        self.registry = Registry()
        self.port_rules: list[Any] = []
        self.convert_rules: list[Any] = []
        self._seen: set[tuple[str, str]] = set()
        self.reports: list[PluginReport] = []

    def load(self, builtins: Iterable[tuple[str, object]] = (), entry_points: bool = True) -> PluginHost:
        for name, plugin in builtins:
            self.add_plugin(plugin, PluginReport(name, "zoo", _own_version()))
        if entry_points:
            # Sorted by distribution, then entry-point name: which of two clashing plugins
            # keeps a name must not depend on sys.path order.
            found = importlib.metadata.entry_points(group=ENTRY_POINT_GROUP)
            for entry_point in sorted(found, key=lambda ep: ((ep.dist.name if ep.dist else "").lower(), ep.name)):
                self._load_entry_point(entry_point)
        return self

    def _load_entry_point(self, entry_point: importlib.metadata.EntryPoint) -> None:
        """Entry points are told apart by distribution and name: two distributions may use the same name."""
        dist = entry_point.dist
        report = PluginReport(entry_point.name, dist.name if dist else "?", dist.version if dist else "",
                              origin=entry_point.value)
        key = (report.distribution.lower(), report.name)
        if key in self._seen:  # the same distribution found twice on sys.path
            warnings.warn_explicit(f"zoo plugin '{report.name}' ({report.source}) is installed twice on sys.path; "
                                   "the second copy is skipped", ZooPluginWarning, f"<entry point {report.origin}>", 0)
            return
        self._seen.add(key)
        try:
            plugin = entry_point.load()
        except Exception as exc:
            self.reports.append(report)
            self._fail(report, f"import failed: {type(exc).__name__}: {exc}")
            return
        self.add_plugin(plugin, report)

    def add_plugin(self, plugin: object, report: PluginReport) -> None:
        """Register ``plugin`` and collect what its hooks return, isolating any failure."""
        self.reports.append(report)
        try:
            name = report.name if report.distribution == "zoo" else f"{report.distribution}:{report.name}"
            self.manager.register(plugin, name=name)
        except Exception as exc:
            self._fail(report, f"registration failed: {type(exc).__name__}: {exc}")
            return
        architectures = self._call(plugin, "zoo_architectures", report)
        rules = self._call(plugin, "zoo_port_rules", report)
        convert_rules = self._call(plugin, "zoo_convert_rules", report)
        if architectures is None or rules is None or convert_rules is None:
            self.manager.unregister(plugin)
            return
        for architecture in architectures:
            if not isinstance(architecture, Architecture):
                self._fail(report, f"zoo_architectures returned {architecture!r}, not a zoo.Architecture")
                continue
            try:
                self.registry.register(architecture, report.source if report.distribution != "zoo" else BUILTIN_SOURCE)
            except ZooError as exc:
                self._fail(report, str(exc))
                continue
            report.architectures.append(architecture.name)
        self.port_rules.extend(rules)
        self.convert_rules.extend(convert_rules)
        report.rules.extend(f"{r.keras_class} → {'/'.join(r.torch_types)}" for r in rules)
        report.rules.extend(f"{r.keras_class} (zoo convert)" for r in convert_rules)

    def _call(self, plugin: object, hook: str, report: PluginReport) -> list[Any] | None:
        impls = [i for i in getattr(self.manager.hook, hook).get_hookimpls() if i.plugin is plugin]
        results: list[Any] = []
        for impl in impls:
            function: Callable[[], Any] = impl.function
            try:
                results.extend(function() or [])
            except Exception as exc:
                self._fail(report, f"hook {hook} failed: {type(exc).__name__}: {exc}")
                return None
        return results

    def _fail(self, report: PluginReport, message: str) -> None:
        report.error = message if report.error is None else f"{report.error}; {message}"
        text = f"zoo plugin '{report.name}' ({report.source or 'unknown distribution'}): {message}"
        if self.strict:
            raise PluginError(text)
        # Located at the plugin's entry point, not at this line: that is where the fix lies.
        warnings.warn_explicit(f"{text}; it is skipped (set {STRICT_ENV}=1 to make this fatal)", ZooPluginWarning,
                               f"<zoo plugin {report.origin or report.name}>", 0)


def _own_version() -> str:
    try:
        return importlib.metadata.version("keras-torch-zoo")
    except importlib.metadata.PackageNotFoundError:
        return ""


@functools.cache
def host() -> PluginHost:
    """The process-wide plugin host, loaded on first use (not at ``import zoo``)."""
    from . import architectures

    return PluginHost().load(builtins=[("zoo.architectures", architectures)])


def reset() -> None:
    """Forget loaded plugins (tests, or after installing a plugin at run time)."""
    host.cache_clear()


def rules_from_file(path: str | os.PathLike[str]) -> tuple[list[Any], list[Any]]:
    """The conversion and porting rules a Python file defines (``zoo convert --rules FILE``).

    The file defines ``zoo_convert_rules()`` and, where its layers have weights to port,
    ``zoo_port_rules()``: the plugin hooks, for rules a user keeps beside a model instead of
    in an installed package. Running the file is what the user asked for by naming it.
    """
    file = Path(path)
    if file.suffix != ".py" or not file.is_file():
        raise PluginError(f"--rules {file}: not a Python file; name a .py file that defines zoo_convert_rules()")
    module_name = f"_zoo_rules_{abs(hash(str(file.resolve())))}"
    spec = importlib.util.spec_from_file_location(module_name, file)
    if spec is None or spec.loader is None:
        raise PluginError(f"--rules {file}: cannot be loaded as a Python module")
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module  # dataclasses and pickling look a module up by name
    try:
        spec.loader.exec_module(module)
    except Exception as exc:
        sys.modules.pop(module_name, None)
        raise PluginError(f"--rules {file}: raised {type(exc).__name__}: {exc}") from exc
    found: list[list[Any]] = []
    for hook in ("zoo_convert_rules", "zoo_port_rules"):
        function = getattr(module, hook, None)
        if function is None:
            found.append([])
            continue
        try:
            rules = list(function())
        except Exception as exc:
            raise PluginError(f"--rules {file}: {hook}() raised {type(exc).__name__}: {exc}") from exc
        found.append(rules)
    if not found[0] and not found[1]:
        raise PluginError(f"--rules {file}: defines no rules; give it a zoo_convert_rules() that returns a list of "
                          "weights_port.ConvertRule (and zoo_port_rules() for weights rules)")
    return found[0], found[1]
