"""Run Python code in a fresh interpreter, optionally as if some packages were not installed."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

_BLOCKER = """
import importlib.abc, sys
class _NotInstalled(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in {blocked!r}:
            raise ModuleNotFoundError(f"No module named {{name!r}}", name=name)
        return None
sys.meta_path.insert(0, _NotInstalled())
"""


def run_python(code: str, *, not_installed: tuple[str, ...] = (), cwd: str | None = None,
               env: dict[str, str] | None = None, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    """Run ``code``; modules in ``not_installed`` fail to import as if absent."""
    prelude = _BLOCKER.format(blocked=set(not_installed)) if not_installed else ""
    full_env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "TF_ENABLE_ONEDNN_OPTS": "0", **(env or {})}
    return subprocess.run([sys.executable, "-c", prelude + textwrap.dedent(code)], capture_output=True,
                          text=True, cwd=cwd, env=full_env, timeout=timeout)
