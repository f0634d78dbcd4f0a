"""TensorFlow.js layers models, as tensorflowjs 4.22's own converter wrote them.

The fixtures (``tests/fixtures/tfjs``, made by ``scripts/make_tfjs_fixtures.py``) hold a
real export, quantized several ways and sharded, and the producer's own reading of it:
tensorflowjs's loader rebuilding the tf_keras model (Keras 2 exports) or the Keras 3
model loaded with the weights tensorflowjs decodes (the Keras 3 export). tensorflowjs
cannot be installed beside TensorFlow 2.21, so that reading is recorded in the fixture.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

import weights_port
from equivalence_tests import compare_arrays
from weights_port import KerasFileError

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "tfjs"
EXPORTS = sorted(p.name for p in FIXTURES.iterdir())


@pytest.mark.parametrize("export", EXPORTS)
def test_an_export_converts_to_what_tensorflowjs_reads(export: str) -> None:
    reference = np.load(FIXTURES / export / "reference.npz")
    conversion = weights_port.convert(FIXTURES / export / "model.json")
    permutation = conversion.manifest["inputs"][0]["permutation"]  # an image input is channels-first in PyTorch
    with torch.no_grad():
        actual = conversion.build()(torch.from_numpy(reference["x"].transpose(permutation).copy())).numpy()
    result = compare_arrays(actual, reference["y"], "float32")
    assert result.passed, result


def _weights(export: str) -> dict[str, np.ndarray]:
    with weights_port.open_keras(FIXTURES / export / "model.json") as source:
        return {f"{layer.name}/{w.key}": w.read() for layer in source.layers for w in layer.weights}


@pytest.mark.parametrize("export", ["keras2-uint8", "keras2-uint16-float16"])
def test_quantized_weights_are_within_half_a_step_of_the_float32_export(export: str) -> None:
    """Affine quantization rounds each weight to the nearest of 256 or 65536 levels over its range, float16 to
    the nearest half-precision number (a relative half-step of 2**-11)."""
    exact, quantized = _weights("keras2-float32"), _weights(export)
    assert exact.keys() == quantized.keys()
    manifest = json.loads((FIXTURES / export / "model.json").read_text())["weightsManifest"]
    kinds = {w["name"]: w["quantization"]["dtype"] for group in manifest for w in group["weights"]}
    for key, value in exact.items():
        kind = kinds[max((name for name in kinds if key.endswith(name)), key=len)]
        if kind == "float16":
            bound = np.abs(value) * 2.0**-11
        else:
            bound = np.full(value.shape, float(value.max() - value.min()) / (255 if kind == "uint8" else 65535) / 2)
        assert np.all(np.abs(quantized[key] - value) <= bound * 1.001 + 1e-9), (key, kind)
        if value.size > 2:  # a two-element weight is exactly its range's ends
            assert not np.array_equal(quantized[key], value), key
    assert set(kinds.values()) == ({"uint8"} if export == "keras2-uint8" else {"uint16", "float16"})


def _copy(tmp_path: Path, export: str = "keras2-uint8") -> Path:
    return Path(shutil.copytree(FIXTURES / export, tmp_path / export))


def _edit(folder: Path, change: Any) -> Path:
    document = json.loads((folder / "model.json").read_text())
    change(document)
    (folder / "model.json").write_text(json.dumps(document))
    return folder / "model.json"


def _first_weight(document: dict[str, Any]) -> dict[str, Any]:
    weight: dict[str, Any] = document["weightsManifest"][0]["weights"][0]
    return weight


DAMAGE = {
    "a missing shard": (lambda folder: (folder / "group1-shard2of2.bin").unlink(), "shard .* is missing"),
    "a truncated shard": (lambda folder: (folder / "group1-shard2of2.bin").write_bytes(b"\0" * 10),
                          "runs past the end of its shards"),
    "an extra byte": (lambda folder: (folder / "group1-shard2of2.bin").write_bytes(
        (folder / "group1-shard2of2.bin").read_bytes() + b"\0"), "a shard is missing, extra or from another export"),
    "a shard outside the folder": (lambda folder: _edit(folder, lambda d: d["weightsManifest"][0]["paths"].append(
        "../elsewhere.bin")), "outside model.json's folder"),
    "an absolute shard path": (lambda folder: _edit(folder, lambda d: d["weightsManifest"][0]["paths"].__setitem__(
        0, "/etc/passwd")), "not a file name beside model.json"),
    "a duplicate name": (lambda folder: _edit(folder, lambda d: d["weightsManifest"][0]["weights"][1].__setitem__(
        "name", _first_weight(d)["name"])), "listed twice"),
    "a weight of no layer": (lambda folder: _edit(folder, lambda d: _first_weight(d).__setitem__(
        "name", "nowhere/kernel")), "names no layer of the model config"),
    "an unknown quantization": (lambda folder: _edit(folder, lambda d: _first_weight(d)["quantization"].__setitem__(
        "dtype", "int4")), "not uint8, uint16 or float16"),
    "a missing scale": (lambda folder: _edit(folder, lambda d: _first_weight(d)["quantization"].pop("scale")),
                        "without a finite scale and min"),
    "a negative size": (lambda folder: _edit(folder, lambda d: _first_weight(d).__setitem__("shape", [-1, 3])),
                        "not a list of sizes"),
    "no manifest": (lambda folder: _edit(folder, lambda d: d.pop("weightsManifest")),
                    "not a TensorFlow.js layers model"),
    "not JSON": (lambda folder: (folder / "model.json").write_text("{ nope"), "not valid JSON"),
}


@pytest.mark.parametrize("damage", list(DAMAGE))
def test_a_damaged_export_gets_a_clear_error(tmp_path: Path, damage: str) -> None:
    folder = _copy(tmp_path)
    (tmp_path / "elsewhere.bin").write_bytes(b"\0" * 64)
    change, message = DAMAGE[damage]
    change(folder)
    with pytest.raises(KerasFileError, match=message) as raised:
        weights_port.convert(folder / "model.json").build()
    assert "model.json" in str(raised.value)


def test_a_symlinked_shard_leading_out_is_refused(tmp_path: Path) -> None:
    folder = _copy(tmp_path)
    shard = folder / "group1-shard1of2.bin"
    outside = tmp_path / "outside.bin"
    shutil.move(shard, outside)
    shard.symlink_to(outside)
    with pytest.raises(KerasFileError, match="refusing to read it"):
        weights_port.convert(folder / "model.json")
