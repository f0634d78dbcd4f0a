"""Any saved Keras model → one readable PyTorch source file, its state dict and a manifest.

``convert`` reads the architecture as JSON data and the weights with h5py (no TensorFlow,
no Keras, nothing executed), walks the graph once with the conversion table and returns
a ``Conversion``; ``Conversion.write`` puts the three files in place atomically.
"""

from __future__ import annotations

import contextvars
import json
import os
import re
import subprocess
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ._catalog import DEFAULT_RULES
from ._codegen import Emitter, Value, identifier
from ._convert_ops import emit_keras_op, emit_tf_op, emit_tf_op_layer, is_operation
from ._convert_rules import DEFAULT_CONVERT_RULES, ConvertRuleSet
from ._errors import KerasFileError, PortError, UnsupportedLayerError
from ._files import atomic_write, check_output_path
from ._graph import Graph, Layer, read_graph
from ._port import checked_array
from ._readers import open_keras, parse_json_object
from ._rules import RuleContext, RuleMismatch, RuleSet, TorchTarget
from ._source import KerasLayer, KerasSource, snake_case

__all__ = ["Conversion", "convert"]

RULES_IN_USE: contextvars.ContextVar[ConvertRuleSet] = contextvars.ContextVar("rules", default=DEFAULT_CONVERT_RULES)
"""The conversion table of the running conversion (wrappers such as TimeDistributed look up their inner layer)."""


@dataclass
class Conversion:
    """A converted model: the module's source, its ``state_dict`` (NumPy) and the manifest."""

    class_name: str
    source: str
    state_dict: dict[str, np.ndarray]
    manifest: dict[str, Any] = field(default_factory=dict)

    def build(self) -> Any:
        """The generated class, built with no argument, its state loaded strictly, in inference mode."""
        import types

        import torch

        module = types.ModuleType(f"converted_{self.class_name}")
        exec(compile(self.source, f"<converted {self.class_name}>", "exec"), module.__dict__)
        net = getattr(module, self.class_name)()
        net.load_state_dict({k: torch.from_numpy(np.ascontiguousarray(v)) for k, v in self.state_dict.items()},
                            strict=True)
        return net.eval()

    def write(self, directory: str | os.PathLike[str], module_name: str | None = None) -> list[Path]:
        """``<module>.py``, ``<module>.safetensors`` and ``<module>.json`` in ``directory``, all or none."""
        from safetensors.numpy import save_file

        out = Path(directory)
        if out.exists() and not out.is_dir():
            raise PortError(f"{out}: exists and is not a directory; give an output directory")
        out.mkdir(parents=True, exist_ok=True)
        stem = module_name or snake_case(self.class_name)
        paths = [out / f"{stem}.py", out / f"{stem}.safetensors", out / f"{stem}.json"]
        for path in paths:
            check_output_path(path)
        arrays = {k: np.ascontiguousarray(v) for k, v in self.state_dict.items()}
        writers = [lambda t: Path(t).write_text(self.source),
                   lambda t: save_file(arrays, t, metadata={"format": "pt", "class_name": self.class_name}),
                   lambda t: Path(t).write_text(json.dumps(self.manifest, indent=2) + "\n")]
        written: list[Path] = []
        try:
            for path, write in zip(paths, writers, strict=True):
                written.append(atomic_write(path, write))
        except BaseException:
            for path in written:
                path.unlink(missing_ok=True)
            raise
        return written


def convert(model: str | os.PathLike[str] | KerasSource, weights: str | os.PathLike[str] | None = None, *,
            class_name: str | None = None, dtype: str = "float32", rules: ConvertRuleSet = DEFAULT_CONVERT_RULES,
            port_rules: RuleSet = DEFAULT_RULES) -> Conversion:
    """Convert a saved Keras model (``.keras``, full-model ``.h5``, or a ``to_json()`` file with ``weights``).

    ``model`` may also be an open ``KerasSource`` that records its architecture.
    """
    if dtype not in ("float32", "float64"):
        raise PortError(f"dtype must be 'float32' or 'float64', got {dtype!r}")
    if isinstance(model, KerasSource):
        if model.model_config is None:
            raise KerasFileError(f"{model.description}: records no architecture to convert")
        return _convert(model.model_config, model, model.description.split(" [")[0], class_name, dtype, rules,
                        port_rules)
    path = Path(model)
    config, source = _open(path, Path(weights) if weights is not None else None)
    with source:
        return _convert(config, source, path.name, class_name, dtype, rules, port_rules)


def _convert(config: Mapping[str, Any], source: KerasSource, file_name: str, class_name: str | None, dtype: str,
             rules: ConvertRuleSet, port_rules: RuleSet) -> Conversion:
    graph = read_graph(config)
    version = source.keras_version or str(config.get("keras_version") or "3")
    converter = _Converter(graph, source, version, rules, port_rules, dtype)
    token = RULES_IN_USE.set(rules)
    try:
        return converter.run(class_name or _class_name(graph.name), Path(file_name).name)
    finally:
        RULES_IN_USE.reset(token)


def _open(path: Path, weights: Path | None) -> tuple[Mapping[str, Any], KerasSource]:
    if weights is not None:
        if not path.is_file():
            raise KerasFileError(f"{path}: no such file; pass the model.to_json() file and its weights")
        config = parse_json_object(path.read_bytes(), f"{path}")
        if config is None:
            raise KerasFileError(f"{path}: not a model.to_json() architecture (no JSON object)")
        return config, open_keras(weights, model_config=config)
    source = open_keras(path)
    if source.model_config is None:
        source.close()
        raise KerasFileError(f"{path}: holds weights but no architecture; pass the architecture too "
                             "(zoo convert model.json --weights FILE, with model.json from model.to_json())")
    return source.model_config, source


def _class_name(name: str) -> str:
    """The model's name as a class name: "MobileNetV3Small" stays, "small_cnn" becomes "SmallCnn"."""
    if name.isidentifier() and name[0].isupper():
        return name
    parts = [p for p in identifier(name).split("_") if p]
    text = "".join(p[:1].upper() + p[1:] for p in parts) or "Converted"
    return text if text[0].isalpha() else f"Model{text}"


class _Converter:
    def __init__(self, graph: Graph, source: KerasSource, version: str, rules: ConvertRuleSet, port_rules: RuleSet,
                 dtype: str) -> None:
        self.graph, self.source, self.rules, self.port_rules = graph, source, rules, port_rules
        self.version, self.dtype = version, np.dtype(dtype)
        self.by_name = {layer.name: layer for layer in source.layers}
        self.used: set[str] = set()
        major = version.split(".")[0]
        self.em = Emitter(self.arrays, self.port, int(major) if major.isdigit() else 3)

    # ------------------------------------------------------------------ weights

    def keras_layer(self, layer: Layer) -> KerasLayer | None:
        found = self.by_name.get(layer.name) or self.by_name.get(layer.name.rsplit("/", 1)[-1])
        if found is not None:
            self.used.add(found.name)
        return found

    def arrays(self, layer: Layer) -> list[np.ndarray]:
        found = self.keras_layer(layer)
        if found is None:
            return []
        arrays = [w.read() for w in found.weights]  # integer arrays (a Normalization's count) are the rule's to use
        return [checked_array(found, w.key, a) if a.dtype.kind not in "iub" else a
                for w, a in zip(found.weights, arrays, strict=True)]

    def port(self, layer: Layer, torch_type: str, keys: Sequence[str], hints: Mapping[str, Any] | None = None,
             attributes: Mapping[str, Any] | None = None) -> dict[str, np.ndarray]:
        found = self.keras_layer(layer)
        if found is None:
            raise KerasFileError(f"{layer.describe()} has no weights in the file")
        keras_layer = KerasLayer(found.name, layer.class_name, layer.config, found.weights)
        rule = next((r for r in self.port_rules.for_torch_type(torch_type) if r.keras_class == layer.class_name), None)
        if rule is None:
            raise UnsupportedLayerError(f"{layer.describe()}: no weights rule pairs it with PyTorch {torch_type}")
        target = TorchTarget(identifier(layer.name), torch_type, {k: () for k in keys}, dict(hints or {}),
                             dict(attributes or {}))
        try:
            state = rule.to_torch(self.arrays(layer), RuleContext(keras_layer, target, self.version))
        except RuleMismatch as exc:
            raise UnsupportedLayerError(f"{layer.describe()}: {exc}") from None
        if sorted(state) != sorted(keys):
            raise UnsupportedLayerError(f"{layer.describe()}: its weights give {sorted(state)}, the module holds "
                                        f"{sorted(keys)}")
        return dict(state)

    # ------------------------------------------------------------------ graph

    def run(self, class_name: str, file_name: str) -> Conversion:
        values: dict[int, Value] = {}
        preferred = self.preferred_layouts()
        signature = []
        for tensor, layer in self.graph.inputs:
            shape = tuple(layer.config.get("batch_shape") or layer.config.get("batch_input_shape") or [None])
            integer = str(layer.config.get("dtype", "float32")).startswith(("int", "uint"))
            layout = "cf" if len(shape) >= 3 and preferred.get(tensor.id) == "cf" and not integer else "keras"
            name = self.em.fresh(layer.name)
            values[tensor.id] = Value(name, tuple(None if s is None else int(s) for s in shape), layout, integer=integer)
            signature.append((layer.name, values[tensor.id]))
        layer_outputs: dict[str, list[Value]] = {}
        for op in self.graph.ops:
            emit = self.emitter(op.layer)
            outputs = emit(op, [values[t.id] for t in op.inputs], self.em)
            if len(outputs) != len(op.outputs):
                raise UnsupportedLayerError(f"{op.layer.describe()}: returns {len(op.outputs)} tensors in Keras, "
                                            f"the conversion gives {len(outputs)}")
            for ref, value in zip(op.outputs, outputs, strict=True):
                values[ref.id] = value
            layer_outputs.setdefault(op.layer.name, outputs)
        unused = [layer.name for layer in self.source.layers if layer.name not in self.used]
        if unused:
            raise KerasFileError(f"the file holds weights of layers the architecture does not use: {unused[:5]}")
        outputs = [self.em.to_layout(values[t.id], "keras") if values[t.id].layout == "flat_cf" else values[t.id]
                   for t in self.graph.outputs]
        manifest = self.manifest(class_name, file_name, signature, outputs, layer_outputs)
        source = _render(class_name, file_name, self, signature, outputs, manifest)
        state = {k: np.asarray(v, dtype=self.dtype) for k, v in self.em.state.items()}
        return Conversion(class_name, source, state, manifest)

    def emitter(self, layer: Layer) -> Any:
        """The rule's emitter; operation nodes (keras.ops calls, TFOpLambda) go through the ops table."""
        if is_operation(layer):
            return emit_keras_op
        if layer.class_name in ("TFOpLambda", "SlicingOpLambda"):
            return emit_tf_op
        if layer.class_name == "TensorFlowOpLayer":
            return emit_tf_op_layer
        rule = self.rules.get(layer.class_name)
        if rule is None:
            raise _unsupported(layer)
        return rule.emit

    def preferred_layouts(self) -> dict[int, str]:
        """Per tensor, the layout its first decisive consumer prefers (for choosing input layouts)."""
        preferred: dict[int, str] = {}
        for op in reversed(self.graph.ops):
            rule = None if is_operation(op.layer) else self.rules.get(op.layer.class_name)
            wanted = rule.layout if rule else "any"
            if wanted == "any":
                wanted = next((preferred[o.id] for o in op.outputs if o.id in preferred), "keras")
            for tensor in op.inputs:
                preferred[tensor.id] = wanted
        return preferred

    def manifest(self, class_name: str, file_name: str, signature: list[tuple[str, Value]], outputs: list[Value],
                 layer_outputs: Mapping[str, list[Value]]) -> dict[str, Any]:
        output_names = [_output_layer(self.graph, t.id) for t in self.graph.outputs]
        return {
            "class_name": class_name,
            "converted_from": file_name,
            "keras_version": self.version,
            "dtype": self.dtype.name,
            "inputs": [_tensor_entry(name, value) for name, value in signature],
            "outputs": [_tensor_entry(name, value) for name, value in zip(output_names, outputs, strict=True)],
            "layers": {name: {"modules": self.em.layer_map.get(name, []), "output": values[0].name,
                              "permutation": list(values[0].permutation), "flat_from": values[0].flat_from}
                       for name, values in layer_outputs.items()},
        }


def _output_layer(graph: Graph, tensor: int) -> str:
    for op in graph.ops:
        if any(o.id == tensor for o in op.outputs):
            return op.layer.name
    return next((layer.name for ref, layer in graph.inputs if ref.id == tensor), f"output_{tensor}")


def _tensor_entry(name: str, value: Value) -> dict[str, Any]:
    return {"name": name, "keras_shape": list(value.shape), "torch_shape": list(value.torch_shape),
            "permutation": list(value.permutation), "dtype": "int64" if value.integer else "float"}


def _unsupported(layer: Layer) -> UnsupportedLayerError:
    if layer.class_name == "Lambda":
        return UnsupportedLayerError(
            f"{layer.describe()} holds Python code, which is never run or unmarshalled; replace the Lambda by a "
            "built-in layer and re-save, or write its PyTorch equivalent into the generated module by hand")
    return UnsupportedLayerError(
        f"{layer.describe()} has no conversion rule; a plugin can add one through the zoo_convert_rules hook, "
        "or replace the layer by built-in ones and re-save")


def _shape_text(shape: Sequence[int | None]) -> str:
    return "(" + ", ".join("N" if i == 0 else ("?" if s is None else str(s)) for i, s in enumerate(shape)) + ")"


def _render(class_name: str, file_name: str, conv: _Converter, signature: list[tuple[str, Value]],
            outputs: list[Value], manifest: Mapping[str, Any]) -> str:
    em = conv.em
    layer_count = len({op.layer.name for op in conv.graph.ops})
    lines_in = [f"    {v.name}: {_shape_text(v.torch_shape)}  (Keras {_shape_text(v.shape)}, "
                f"permutation {tuple(v.permutation)})" for _, v in signature]
    lines_out = [f"    {e['name']}: {_shape_text(e['torch_shape'])}  (Keras {_shape_text(e['keras_shape'])}, "
                 f"permutation {tuple(e['permutation'])})" for e in manifest["outputs"]]
    doc = [f'"""{class_name}: converted from {file_name} (Keras {conv.version}, {layer_count} layers).', "",
           "Inputs, in Keras's input order (torch_array = keras_array.transpose(permutation)):", *lines_in,
           "Outputs:", *lines_out, '"""']
    args = ", ".join(f"{v.name}: torch.Tensor" for _, v in signature)
    returns = "torch.Tensor" if len(outputs) == 1 else f"tuple[{', '.join(['torch.Tensor'] * len(outputs))}]"
    result = outputs[0].name if len(outputs) == 1 else ", ".join(v.name for v in outputs)
    chain = _sequential_chain(em, [v.name for _, v in signature], [v.name for v in outputs]) \
        if conv.graph.sequential else None
    if chain is not None:  # a Keras Sequential whose every step is a module: an nn.Sequential
        entries = [f"            ({name!r}, {constructor})," for name, constructor in chain]
        body = [
            f"class {class_name}(nn.Sequential):",
            *(f"    {line}" if line else "" for line in doc),
            "",
            "    def __init__(self) -> None:",
            "        super().__init__(OrderedDict([",
            *entries,
            "        ]))",
            *(["        self.to(torch.float64)"] if conv.dtype == np.float64 else []),
        ]
    else:
        init = [f"        {line}" for line in em.init_lines] or ["        pass"]
        if conv.dtype == np.float64:
            init.append("        self.to(torch.float64)")
        forward = [f"        {line}" for line in _discard_unused([*em.forward_lines, f"return {result}"])]
        body = [
            f"class {class_name}(nn.Module):",
            *(f"    {line}" if line else "" for line in doc),
            "",
            "    def __init__(self) -> None:",
            "        super().__init__()",
            *init,
            "",
            f"    def forward(self, {args}) -> {returns}:",
            *forward,
        ]
    helpers = "\n\n\n".join(h.rstrip("\n") for h in em.helpers)
    text = "\n".join(body)
    uses_f = "F." in text or "F." in helpers
    header = [f'"""PyTorch module converted from the Keras model {file_name} by keras-torch-zoo.',
              "", "Depends on torch alone; load the weights with", f"    model = {class_name}()",
              f"    model.load_state_dict(safetensors.torch.load_file(\"{snake_case(class_name)}.safetensors\"))",
              '"""', "", "from __future__ import annotations", "",
              *(["from collections import OrderedDict", ""] if "OrderedDict(" in text else []), "import torch",
              *(["import torch.nn.functional as F"] if uses_f else []), "from torch import nn"]
    parts = ["\n".join(header)] + ([helpers] if helpers else []) + [text]
    return _formatted("\n\n\n".join(parts).replace("\n\n\n\n", "\n\n\n") + "\n")


_AS_MODULE: list[tuple[str, str]] = [
    (r"F\.relu\((\w+)\)", "nn.ReLU()"), (r"F\.relu6\((\w+)\)", "nn.ReLU6()"),
    (r"torch\.sigmoid\((\w+)\)", "nn.Sigmoid()"), (r"torch\.tanh\((\w+)\)", "nn.Tanh()"),
    (r"F\.silu\((\w+)\)", "nn.SiLU()"), (r"F\.gelu\((\w+)\)", "nn.GELU()"),
    (r"F\.gelu\((\w+), approximate=\"tanh\"\)", "nn.GELU(approximate=\"tanh\")"),
    (r"F\.softmax\((\w+), dim=(-?\d+)\)", "nn.Softmax(dim={1})"),
    (r"F\.log_softmax\((\w+), dim=(-?\d+)\)", "nn.LogSoftmax(dim={1})"),
    (r"F\.elu\((\w+)\)", "nn.ELU()"), (r"F\.elu\((\w+), ([\d.e+-]+)\)", "nn.ELU({1})"),
    (r"F\.selu\((\w+)\)", "nn.SELU()"), (r"F\.softplus\((\w+)\)", "nn.Softplus()"),
    (r"F\.softsign\((\w+)\)", "nn.Softsign()"), (r"F\.hardsigmoid\((\w+)\)", "nn.Hardsigmoid()"),
    (r"F\.hardswish\((\w+)\)", "nn.Hardswish()"), (r"F\.mish\((\w+)\)", "nn.Mish()"),
    (r"F\.leaky_relu\((\w+), ([\d.e+-]+)\)", "nn.LeakyReLU({1})"), (r"(\w+)\.flatten\(1\)", "nn.Flatten()"),
    (r"self\.(\w+)\((\w+)\)", "self"),
]
"""A forward step that is one call of one tensor, and the module computing it (``self``: the layer's own)."""


def _sequential_chain(em: Emitter, inputs: list[str], outputs: list[str]) -> list[tuple[str, str]] | None:
    """(name, constructor) of every step when ``forward`` is a chain of single-module calls; else None."""
    if len(inputs) != 1 or len(outputs) != 1 or any(not line.startswith("self.") or "(" not in line or
                                                     line.count(" = ") != 1 for line in em.init_lines):
        return None
    constructors = dict(line.removeprefix("self.").split(" = ", 1) for line in em.init_lines)
    chain: list[tuple[str, str]] = []
    current, taken = inputs[0], set(constructors)
    for line in em.forward_lines:
        target, _, expression = line.partition(" = ")
        for pattern, module in _AS_MODULE:
            found = re.fullmatch(pattern, expression)
            if not found:
                continue
            operand = found.group(2) if module == "self" else found.group(1)
            if operand != current:
                return None
            if module == "self":
                chain.append((found.group(1), constructors.pop(found.group(1))))
            else:
                name = target if target not in taken else f"{target}_{module[3:].split('(')[0].lower()}"
                if name in taken:
                    return None
                taken.add(name)
                chain.append((name, module.format(*found.groups())))
            current = target
            break
        else:
            return None
    return chain if current == outputs[0] and not constructors else None


def _discard_unused(lines: list[str]) -> list[str]:
    """Unpacked names no later line reads become ``_`` (a recurrent layer's unused final states)."""
    out = list(lines)
    for index, line in enumerate(out):
        target, sep, value = line.partition(" = ")
        if not sep or "," not in target:
            continue
        later = " ".join(out[index + 1:])
        names = re.findall(r"[A-Za-z_]\w*", target)
        for name in names:
            if not re.search(rf"\b{re.escape(name)}\b", later):
                target = re.sub(rf"\b{re.escape(name)}\b", "_", target)
        target = target.replace("(_, _)", "_")
        out[index] = f"{target} = {value}"
    return out


def _formatted(source: str) -> str:
    """``source`` through ``ruff format`` with its default style (88 columns), ignoring any user config.

    ruff is a dependency, so the same file always gives the same bytes for one ruff version.
    """
    result = subprocess.run([sys.executable, "-m", "ruff", "format", "--isolated", "--quiet", "-"], input=source,
                            capture_output=True, text=True, check=False)
    if result.returncode != 0:  # a generator bug: keep the unformatted source visible rather than fail the user
        raise PortError(f"formatting the generated source failed ({result.stderr.strip()[:300]}); please report it")
    return result.stdout
