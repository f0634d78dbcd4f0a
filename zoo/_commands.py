"""``zoo convert`` and ``zoo check``: the commands that prove equivalence. The checkers live in
``equivalence_tests`` (they need Keras and hypothesis) and are imported only when a command runs them, so
``zoo list`` and ``zoo port`` never import the suite, and no module of ``zoo`` imports it at load time."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from ._terminal import EXIT_MISMATCH, config_options, one_line, quiet_tensorflow_import

__all__ = ["add_check", "add_convert"]


def add_convert(commands: Any) -> None:
    """``zoo convert FILE -o OUT_DIR [--check]``: any Keras model → PyTorch source, weights, manifest."""
    convert = commands.add_parser("convert", help="convert any saved Keras model to PyTorch source + weights")
    convert.add_argument("model", type=Path, help="a .keras, a full-model .h5, a tf.keras SavedModel folder, "
                         "a TensorFlow.js model.json, or a model.to_json() file")
    convert.add_argument("--weights", type=Path, help="the weights file that goes with a model.to_json() file")
    convert.add_argument("-o", "--output", type=Path, required=True, metavar="OUT_DIR",
                         help="directory for <module>.py, <module>.safetensors and <module>.json")
    convert.add_argument("--class-name", help="name of the generated nn.Module class")
    convert.add_argument("--dtype", default="float32", choices=("float32", "float64"))
    convert.add_argument("--check", action="store_true",
                         help="compare with Keras (needs Keras) in float32 and float64; exit 1 on mismatch")
    convert.add_argument("--rules", type=Path, metavar="FILE.py",
                         help="a Python file defining zoo_convert_rules() (and zoo_port_rules()), the plugin hooks, "
                              "for custom layers")
    convert.add_argument("--stub-unknown", action="store_true",
                         help="turn each layer without a rule into a module that holds its weights and whose forward "
                              "raises NotImplementedError, for you to write")
    convert.add_argument("--flat", action="store_true",
                         help="one forward with one step per Keras layer, to diff against Keras layer by layer (default: "
                              "forward_features, forward_head and a replaceable self.head where the model is a "
                              "classifier)")
    convert.add_argument("--input-shape", action="append", type=_shape, metavar="D1,D2,...",
                         help="--check's input shape without the batch axis, one per input in order (default: the "
                              "declared shape, free image axes the smallest size the model accepts)")
    convert.set_defaults(run=_convert)


def _shape(text: str) -> tuple[int, ...]:
    try:
        shape = tuple(int(v) for v in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a comma-separated list of sizes (224,224,3)") from None
    if not shape or any(v <= 0 for v in shape):
        raise argparse.ArgumentTypeError(f"{text!r}: sizes must be positive")
    return shape


def add_check(commands: Any) -> None:
    """``zoo check NAME... | --all``: the equivalence property of registered architectures."""
    check = commands.add_parser("check", help="prove Keras and PyTorch builders compute the same function")
    check.add_argument("names", nargs="*", metavar="NAME")
    check.add_argument("--all", action="store_true", help="check every registered architecture")
    config_options(check)
    check.add_argument("--examples", type=int, default=3, metavar="N",
                       help="random weight/input draws per architecture (default 3)")
    check.add_argument("--format", default=".keras", choices=(".keras", ".weights.h5", ".h5"),
                       help="file format the Keras weights travel through (default .keras)")
    check.add_argument("--seed", type=int, default=0)
    check.add_argument("--device", default="cpu", help="device of the PyTorch side, e.g. cuda (TF32 off in both)")
    check.add_argument("--train", action="store_true",
                       help="prove training instead: the same steps in Keras and PyTorch leave the same weights")
    check.add_argument("--optimizer", default="adam", metavar="NAME|JSON",
                       help='with --train: a Keras optimizer name or keras.optimizers.serialize JSON (default adam)')
    check.add_argument("--loss", default="mean_squared_error", metavar="NAME",
                       help="with --train: a Keras loss name (default mean_squared_error)")
    check.add_argument("--steps", type=int, default=3, metavar="K", help="with --train: training steps (default 3)")
    check.set_defaults(run=_check)


def _convert(args: argparse.Namespace) -> int:
    import weights_port

    from ._plugins import host, rules_from_file

    extra_convert, extra_port = rules_from_file(args.rules) if args.rules is not None else ([], [])
    rules = weights_port.DEFAULT_CONVERT_RULES.extended([*host().convert_rules, *extra_convert])
    port_rules = weights_port.DEFAULT_RULES.extended([*host().port_rules, *extra_port])
    conversion = weights_port.convert(args.model, args.weights, class_name=args.class_name, dtype=args.dtype,
                                      rules=rules, port_rules=port_rules, stub_unknown=args.stub_unknown,
                                      flat=args.flat)
    for path in conversion.write(args.output):
        print(f"wrote {path}")
    stubs = conversion.manifest.get("stubs") or {}
    for layer, keras_class in stubs.items():
        print(f"stub: {one_line(layer)} ({one_line(keras_class)}) holds its weights; its forward raises "
              "NotImplementedError until you write it")
    if not args.check:
        return 0
    if stubs:
        print(f"not checked: {len(stubs)} layer(s) remain stubs ({', '.join(one_line(n) for n in stubs)}); write "
              "their forward, or pass --rules with a rule for each, then check")
        return EXIT_MISMATCH
    quiet_tensorflow_import()
    from equivalence_tests import check_conversion

    check = check_conversion(args.model, args.weights, class_name=args.class_name, rules=rules, port_rules=port_rules,
                             input_shape=args.input_shape, flat=args.flat)
    for result in check.results:
        status = "ok" if result.agreement.passed else "MISMATCH"
        print(f"{result.dtype:8} {one_line(result.output):30} max abs {result.agreement.max_abs:.2e}  "
              f"max rel {result.agreement.max_rel:.2e}  {status}")
    for allowance in check.allowances:
        print(f"note: float64 held to {allowance.rtol:g} relative: TensorFlow's {allowance.kernel} is not float64-"
              f"accurate ({allowance.measured})")
    for note in check.notes:
        print(f"note: {one_line(note)}")
    for report in check.reports:
        print(one_line(report))
    return 0 if check.passed else EXIT_MISMATCH


def _check(args: argparse.Namespace) -> int:
    import zoo
    from equivalence_tests import check_architecture

    from ._api import architecture, config_from_pairs
    from ._spec import resolve_config

    names = zoo.list_models() if args.all else list(args.names)
    if not names:
        raise zoo.ConfigError("name at least one architecture, or pass --all")
    if args.examples < 1:
        raise zoo.ConfigError(f"--examples must be at least 1, got {args.examples}")
    if args.all and args.config:
        raise zoo.ConfigError("--config cannot be combined with --all: each architecture has its own keywords; "
                              "name the architectures to check with that config")
    config = config_from_pairs(args.config)
    for name in names:  # validate everything before the slow part starts
        resolve_config(architecture(name), config)
    quiet_tensorflow_import()
    if args.train:
        return _check_training(names, config, args)
    progress = _Progress(len(names))
    results = []
    for index, name in enumerate(names):
        progress.start(index, name)
        results.append(check_architecture(name, config, args.dtype, examples=args.examples,
                                          seed=args.seed, file_format=args.format, device=args.device,
                                          progress=progress.example))
    progress.done()
    _print_table(results)
    failures = [r for r in results if not r.passed]
    for result in results:
        for remark in result.remarks:
            print(f"note: {result.name}: {remark}")
    for result in failures:
        print(f"\n{result.report}")
        for note in result.notes:
            print(f"  note: {note}")
    if args.device != "cpu":
        print(f"\nPyTorch ran on {args.device} with TF32 switched off in PyTorch and TensorFlow.")
    return EXIT_MISMATCH if failures else 0


def _check_training(names: list[str], config: dict[str, Any], args: argparse.Namespace) -> int:
    import json

    import zoo
    from equivalence_tests import train_both

    if args.steps < 1:
        raise zoo.ConfigError(f"--steps must be at least 1, got {args.steps}")
    text = args.optimizer.strip()
    optimizer = json.loads(text) if text.startswith("{") else {"class_name": text, "config": {}}
    optimizer = _keras_optimizer_config(optimizer)
    failures = 0
    print(f"{'architecture':24} {'dtype':8} {'steps':5} {'worst rel':10} result")
    for name in names:
        report = train_both(name, config, args.dtype, optimizer, args.loss, args.steps, seed=args.seed)
        failures += not report.ok
        print(f"{name:24} {args.dtype:8} {len(report.losses):<5} {report.worst:<10.2e} "
              f"{'ok' if report.ok else 'MISMATCH'}")
        if report.problem:
            print(f"  {report.problem}")
    return EXIT_MISMATCH if failures else 0


def _keras_optimizer_config(config: dict[str, Any]) -> dict[str, Any]:
    """A name in any case ("adam") → Keras's class name, so keras.optimizers.deserialize accepts it."""
    from .training import OPTIMIZERS, TrainingConfigError

    names = {name.lower(): name for name in OPTIMIZERS}
    class_name = names.get(str(config.get("class_name", "")).lower())
    if class_name is None:
        raise TrainingConfigError(f"optimizer {config.get('class_name')!r} is not reproduced; "
                                  f"supported: {', '.join(OPTIMIZERS)}")
    return {"class_name": class_name, "config": dict(config.get("config") or {})}


class _Progress:
    """One status line on stderr while checks run (rewritten in place on a terminal)."""

    def __init__(self, total: int) -> None:
        self.total, self.name, self.index = total, "", 0
        self.live = sys.stderr.isatty()

    def start(self, index: int, name: str) -> None:
        self.index, self.name = index, name
        self._show(f"[{index + 1}/{self.total}] {name}: building models")

    def example(self, name: str, number: int, count: int) -> None:
        self._show(f"[{self.index + 1}/{self.total}] {name}: example {number}/{count}")

    def _show(self, text: str) -> None:
        if self.live:
            print(f"\r\033[K{text}", end="", file=sys.stderr, flush=True)
        else:
            print(text, file=sys.stderr, flush=True)

    def done(self) -> None:
        if self.live:
            print("\r\033[K", end="", file=sys.stderr, flush=True)


def _print_table(results: list[Any]) -> None:
    headers = ("architecture", "dtype", "examples", "max abs", "max rel", "time", "result")
    rows = [(r.name, r.dtype, str(r.examples), f"{r.max_abs:.2e}", f"{r.max_rel:.2e}", f"{r.seconds:.1f}s",
             "ok" if r.passed else "MISMATCH") for r in results]
    widths = [max(len(h), *(len(row[i]) for row in rows)) for i, h in enumerate(headers)]
    for row in (headers, tuple("-" * w for w in widths), *rows):
        print("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=False)).rstrip())
