"""docs/converting.md works when copied: its custom-layer example converts with ``--rules`` and checks against
Keras, and converts with ``--stub-unknown`` into a module that holds the layer's weights and says what is left."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

GUIDE = Path(__file__).parents[2] / "docs" / "converting.md"
ENV = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}


@pytest.fixture(scope="module")
def example(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("guide")
    blocks = dict(re.findall(r"```\w+\n# file: (\S+)\n(.*?)```", GUIDE.read_text(), flags=re.S))
    assert set(blocks) == {"positional.py"}
    (folder / "positional.py").write_text(blocks["positional.py"])
    made = subprocess.run([sys.executable, "positional.py"], cwd=folder, capture_output=True, text=True, env=ENV,
                          timeout=300)
    assert made.returncode == 0, made.stderr[-2000:]
    return folder


def _zoo(folder: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "zoo", "convert", "positional.keras", *args], cwd=folder,
                          capture_output=True, text=True, env=ENV, timeout=600)


def test_rules_file_converts_the_custom_layer_and_checks(example: Path) -> None:
    done = _zoo(example, "-o", "with_rules", "--rules", "positional.py", "--check")
    assert done.returncode == 0, done.stdout + done.stderr[-2000:]
    assert sum(line.endswith(" ok") for line in done.stdout.splitlines()) == 2  # float32 and float64
    assert "class LearnedPositions(nn.Module):" in next((example / "with_rules").glob("*.py")).read_text()


def test_stub_unknown_keeps_the_weights_and_names_what_is_left(example: Path) -> None:
    import importlib.util

    import torch
    from safetensors.torch import load_file

    done = _zoo(example, "-o", "stubbed", "--stub-unknown", "--check")
    assert done.returncode == 1 and "not checked: 1 layer(s) remain stubs" in done.stdout, done.stdout + done.stderr
    assert "(demo>PositionalEmbedding) holds its weights" in done.stdout
    source = next((example / "stubbed").glob("*.py"))
    manifest = json.loads(source.with_suffix(".json").read_text())
    assert list(manifest["stubs"].values()) == ["demo>PositionalEmbedding"]
    spec = importlib.util.spec_from_file_location("stubbed_model", source)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    model = getattr(module, manifest["class_name"])()
    state = load_file(str(source.with_suffix(".safetensors")))
    model.load_state_dict(state, strict=True)
    # a Keras 3 file records no variable names: the layer's arrays in creation order
    assert any(key.endswith(".weight_0") and tuple(value.shape) == (12, 16) for key, value in state.items())
    with pytest.raises(NotImplementedError, match="PositionalEmbedding.*length"):
        model(torch.zeros(2, 12, dtype=torch.long))
    missing = _zoo(example, "-o", "refused")
    assert missing.returncode != 0 and "PositionalEmbedding" in missing.stderr and "--stub-unknown" not in missing.stderr
