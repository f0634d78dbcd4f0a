"""The packages' load-time imports: no cycle between modules, and the layering weights_port ← zoo ← equivalence_tests.

Imports inside functions are the deliberate lazy ones (a framework, the checker behind ``zoo check``) and are not
load-time edges; everything at module level (including under ``if TYPE_CHECKING`` is left out) is.
"""

from __future__ import annotations

import ast
from pathlib import Path

from subprocess_helpers import run_python

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("weights_port", "zoo", "equivalence_tests")
LAYER = {name: rank for rank, name in enumerate(PACKAGES)}


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _load_time_imports(path: Path, module: str, everywhere: bool = False) -> set[str]:
    """Modules imported at module level (``everywhere``: in functions too), as the project's own module names."""
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found: set[str] = set()
    tree = ast.parse(path.read_text())
    for node in ast.walk(tree) if everywhere else tree.body:
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")
                anchor = anchor[: len(anchor) - (node.level - 1)]
                base = ".".join([*anchor, base] if base else anchor)
            found.add(base)
            found.update(f"{base}.{alias.name}" for alias in node.names)
    return {name for name in found if name.split(".")[0] in PACKAGES}


def _graph(everywhere: bool = False) -> dict[str, set[str]]:
    files = {_module_name(p): p for package in PACKAGES for p in (ROOT / package).rglob("*.py")}
    return {module: {m for m in _load_time_imports(path, module, everywhere) if m in files and m != module}
            for module, path in files.items()}


def test_no_module_level_import_cycle() -> None:
    graph = _graph()
    assert len(graph) > 50  # the walk found the packages
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(module: str) -> None:
        state[module] = 1
        stack.append(module)
        for target in sorted(graph[module]):
            if state.get(target) == 1:
                raise AssertionError("import cycle: " + " → ".join([*stack[stack.index(target):], target]))
            elif target not in state:
                visit(target)
        stack.pop()
        state[module] = 2

    for module in sorted(graph):
        if module not in state:
            visit(module)


def test_packages_import_only_the_layers_below_them() -> None:
    wrong = [f"{module} imports {target}" for module, targets in _graph().items() for target in targets
             if LAYER[target.split(".")[0]] > LAYER[module.split(".")[0]]]
    assert not wrong, wrong


def test_the_cli_starts_without_the_checker_or_a_framework() -> None:
    result = run_python("""
        import sys
        from zoo._cli import _parser
        _parser().parse_args(["convert", "model.keras", "-o", "out"])
        loaded = [m for m in ("equivalence_tests", "torch", "tensorflow", "keras", "hypothesis") if m in sys.modules]
        assert not loaded, loaded
        print("clean")
    """)
    assert result.returncode == 0 and "clean" in result.stdout, result.stderr


def test_packages_use_each_others_public_names_only() -> None:
    """Across packages, only public modules are imported (``weights_port.tolerance``, not ``weights_port._files``):
    what one package needs of another is part of that package's API."""
    private = [f"{module} imports {target}" for module, targets in _graph(everywhere=True).items() for target in targets
               if target.split(".")[0] != module.split(".")[0]
               and any(part.startswith("_") for part in target.split(".")[1:])]
    assert not private, private
