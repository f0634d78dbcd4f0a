"""docs/plugins.md works when copied: its files are written out, installed with pip, and checked."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

GUIDE = Path(__file__).parents[2] / "docs" / "plugins.md"


def _files(text: str) -> dict[str, str]:
    """Code blocks whose first line is ``# file: NAME``."""
    blocks = re.findall(r"```\w+\n# file: (\S+)\n(.*?)```", text, flags=re.S)
    return {name: body for name, body in blocks}


def test_the_guide_plugin_installs_and_proves_itself(tmp_path: Path) -> None:
    files = _files(GUIDE.read_text())
    assert set(files) == {"pyproject.toml", "zoo_gelu_mlp.py"}
    project = tmp_path / "zoo-gelu-mlp"
    project.mkdir()
    for name, body in files.items():
        (project / name).write_text(body)
    site = tmp_path / "site"
    install = subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-build-isolation",
                              "--target", str(site), str(project)], capture_output=True, text=True, timeout=300)
    assert install.returncode == 0, install.stderr
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(site), os.environ.get("PYTHONPATH", "")]),
           "TF_CPP_MIN_LOG_LEVEL": "3", "ZOO_STRICT_PLUGINS": "1"}
    plugins = subprocess.run([sys.executable, "-m", "zoo", "plugins"], capture_output=True, text=True, env=env,
                             timeout=300)
    assert "gelu-mlp (zoo-gelu-mlp 0.1.0): ok" in plugins.stdout, plugins.stdout + plugins.stderr
    check = subprocess.run([sys.executable, "-m", "zoo", "check", "gelu_mlp", "--dtype", "float64", "--examples", "2"],
                           capture_output=True, text=True, env=env, timeout=600, cwd=tmp_path)
    assert check.returncode == 0, check.stdout + check.stderr
    assert any(line.startswith("gelu_mlp") and line.endswith("ok") for line in check.stdout.splitlines())
