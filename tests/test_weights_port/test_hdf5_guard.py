"""A weights file never makes the porter read another file (weights_port.readers._hdf5_guard).

Each crafted file replaces the first kernel of a real Keras file by one of HDF5's ways of
reaching outside the file: external storage, a virtual dataset, an external link.
"""

from __future__ import annotations

import os
import signal
import zipfile
from pathlib import Path

import h5py
import numpy as np
import pytest
from porting import keras_module, save
from subprocess_helpers import run_python

import zoo
from weights_port import KerasFileError, open_keras

MLP = {"in_features": 6, "hidden": (5,), "num_classes": 3}
KINDS = ("external_storage", "virtual_dataset", "external_link")
FORMATS = {"keras3-.keras": ("keras", "model.keras"), "keras3-.weights.h5": ("keras", "model.weights.h5"),
           "keras3-model.h5": ("keras", "model.h5"), "keras2-save_weights.h5": ("tf_keras", "weights.h5")}
SECRET = 7.25


@pytest.fixture(scope="module")
def clean_files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    directory = tmp_path_factory.mktemp("clean")
    files = {}
    for label, (flavour, how) in FORMATS.items():
        K = keras_module(flavour)
        model = K.Sequential([K.Input((6,)), K.layers.Dense(5, activation="relu"),
                              K.layers.Dense(3, activation="softmax")])
        (directory / label).mkdir()
        files[label] = save(model, directory / label, how)
    return files


def _first_kernel(h5: h5py.File) -> str:
    found: list[str] = []
    h5.visititems(lambda name, obj: found.append(name) if isinstance(obj, h5py.Dataset) and obj.ndim == 2 else None)
    return sorted(found)[0]


def _plant(h5_path: Path, kind: str, outside: Path) -> str:
    """Replace the first kernel by an outside reference; returns the dataset's path."""
    with h5py.File(h5_path, "r+") as h5:
        name = _first_kernel(h5)
        shape, dtype = h5[name].shape, h5[name].dtype
        del h5[name]
        if kind == "external_storage":
            h5.create_dataset(name, shape, dtype, external=[(str(outside), 0, int(np.prod(shape)) * dtype.itemsize)])
        elif kind == "virtual_dataset":
            layout = h5py.VirtualLayout(shape=shape, dtype=dtype)
            layout[...] = h5py.VirtualSource(str(outside), "secret", shape=shape)
            h5.create_virtual_dataset(name, layout)
        else:
            h5[name] = h5py.ExternalLink(str(outside), "/secret")
    return name


def craft(clean: Path, kind: str, outside: Path, directory: Path) -> tuple[Path, str]:
    """A copy of ``clean`` whose first kernel points at ``outside``; (file, dataset path)."""
    directory.mkdir(parents=True, exist_ok=True)
    crafted = directory / clean.name
    if clean.suffix != ".keras":
        crafted.write_bytes(clean.read_bytes())
        return crafted, _plant(crafted, kind, outside)
    inner = directory / "model.weights.h5"
    with zipfile.ZipFile(clean) as archive:
        inner.write_bytes(archive.read("model.weights.h5"))
        members = {n: archive.read(n) for n in archive.namelist() if n != "model.weights.h5"}
    name = _plant(inner, kind, outside)
    with zipfile.ZipFile(crafted, "w") as archive:
        for member, data in members.items():
            archive.writestr(member, data)
        archive.write(inner, "model.weights.h5")
    inner.unlink()
    return crafted, name


def _secret_files(directory: Path) -> dict[str, Path]:
    """Outside files a crafted weights file points at, full of SECRET."""
    directory.mkdir(parents=True, exist_ok=True)
    raw = directory / "secret.bin"
    np.full(64, SECRET, np.float32).tofile(raw)
    h5 = directory / "secret.h5"
    with h5py.File(h5, "w") as f:
        f["secret"] = np.full((6, 5), SECRET, np.float32)
    return {"external_storage": raw, "virtual_dataset": h5, "external_link": h5}


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("label", FORMATS)
def test_outside_references_are_refused_naming_the_weight(label: str, kind: str, clean_files: dict[str, Path],
                                                          tmp_path: Path) -> None:
    outside = _secret_files(tmp_path / "outside")[kind]
    crafted, dataset = craft(clean_files[label], kind, outside, tmp_path / "crafted")
    output = tmp_path / "out.safetensors"
    with pytest.raises(KerasFileError) as refused:
        zoo.port("mlp", crafted, output, **MLP)
    message = str(refused.value)
    assert dataset in message and "refused" in message and str(outside) in message
    assert {"external_storage": "external storage", "virtual_dataset": "virtual dataset",
            "external_link": "external link"}[kind] in message
    assert not output.exists()
    with pytest.raises(KerasFileError, match="refused"):
        zoo.get("mlp", backend="torch", weights=crafted, **MLP)


def test_a_virtual_dataset_with_a_missing_source_is_refused_not_zeros(clean_files: dict[str, Path],
                                                                     tmp_path: Path) -> None:
    crafted, dataset = craft(clean_files["keras3-.weights.h5"], "virtual_dataset", tmp_path / "missing.h5",
                             tmp_path / "crafted")
    with pytest.raises(KerasFileError, match=f"weight '{dataset}' is an HDF5 virtual dataset"):
        open_keras(crafted)


def test_the_clean_files_still_port(clean_files: dict[str, Path], tmp_path: Path) -> None:
    for label, path in clean_files.items():
        model = zoo.get("mlp", backend="torch", weights=path, **MLP)
        assert model[0].weight.shape == (5, 6), label


def test_no_outside_file_is_even_opened_in_any_direction(clean_files: dict[str, Path], tmp_path: Path) -> None:
    """Every outside target is a FIFO: opening one for reading blocks until a writer comes, so
    a reader that touched it would hang this subprocess until its timeout fails the test."""
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    crafted = [craft(clean_files[label], kind, fifo, tmp_path / label / kind)[0]
               for label in FORMATS for kind in KINDS]
    result = run_python(f"""
        import zoo, weights_port
        for path in {[str(p) for p in crafted]!r}:
            for call in (lambda: zoo.port("mlp", path, path + ".safetensors", **{MLP!r}),
                         lambda: zoo.get("mlp", backend="torch", weights=path, **{MLP!r}),
                         lambda: zoo.get("mlp", backend="keras", weights=path, **{MLP!r})):
                try:
                    call()
                    print("PORTED", path)
                except weights_port.KerasFileError as exc:
                    print("refused" if "refused" in str(exc) else f"OTHER {{exc}}")
    """, timeout=240)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["refused"] * (3 * len(crafted)), result.stdout


def _heap_with_corrupt_size(path: Path) -> Path:
    """A legacy-style HDF5 whose first global-heap string has one byte of its size changed (73 for 84):
    with HDF5 1.14, reading that attribute never returns."""
    with h5py.File(path, "w") as h5:
        h5.attrs["model_config"] = '{"class_name": "Sequential"}' * 3
        h5.attrs["keras_version"] = "2.2.4"
        h5.attrs["layer_names"] = np.array([b"dense"])
    raw = bytearray(path.read_bytes())
    heap = raw.find(b"GCOL")
    raw[heap + 24] = 73
    path.write_bytes(bytes(raw))
    return path


def test_a_corrupt_global_heap_is_refused_instead_of_hanging(tmp_path: Path) -> None:
    path = _heap_with_corrupt_size(tmp_path / "hang.h5")
    probe = run_python(f"""
        import signal, h5py
        signal.alarm(3)  # the default action ends the process: no Python handler runs while HDF5 loops
        h5py.File({str(path)!r}, "r").attrs.get("model_config")
    """, timeout=60)
    assert probe.returncode == -signal.SIGALRM, "the crafted file no longer hangs h5py; the test proves nothing"
    guarded = run_python(f"""
        import weights_port
        try:
            weights_port.open_keras({str(path)!r})
        except weights_port.KerasFileError as exc:
            print(exc)
    """, timeout=60)
    assert "damaged HDF5 global heap" in guarded.stdout and "refused" in guarded.stdout, guarded.stdout + guarded.stderr
