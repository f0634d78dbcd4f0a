"""The ``zoo`` command (zoo._cli): output, exit codes, one-line errors, atomic output."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from safetensors.numpy import load_file

import zoo
from zoo._cli import main


@pytest.fixture(scope="module")
def mlp_keras(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("cli") / "mlp.keras"
    zoo.get("mlp", backend="keras", hidden=[64, 32]).save(path)
    return path


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_list_and_pattern(capsys) -> None:
    code, out, err = run(capsys, "list")
    assert (code, err) == (0, "") and out.splitlines() == sorted(out.splitlines())
    assert {"cifar_cnn", "mlp", "siamese", "text_classifier", "moving_square"} <= set(out.splitlines())
    assert run(capsys, "list", "*cnn")[1] == "cifar_cnn\n"


def test_info_shows_config_and_both_layouts(capsys) -> None:
    code, out, _ = run(capsys, "info", "siamese")
    assert code == 0
    assert "embedding_dim = 4096" in out
    assert "left: (N, 105, 105, 1) | (N, 1, 105, 105)" in out


def test_plugins_lists_builtin_with_version(capsys) -> None:
    code, out, _ = run(capsys, "plugins")
    assert code == 0 and "zoo.architectures (zoo" in out and "mlp, siamese, cifar_cnn, text_classifier" in out


def test_port_writes_a_loadable_state_dict(capsys, mlp_keras: Path, tmp_path: Path) -> None:
    out_file = tmp_path / "mlp.safetensors"
    code, out, err = run(capsys, "port", "mlp", str(mlp_keras), "-o", str(out_file), "--config", "hidden=[64,32]")
    assert (code, err) == (0, "") and "wrote" in out
    state = load_file(out_file)
    assert set(state) == {"0.weight", "0.bias", "2.weight", "2.bias", "4.weight", "4.bias"}
    assert state["0.weight"].shape == (64, 64) and state["2.weight"].shape == (32, 64)
    assert oct(out_file.stat().st_mode & 0o777) != oct(0o600)
    assert [p.name for p in tmp_path.iterdir()] == ["mlp.safetensors"]


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["info", "siamse"], "did you mean 'siamese'"),
        (["port", "mlp", "missing.keras", "-o", "x.safetensors"], "no such file"),
        (["check", "mlp", "--config", "hiden=3"], "no config 'hiden'"),
        (["check", "mlp", "--config", "hidden"], "is not KEY=VALUE"),
        (["check"], "name at least one architecture"),
        (["port", "mlp", "{keras}", "-o", "x.safetensors"], "does not fit PyTorch parameter '0.weight'"),
        (["port", "cifar_cnn", "{keras}", "-o", "x.safetensors"], "no Conv2D / TimeDistributed"),
        (["port", "mlp", "{keras}", "-o", "{keras}", "--config", "hidden=[64,32]"], "refusing to overwrite the input"),
        (["port", "mlp", "{keras}", "-o", "{dir}", "--config", "hidden=[64,32]"], "is a directory"),
        (["port", "mlp", "{keras}", "-o", "nowhere/x.safetensors", "--config", "hidden=[64,32]"], "does not exist"),
    ],
)
def test_bad_input_gives_one_line_and_exit_2(capsys, mlp_keras: Path, tmp_path: Path, monkeypatch,
                                             argv: list[str], expected: str) -> None:
    monkeypatch.chdir(tmp_path)
    before = mlp_keras.read_bytes()
    argv = [a.format(keras=mlp_keras, dir=tmp_path) for a in argv]
    code, out, err = run(capsys, *argv)
    assert code == 2 and out == ""
    assert err.startswith("zoo: error: ") and err.count("\n") == 1 and expected in err, err
    assert mlp_keras.read_bytes() == before
    assert not list(tmp_path.glob("*.part")) and not (tmp_path / "x.safetensors").exists()


@pytest.mark.parametrize("content", [b"", b"\x89HDF\r\n\x1a\n" + b"\0" * 40, b"PK\x03\x04garbage", os.urandom(4096)])
@pytest.mark.parametrize("suffix", [".keras", ".h5", ".weights.h5"])
def test_damaged_files_are_refused_and_existing_output_is_untouched(capsys, tmp_path: Path, content: bytes,
                                                                     suffix: str) -> None:
    bad = tmp_path / f"bad{suffix}"
    bad.write_bytes(content)
    existing = tmp_path / "out.safetensors"
    existing.write_bytes(b"previous result")
    code, _out, err = run(capsys, "port", "mlp", str(bad), "-o", str(existing))
    assert code == 2 and err.startswith("zoo: error: ") and err.count("\n") == 1
    assert existing.read_bytes() == b"previous result"
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([bad.name, "out.safetensors"])


def test_failed_port_leaves_existing_output_untouched(capsys, mlp_keras: Path, tmp_path: Path) -> None:
    existing = tmp_path / "out.safetensors"
    existing.write_bytes(b"previous result")
    code, _, err = run(capsys, "port", "mlp", str(mlp_keras), "-o", str(existing))  # default hidden: mismatch
    assert code == 2 and "does not fit" in err
    assert existing.read_bytes() == b"previous result" and len(list(tmp_path.iterdir())) == 1


def test_check_reports_errors_and_passes(capsys) -> None:
    code, out, _ = run(capsys, "check", "mlp", "cifar_cnn", "--config", "num_classes=4", "--dtype", "float64",
                       "--examples", "2")
    assert code == 0
    rows = [line.split() for line in out.strip().splitlines()[2:]]
    assert [row[0] for row in rows] == ["mlp", "cifar_cnn"]
    assert all(row[1] == "float64" and row[2] == "2" and row[-1] == "ok" for row in rows)


def test_check_exits_1_on_mismatch(capsys) -> None:
    from zoo.architectures import mlp

    original = mlp.build_torch

    def wrong_activation(**config):  # softmax over the wrong axis: a real behavioural bug
        model = original(**config)
        model[-1].dim = 0
        return model

    object.__setattr__(mlp.ARCHITECTURE, "build_torch", wrong_activation)
    try:
        code, out, _ = run(capsys, "check", "mlp")
    finally:
        object.__setattr__(mlp.ARCHITECTURE, "build_torch", original)
    assert code == 1 and "MISMATCH" in out and "after the last paired layer" in out


def test_console_script_runs_in_a_fresh_process(tmp_path: Path) -> None:
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    script = Path(sys.executable).with_name("zoo")
    command = [str(script)] if script.exists() else [sys.executable, "-m", "zoo"]
    result = subprocess.run([*command, "info", "nope"], capture_output=True, text=True, env=env, cwd=tmp_path)
    assert result.returncode == 2 and result.stderr.startswith("zoo: error: ") and "Traceback" not in result.stderr
    result = subprocess.run([*command, "list"], capture_output=True, text=True, env=env, cwd=tmp_path)
    assert result.returncode == 0 and "siamese" in result.stdout
