"""The pytest plugin and ``zoo check`` on every registered architecture, plugins included."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

HERE = Path(__file__).parent


def _install_mutant_plugin(site: Path) -> None:
    """The mutants module as an installed distribution: a real entry point in group "zoo"."""
    (site / "zoo_mutants.py").write_text((HERE / "mutants.py").read_text())
    info = site / "zoo_mutants-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: zoo-mutants\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text("[zoo]\nzoo-mutants = zoo_mutants\n")


def _run(*argv: str, site: Path | None = None, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "TF_ENABLE_ONEDNN_OPTS": "0"}
    if site is not None:
        env["PYTHONPATH"] = os.pathsep.join([str(site), env.get("PYTHONPATH", "")])
    return subprocess.run([sys.executable, *argv], capture_output=True, text=True, env=env, cwd=cwd, timeout=900)


def test_plugin_options_select_architecture_and_dtype(tmp_path: Path) -> None:
    result = _run("-m", "pytest", "-p", "no:cacheprovider", "--pyargs", "equivalence_tests", "-v", "-W", "ignore",
                  "--zoo-arch", "mlp", "--zoo-arch", "shape_generation", "--zoo-dtype", "float64",
                  "--hypothesis-profile", "thorough", "--zoo-examples", "2", cwd=tmp_path)
    assert result.returncode == 0, result.stdout[-3000:]
    assert "[mlp-float64] PASSED" in result.stdout and "[shape_generation-float64] PASSED" in result.stdout
    assert "2 passed" in result.stdout and "float32" not in result.stdout.split("short test summary")[0]


def test_plugin_names_an_unknown_architecture(tmp_path: Path) -> None:
    result = _run("-m", "pytest", "-p", "no:cacheprovider", "--pyargs", "equivalence_tests", "--zoo-arch", "resnet5",
                  cwd=tmp_path)
    assert result.returncode != 0 and "did you mean 'resnet50'" in result.stdout + result.stderr


def test_installed_broken_plugin_is_caught_and_its_layer_named(tmp_path: Path) -> None:
    site = tmp_path / "site"
    site.mkdir()
    _install_mutant_plugin(site)
    result = _run("-m", "pytest", "-p", "no:cacheprovider", "--pyargs", "equivalence_tests", "-W", "ignore",
                  "--zoo-arch", "mutant_flatten_order", "--zoo-arch", "mutant_h_n_view", "--zoo-dtype", "float32",
                  site=site, cwd=tmp_path)
    assert result.returncode == 1
    assert "2 failed" in result.stdout
    assert "mutant_flatten_order: diverges at dense (Keras) / classifier.1 (PyTorch)" in result.stdout
    assert "mutant_h_n_view: diverges between bigru / gru and dense (Keras) / head.0 (PyTorch)" in result.stdout


@pytest.mark.sweep  # the default run keeps the pytest plugin's catch above and zoo check's table below
def test_zoo_check_names_where_an_installed_plugin_s_architecture_diverges(tmp_path: Path) -> None:
    site = tmp_path / "site"
    site.mkdir()
    _install_mutant_plugin(site)
    check = _run("-m", "zoo", "check", "mutant_symmetric_padding", "mobilenet_v2", "--config", "input_size=32",
                 "--config", "alpha=0.35", "--examples", "1", site=site, cwd=tmp_path)
    assert check.returncode == 1, check.stderr
    lines = check.stdout.splitlines()
    assert lines[0].split() == ["architecture", "dtype", "examples", "max", "abs", "max", "rel", "time", "result"]
    assert any(line.startswith("mutant_symmetric_padding") and line.endswith("MISMATCH") for line in lines)
    assert any(line.startswith("mobilenet_v2") and line.endswith("ok") for line in lines)
    assert "diverges at Conv1 (Keras) / stem.conv (PyTorch)" in check.stdout


@pytest.mark.sweep  # 11 s in a child process; the default run's zoo check table: test_zoo_check_train_prints_a_table
def test_zoo_check_table_in_float64(tmp_path: Path) -> None:
    result = _run("-m", "zoo", "check", "mlp", "cifar_cnn", "--dtype", "float64", "--examples", "2", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    rows = [line.split() for line in result.stdout.splitlines()[2:]]
    assert [(r[0], r[1], r[2], r[-1]) for r in rows] == [("mlp", "float64", "2", "ok"), ("cifar_cnn", "float64", "2", "ok")]
    assert all(float(r[3]) <= 1e-10 for r in rows)
    assert "[1/2] mlp" in result.stderr and "[2/2] cifar_cnn: example 2/2" in result.stderr


def test_zoo_check_refuses_a_missing_gpu_clearly(tmp_path: Path) -> None:
    import torch

    if torch.cuda.is_available():
        pytest.skip("this machine has a GPU; the refusal is for machines without one")
    result = _run("-m", "zoo", "check", "mlp", "--device", "cuda", cwd=tmp_path)
    assert result.returncode == 2 and "sees no CUDA device" in result.stderr and "Traceback" not in result.stderr


def _environment_without_hypothesis(directory: Path) -> Path:
    """A site directory holding this project (as installed) and pytest with what they need, nothing else:
    the environment of a user who installed the project and pytest but not the test extra."""
    import sysconfig

    site = Path(sysconfig.get_paths()["purelib"])
    ours = directory / "site-packages"
    ours.mkdir()
    wanted = ("pytest", "_pytest", "py.py", "pluggy", "iniconfig", "packaging", "pygments", "numpy", "h5py",
              "safetensors", "keras_torch_zoo", "__editable__.keras_torch_zoo", "__editable___keras_torch_zoo")
    for entry in site.iterdir():
        if entry.name.startswith(wanted) and "hypothesis" not in entry.name:
            (ours / entry.name).symlink_to(entry)
    return ours


def test_the_pytest_plugin_loads_without_hypothesis(tmp_path: Path) -> None:
    """Installing the project registers this plugin in every pytest run: it must need nothing but pytest."""
    site = _environment_without_hypothesis(tmp_path)
    (tmp_path / "test_users_own.py").write_text("def test_one():\n    assert 1 + 1 == 2\n")
    code = ("import site, sys; site.addsitedir({site!r}); import pytest; "
            "sys.exit(pytest.main(['-q', '-p', 'no:cacheprovider', 'test_users_own.py'] + {extra!r}))")

    def run(extra: list[str]) -> subprocess.CompletedProcess[str]:  # -S: the interpreter's own site-packages unseen
        return subprocess.run([sys.executable, "-S", "-c", code.format(site=str(site), extra=extra)], cwd=tmp_path,
                              capture_output=True, text=True, timeout=120)

    users = run([])
    assert users.returncode == 0 and "1 passed" in users.stdout, users.stdout + users.stderr
    assert "equivalence_tests/plugin.py" in run(["--trace-config"]).stdout  # the plugin was loaded, not absent
    ours = run(["--zoo-arch", "mlp"])
    assert ours.returncode != 0
    assert "--zoo-arch: the equivalence property needs hypothesis, which is not installed; install it with " \
           "pip install 'keras-torch-zoo[test]'" in ours.stdout + ours.stderr
