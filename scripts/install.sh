#!/usr/bin/env bash
# Create .venv and install the project with everything its tests need, from this checkout.
# torch is pinned first: on this CPU-only machine, 2.13.0 is a local CPU wheel, while an
# unpinned torch would pull a multi-GB CUDA build.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV="${VENV:-.venv}"
PYTHON="${PYTHON:-python3}"
[ -x "$VENV/bin/python" ] || "$PYTHON" -m venv "$VENV"
pip() { "$VENV/bin/python" -m pip --disable-pip-version-check -q "$@"; }
pip install "torch==2.13.0"
pip install -e ".[dev]"  # the tests, plus nox, ruff and mypy that the README's other commands use
# tf-keras (the Keras 2 API) writes legacy .h5 files in the tests; its version follows TensorFlow's.
tf_minor=$("$VENV/bin/python" -c "import importlib.metadata as m; print('.'.join(m.version('tensorflow').split('.')[:2]))")
pip install --no-deps "tf-keras==${tf_minor}.*"
for plugin in plugins/*/; do
  [ -f "$plugin/pyproject.toml" ] && pip install -e "$plugin"
done
echo "installed into $VENV"
