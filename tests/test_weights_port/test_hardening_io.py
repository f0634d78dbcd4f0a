"""Whatever the file or the disk does: one clear error, nothing left behind, nothing half-written."""

from __future__ import annotations

import json
import os
import struct
import subprocess
import sys
import tempfile
import zipfile
from collections.abc import Iterator
from pathlib import Path, PurePosixPath

import h5py
import keras
import numpy as np
import pytest
import torch
from safetensors.torch import save_file
from subprocess_helpers import run_python

import zoo
from weights_port import KerasFileError, OutputError, PortError, WeightValueError, open_keras
from zoo._cli import main

ZOO = str(Path(sys.executable).parent / "zoo")  # the console script of this environment
MLP = {"in_features": 6, "hidden": (5,), "num_classes": 3}
MLP_ARGS = ["--config", "in_features=6", "--config", "hidden=[5]", "--config", "num_classes=3"]


@pytest.fixture(scope="module")
def keras_mlp() -> keras.Model:
    model = zoo.get("mlp", backend="keras", **MLP)
    rng = np.random.default_rng(0)
    for variable in model.weights:
        variable.assign(rng.normal(size=variable.shape).astype("float32"))
    return model


@pytest.fixture
def quiet_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A private TMPDIR, to show that nothing is left in it."""
    directory = tmp_path / "tmpdir"
    directory.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(directory))
    return directory


def _first_kernel(model: keras.Model) -> np.ndarray:
    return next(layer for layer in model.layers if layer.weights).kernel.numpy()


def _mount(directory: Path, options: str) -> Iterator[Path]:
    directory.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(directory)], check=True)
    try:
        yield directory
    finally:
        subprocess.run(["umount", str(directory)], check=True)


@pytest.fixture
def full_disk(tmp_path: Path) -> Iterator[Path]:
    """A real file system with 64 KiB of room (the tests run as root, as CI does)."""
    yield from _mount(tmp_path / "full", "size=64k")


@pytest.fixture
def read_only_dir(tmp_path: Path) -> Iterator[Path]:
    yield from _mount(tmp_path / "ro", "ro,size=64k")


def _deflated_keras(model: keras.Model, path: Path) -> Path:
    model.save(path.with_suffix(".stored.keras"))
    with zipfile.ZipFile(path.with_suffix(".stored.keras")) as src, zipfile.ZipFile(path, "w") as dst:
        for info in src.infolist():
            dst.writestr(info.filename, src.read(info), compress_type=zipfile.ZIP_DEFLATED)
    return path


def _patch_member(path: Path, member: str, patch) -> Path:
    """Rewrite raw bytes of ``member``'s local header or data in place."""
    with zipfile.ZipFile(path) as archive:
        info = archive.getinfo(member)
    raw = bytearray(path.read_bytes())
    start = info.header_offset
    name_length, extra_length = struct.unpack("<HH", raw[start + 26:start + 30])
    patch(raw, start, start + 30 + name_length + extra_length, info)
    path.write_bytes(bytes(raw))
    return path


def _flip_data_byte(raw: bytearray, header: int, data: int, info: zipfile.ZipInfo) -> None:
    raw[data + info.compress_size // 2] ^= 0xFF


def _garble_stream(raw: bytearray, header: int, data: int, info: zipfile.ZipInfo) -> None:
    raw[data:data + 16] = b"\xff" * 16


def _unknown_method(raw: bytearray, header: int, data: int, info: zipfile.ZipInfo) -> None:
    raw[header + 8:header + 10] = struct.pack("<H", 99)
    _set_central(raw, info, 10, struct.pack("<H", 99))


def _encrypted(raw: bytearray, header: int, data: int, info: zipfile.ZipInfo) -> None:
    raw[header + 6:header + 8] = struct.pack("<H", info.flag_bits | 1)
    _set_central(raw, info, 8, struct.pack("<H", info.flag_bits | 1))


def _set_central(raw: bytearray, info: zipfile.ZipInfo, offset: int, value: bytes) -> None:
    entry = raw.find(b"PK\x01\x02" + raw[raw.find(b"PK\x01\x02") + 4:][:0])
    while entry >= 0:
        name_length = struct.unpack("<H", raw[entry + 28:entry + 30])[0]
        if raw[entry + 46:entry + 46 + name_length].decode() == info.filename:
            raw[entry + offset:entry + offset + len(value)] = value
            return
        entry = raw.find(b"PK\x01\x02", entry + 4)
    raise AssertionError("no central directory entry")


@pytest.mark.parametrize(("damage", "expected"), [
    (_flip_data_byte, "unreadable"), (_garble_stream, "unreadable"),
    (_unknown_method, "only stored and deflated"), (_encrypted, "encrypted"),
])
def test_a_damaged_compressed_keras_is_one_error_and_leaves_no_temp_file(keras_mlp, tmp_path: Path, quiet_tmp: Path,
                                                                        damage, expected: str, capsys) -> None:
    path = _patch_member(_deflated_keras(keras_mlp, tmp_path / "m.keras"), "model.weights.h5", damage)
    code = main(["port", "mlp", str(path), "-o", str(tmp_path / "out.safetensors"), *MLP_ARGS])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1 and expected in err and "model.weights.h5" in err, err
    assert list(quiet_tmp.iterdir()) == [] and not (tmp_path / "out.safetensors").exists()


def test_a_compressed_keras_ports_and_a_later_failure_leaves_no_temp_file(keras_mlp, tmp_path: Path,
                                                                        quiet_tmp: Path) -> None:
    path = _deflated_keras(keras_mlp, tmp_path / "m.keras")
    ported = zoo.get("mlp", backend="torch", weights=path, **MLP)
    np.testing.assert_array_equal(ported[0].weight.detach().numpy(), _first_kernel(keras_mlp).T)
    with pytest.raises(PortError, match="does not fit"):
        zoo.get("mlp", backend="torch", weights=path, in_features=6, hidden=(4,), num_classes=3)
    assert list(quiet_tmp.iterdir()) == []


def test_ctrl_c_during_extraction_leaves_no_temp_file(keras_mlp, tmp_path: Path, quiet_tmp: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    path = _deflated_keras(keras_mlp, tmp_path / "m.keras")

    def interrupted(self, size=-1):
        raise KeyboardInterrupt

    monkeypatch.setattr(zipfile.ZipExtFile, "read", interrupted)
    with pytest.raises(KeyboardInterrupt):
        open_keras(path)
    assert list(quiet_tmp.iterdir()) == []


def test_extraction_checks_free_space_first(keras_mlp, tmp_path: Path, full_disk: Path,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    big = keras.Sequential([keras.Input((300,)), keras.layers.Dense(300)])  # 360 KB of weights > 64 KiB
    path = _deflated_keras(big, tmp_path / "big.keras")
    monkeypatch.setattr(tempfile, "tempdir", str(full_disk))
    with pytest.raises(KerasFileError, match="inflates to .* bytes but .* has only .* free"):
        open_keras(path)
    assert list(full_disk.iterdir()) == []


def _nested(depth: int) -> str:
    return '{"class_name": "Sequential", "config": ' + "[" * depth + "]" * depth + "}"


def test_deeply_nested_json_is_refused_clearly(keras_mlp, tmp_path: Path) -> None:
    path = tmp_path / "deep.keras"
    keras_mlp.save(path)
    with zipfile.ZipFile(path) as src:
        members = {n: src.read(n) for n in src.namelist()}
    for member in ("config.json", "metadata.json"):
        with zipfile.ZipFile(path, "w") as dst:
            for name, data in members.items():
                dst.writestr(name, _nested(100_000) if name == member else data)
        with pytest.raises(KerasFileError, match=f"{member} inside the archive is nested too deeply"):
            open_keras(path)
    legacy = tmp_path / "deep.h5"
    keras_mlp.save(legacy)
    with h5py.File(legacy, "r+") as h5:
        h5.attrs["model_config"] = _nested(100_000)
    with pytest.raises(KerasFileError, match="'model_config' attribute is nested too deeply"):
        open_keras(legacy)


@pytest.mark.parametrize("stored", [">f4", ">f8", "f16"])
def test_big_endian_and_long_double_weights_port_exactly(keras_mlp, tmp_path: Path, stored: str) -> None:
    path = tmp_path / "m.weights.h5"
    keras_mlp.save_weights(path)
    with h5py.File(path, "r+") as h5:
        for name in [n for n in _datasets(h5)]:
            values = h5[name][()]
            del h5[name]
            h5.create_dataset(name, data=values.astype(stored))
    ported = zoo.get("mlp", backend="torch", weights=path, **MLP)
    np.testing.assert_array_equal(ported[0].weight.detach().numpy(), _first_kernel(keras_mlp).T)


def test_long_double_weights_that_float64_cannot_hold_are_refused(keras_mlp, tmp_path: Path) -> None:
    path = tmp_path / "m.weights.h5"
    keras_mlp.save_weights(path)
    with h5py.File(path, "r+") as h5:
        name = _datasets(h5)[0]
        values = h5[name][()].astype(np.longdouble) + np.longdouble(2.0) ** -60
        del h5[name]
        h5.create_dataset(name, data=values)
    with pytest.raises(KerasFileError, match="long double with values that float64 cannot hold exactly"):
        zoo.get("mlp", backend="torch", weights=path, **MLP)


def _datasets(h5: h5py.File) -> list[str]:
    found: list[str] = []
    h5.visititems(lambda name, obj: found.append(name) if isinstance(obj, h5py.Dataset) else None)
    return sorted(found)


@pytest.mark.parametrize("config", ["num_classes=1e29", "num_classes=100000000000000000000000000000",
                                    "in_features=1000000000"])
def test_absurd_config_sizes_are_refused_before_torch(config: str, tmp_path: Path, capsys) -> None:
    code = main(["port", "mlp", str(tmp_path / "none.keras"), "-o", str(tmp_path / "o.safetensors"),
                 "--config", config])
    err = capsys.readouterr().err
    assert code == 2 and err.startswith("zoo: error: config") and err.count("\n") == 1, err


def test_output_names_up_to_the_limit_work_and_longer_ones_are_refused(keras_mlp, tmp_path: Path) -> None:
    source = tmp_path / "m.keras"
    keras_mlp.save(source)
    for length in (241, 255):
        name = "n" * (length - len(".safetensors")) + ".safetensors"
        assert zoo.port("mlp", source, tmp_path / name, **MLP).name == name
    with pytest.raises(OutputError, match="the file name is 256 bytes long; this file system allows 255"):
        zoo.port("mlp", source, tmp_path / ("n" * 244 + ".safetensors"), **MLP)


def test_unwritable_places_name_the_users_path(keras_mlp, tmp_path: Path, read_only_dir: Path, capsys) -> None:
    source = tmp_path / "m.keras"
    keras_mlp.save(source)
    for output in (read_only_dir / "x.safetensors", Path("/sys/x.safetensors")):
        code = main(["port", "mlp", str(source), "-o", str(output), *MLP_ARGS])
        err = capsys.readouterr().err
        assert code == 2 and err.count("\n") == 1 and str(output) in err and ".part" not in err, err


def test_a_full_disk_keras_to_torch_is_one_error_and_no_part_file(tmp_path: Path, full_disk: Path, capsys) -> None:
    model = keras.Sequential([keras.Input((100,)), keras.layers.Dense(200)])  # 80 KB > 64 KiB
    model.save(tmp_path / "m.keras")
    code = main(["port", "mlp", str(tmp_path / "m.keras"), "-o", str(full_disk / "o.safetensors"),
                 "--config", "in_features=100", "--config", "hidden=[]", "--config", "num_classes=200"])
    err = capsys.readouterr().err
    assert code == 2 and "No space left on device" in err and str(full_disk / "o.safetensors") in err, err
    assert list(full_disk.iterdir()) == []


def test_a_full_disk_torch_to_keras_fails_cleanly_in_a_child_process(tmp_path: Path, full_disk: Path) -> None:
    """The child would die of a segmentation fault if HDF5 hit the full disk itself."""
    model = zoo.get("mlp", backend="torch", in_features=100, hidden=(), num_classes=200)
    save_file(model.state_dict(), str(tmp_path / "m.safetensors"))
    for output in ("o.weights.h5", "o.keras"):
        result = subprocess.run(
            [ZOO, "port", "mlp", str(tmp_path / "m.safetensors"), "-o", str(full_disk / output),
             "--config", "in_features=100", "--config", "hidden=[]", "--config", "num_classes=200"],
            capture_output=True, text=True, env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}, timeout=300)
        assert result.returncode == 2, result.stderr
        assert "No space left on device" in result.stderr and "Traceback" not in result.stderr
        assert list(full_disk.iterdir()) == []


def test_sigterm_during_a_write_leaves_no_part_file(keras_mlp, tmp_path: Path) -> None:
    keras_mlp.save(tmp_path / "m.keras")
    result = run_python(f"""
        import os, signal, time, sys
        import safetensors.numpy
        def slow_save(arrays, path, metadata=None):
            open(path, "wb").write(b"partial")
            os.kill(os.getpid(), signal.SIGTERM)
            time.sleep(30)
        safetensors.numpy.save_file = slow_save
        from zoo._cli import main
        sys.exit(main(["port", "mlp", {str(tmp_path / 'm.keras')!r}, "-o", {str(tmp_path / 'o.safetensors')!r},
                       *{MLP_ARGS!r}]))
    """)
    assert result.returncode == 143 and "terminated; no output was written" in result.stderr, result.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.keras"]


@pytest.mark.parametrize(("tensor", "expected"), [
    (torch.tensor([[float("nan")] * 6] * 5), "non-finite"),
    (torch.ones(5, 6, dtype=torch.int64), "torch.int64"),
    (torch.ones(5, 6, dtype=torch.complex64), "torch.complex64"),
])
def test_torch_to_keras_refuses_what_a_keras_weight_cannot_hold(tensor, expected: str, tmp_path: Path) -> None:
    state = zoo.get("mlp", backend="torch", **MLP).state_dict()
    state["0.weight"] = tensor
    save_file(state, str(tmp_path / "bad.safetensors"))
    with pytest.raises(WeightValueError, match=expected):
        zoo.port("mlp", tmp_path / "bad.safetensors", tmp_path / "o.weights.h5", **MLP)
    assert not (tmp_path / "o.weights.h5").exists()


@pytest.mark.parametrize("dtype", [torch.bfloat16, torch.float16, torch.float8_e4m3fn, torch.float8_e5m2])
def test_torch_to_keras_widens_narrow_floats_exactly(dtype: torch.dtype, tmp_path: Path) -> None:
    state = {k: v.to(dtype) for k, v in zoo.get("mlp", backend="torch", **MLP).state_dict().items()}
    save_file(state, str(tmp_path / "narrow.safetensors"))
    model = zoo.get("mlp", backend="keras", weights=tmp_path / "narrow.safetensors", **MLP)
    np.testing.assert_array_equal(_first_kernel(model), state["0.weight"].float().numpy().T)


@pytest.mark.parametrize(("settings", "expected"), [
    ({"0": {"forward": "x"}}, "not one the porter defines"),
    ({"0": {"weight": 1}}, "not one the porter defines"),
    ({"0": {"eps": 0.1}}, r"\(Linear\) cannot take the setting eps"),
    ({"nothing.here": {"eps": 0.1}}, "no module of this"),
    ({"0": "eps"}, "must map module paths to settings"),
])
def test_module_settings_in_a_file_are_validated(settings, expected: str, tmp_path: Path) -> None:
    state = zoo.get("mlp", backend="torch", **MLP).state_dict()
    save_file(state, str(tmp_path / "m.safetensors"), metadata={"keras_module_settings": json.dumps(settings)})
    with pytest.raises(PortError, match=expected):
        zoo.get("mlp", backend="torch", weights=tmp_path / "m.safetensors", **MLP)


def test_a_refused_pickle_says_why(tmp_path: Path) -> None:
    torch.save({"weight": torch.ones(2), "extra": PurePosixPath("x")}, tmp_path / "evil.pt")
    with pytest.raises(KerasFileError, match="unpickling them can run arbitrary code"):
        zoo.get("mlp", backend="torch", weights=tmp_path / "evil.pt", **MLP)


def test_a_fifo_or_device_is_not_called_a_directory(tmp_path: Path) -> None:
    os.mkfifo(tmp_path / "pipe.h5")
    for path in (tmp_path / "pipe.h5", Path("/dev/zero")):
        with pytest.raises(KerasFileError, match="is not a regular file"):
            open_keras(path)


def test_zoo_list_into_a_closed_pipe_is_quiet() -> None:
    result = subprocess.run(f"{ZOO} list | head -1", shell=True, capture_output=True, text=True, timeout=120)
    assert result.stdout.strip() and "BrokenPipe" not in result.stderr and "Traceback" not in result.stderr
