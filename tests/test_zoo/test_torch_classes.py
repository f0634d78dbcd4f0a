"""Every PyTorch model is an importable, module-level class: subclassable, picklable, documented.

``torch.save(model)`` pickles a module by its class's import path, so a class defined
inside a builder function cannot be saved; these tests hold every registered architecture
(plugins included) to the import path ``zoo info`` shows.
"""

from __future__ import annotations

import importlib
import inspect
import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from hypothesis import find
from subprocess_helpers import run_python

import zoo
from equivalence_tests._random import random_inputs
from zoo import TorchClass
from zoo._api import architecture

NAMES = zoo.list_models()


def _smallest_config(name: str) -> dict[str, Any]:
    """The strategy's minimal config (hypothesis shrinks towards it): small, and the same every run."""
    arch = architecture(name)
    return {} if arch.config_strategy is None else dict(find(arch.config_strategy(), lambda _: True))


def _torch_inputs(name: str, config: dict[str, Any], seed: int = 0) -> list[torch.Tensor]:
    specs = zoo.info(name).inputs if not config else architecture(name).inputs({**architecture(name).defaults,
                                                                                 **config})
    arrays = random_inputs(specs, 2, "float64", np.random.default_rng(seed))
    return [torch.from_numpy(spec.keras_to_torch(a)) for spec, a in zip(specs, arrays, strict=True)]


def _import(line: str) -> type:
    module, _, name = line.removeprefix("from ").partition(" import ")
    return getattr(importlib.import_module(module), name)


@pytest.mark.parametrize("name", NAMES)
def test_info_names_a_module_level_class_whose_defaults_are_the_configs(name: str) -> None:
    line = zoo.info(name).torch_class
    assert line is not None and line.startswith("from "), f"{name}: no import path declared ({line!r})"
    cls = _import(line)
    assert issubclass(cls, torch.nn.Module) and "<locals>" not in cls.__qualname__
    keywords = {k: p.default for k, p in inspect.signature(cls).parameters.items() if p.kind is p.KEYWORD_ONLY}
    assert keywords == architecture(name).defaults, f"{cls.__name__}'s keyword defaults differ from zoo info's"


@pytest.mark.parametrize("name", NAMES)
def test_built_model_is_an_instance_of_the_documented_class(name: str) -> None:
    config = _smallest_config(name)
    model = zoo.get(name, backend="torch", dtype="float64", **config)
    cls = _import(zoo.info(name).torch_class or "")
    assert type(model) is cls

    class Tagged(cls):  # type: ignore[misc, valid-type]  # subclassing is part of the contract
        pass

    assert isinstance(Tagged(**config), cls)


_REPRESENTATIVES = ["mlp", "cifar_cnn", "siamese", "text_attention"]
"""One model per kind of module (dense, convolutional, two-input, attention) for the default run; the sweep takes
every model."""


@pytest.mark.parametrize("names", [
    pytest.param(_REPRESENTATIVES, id="representatives"),
    pytest.param([n for n in NAMES if n not in _REPRESENTATIVES], id="the-rest", marks=pytest.mark.sweep)])
def test_every_model_round_trips_through_torch_save_and_load_in_a_fresh_process(names: list[str],
                                                                                 tmp_path: Path) -> None:
    """Saved here, loaded in a new interpreter: unpickling must find each class by its import path."""
    expected = {}
    for name in names:
        config = _smallest_config(name)
        model = zoo.get(name, backend="torch", dtype="float64", **config).eval()
        inputs = _torch_inputs(name, config)
        torch.save({"model": model, "inputs": inputs}, tmp_path / f"{name}.pt")
        with torch.no_grad():
            expected[name] = [model(*inputs).numpy().tolist(), type(model).__module__ + "." + type(model).__qualname__]
    (tmp_path / "expected.json").write_text(json.dumps(expected))
    result = run_python(f"""
        import json, torch
        from pathlib import Path
        folder = Path({str(tmp_path)!r})
        expected = json.loads((folder / "expected.json").read_text())
        for name, (outputs, qualified) in expected.items():
            saved = torch.load(folder / f"{{name}}.pt", weights_only=False)  # our own file: a full pickle
            model = saved["model"]
            assert type(model).__module__ + "." + type(model).__qualname__ == qualified, (name, type(model))
            with torch.no_grad():
                got = model(*saved["inputs"]).numpy().tolist()
            assert got == outputs, name
            print("ok", name)
    """)
    assert result.returncode == 0, result.stderr
    assert sorted(line.split()[1] for line in result.stdout.splitlines()) == sorted(names)


def test_torch_class_builds_in_the_requested_dtype_and_rejects_bad_paths() -> None:
    builder = TorchClass("zoo.architectures.mlp.torch_model:MLP")
    model = builder(dtype="float64", in_features=3, hidden=(2,), num_classes=2)
    assert {p.dtype for p in model.parameters()} == {torch.float64}
    assert builder.import_line == "from zoo.architectures.mlp.torch_model import MLP"
    with pytest.raises(ValueError, match="package.module:name"):
        TorchClass("zoo.architectures.mlp.torch_model.MLP")


def test_cli_info_prints_the_import_line(capsys: pytest.CaptureFixture[str]) -> None:
    from zoo._cli import main

    assert main(["info", "cifar_cnn"]) == 0
    assert "PyTorch class: from zoo.architectures.cifar_cnn.torch_model import CifarCNN" in capsys.readouterr().out
