"""The ``zoo`` command: list, info, plugins, port, check.

Every user mistake ends with one ``zoo: error: ...`` line on stderr and exit status 2;
a failed equivalence check exits 1. No traceback reaches the user for bad input.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

__all__ = ["main"]

EXIT_MISMATCH = 1
EXIT_USAGE = 2


def main(argv: Sequence[str] | None = None) -> int:
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    # TensorFlow's oneDNN kernels announce themselves on stderr at import; the check
    # compares against TensorFlow's reference kernels instead (override by setting it).
    os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")
    parser = _parser()
    args = parser.parse_args(argv)
    if not getattr(args, "command", None):
        parser.print_help()
        return EXIT_USAGE
    from weights_port import PortError

    from ._errors import ZooError

    previous = signal.signal(signal.SIGTERM, _terminate)
    try:
        return int(args.run(args))
    except (ZooError, PortError) as exc:
        print(f"zoo: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt as exc:
        print(f"zoo: {'terminated' if isinstance(exc, _Terminated) else 'interrupted'}; no output was written",
              file=sys.stderr)
        return 128 + (signal.SIGTERM if isinstance(exc, _Terminated) else signal.SIGINT)
    except BrokenPipeError:  # `zoo list | head -1`: the reader left, which is no error
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # no second error at exit
        return 0
    finally:
        signal.signal(signal.SIGTERM, previous)


class _Terminated(KeyboardInterrupt):
    """SIGTERM, raised like Ctrl-C so every clean-up path runs (no partial output is left)."""


def _terminate(signum: int, frame: Any) -> None:
    raise _Terminated()


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="zoo", description="Keras ⇄ PyTorch model zoo.")
    parser.add_argument("--version", action="version", version=f"%(prog)s {_version()}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")

    listing = commands.add_parser("list", help="list registered architectures")
    listing.add_argument("patterns", nargs="*", metavar="PATTERN", help="shell-style filters, e.g. '*cnn'")
    listing.set_defaults(run=_list)

    info = commands.add_parser("info", help="describe an architecture")
    info.add_argument("name")
    info.set_defaults(run=_info)

    plugins = commands.add_parser("plugins", help="list plugins, their architectures and errors")
    plugins.set_defaults(run=_plugins)

    port = commands.add_parser("port", help="port weights Keras → PyTorch or back; the direction follows the files")
    port.add_argument("name")
    port.add_argument("weights", type=Path,
                      help="Keras file (.keras, .weights.h5, .h5) or PyTorch state dict (.safetensors, .pt)")
    port.add_argument("-o", "--output", type=Path, required=True,
                      help="output: .safetensors (from Keras) or .weights.h5 / .keras (from PyTorch)")
    _config_options(port)
    port.set_defaults(run=_port)

    convert = commands.add_parser("convert", help="convert any saved Keras model to PyTorch source + weights")
    convert.add_argument("model", type=Path, help="a .keras, a full-model .h5, or a model.to_json() file")
    convert.add_argument("--weights", type=Path, help="the weights file that goes with a model.to_json() file")
    convert.add_argument("-o", "--output", type=Path, required=True, metavar="OUT_DIR",
                         help="directory for <module>.py, <module>.safetensors and <module>.json")
    convert.add_argument("--class-name", help="name of the generated nn.Module class")
    convert.add_argument("--dtype", default="float32", choices=("float32", "float64"))
    convert.add_argument("--check", action="store_true",
                         help="compare with Keras (needs Keras) in float32 and float64; exit 1 on mismatch")
    convert.set_defaults(run=_convert)

    check = commands.add_parser("check", help="prove Keras and PyTorch builders compute the same function")
    check.add_argument("names", nargs="*", metavar="NAME")
    check.add_argument("--all", action="store_true", help="check every registered architecture")
    _config_options(check)
    check.add_argument("--examples", type=int, default=3, metavar="N",
                       help="random weight/input draws per architecture (default 3)")
    check.add_argument("--format", default=".keras", choices=(".keras", ".weights.h5", ".h5"),
                       help="file format the Keras weights travel through (default .keras)")
    check.add_argument("--seed", type=int, default=0)
    check.add_argument("--device", default="cpu", help="device of the PyTorch side, e.g. cuda (TF32 off in both)")
    check.set_defaults(run=_check)
    return parser


def _config_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", action="extend", nargs="+", default=[], metavar="KEY=VALUE",
                        help="config keywords; VALUE is a JSON or Python literal (hidden=[64,32] or hidden=(64,32))")
    parser.add_argument("--dtype", default="float32", choices=("float32", "float64"))


def _list(args: argparse.Namespace) -> int:
    import zoo

    names = sorted({n for pattern in args.patterns or [None] for n in zoo.list_models(pattern)})
    if not names:
        raise zoo.UnknownModelError(f"no architecture matches {' '.join(map(repr, args.patterns))}; "
                                    f"`zoo list` shows all {len(zoo.list_models())}")
    for name in names:
        print(name)
    return 0


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("keras-torch-zoo")
    except PackageNotFoundError:
        return "unknown"


def _info(args: argparse.Namespace) -> int:
    import zoo

    model = zoo.info(args.name)
    print(f"{model.name}: {model.description}")
    print(f"source: {model.source}")
    print(f"registered by: {model.registered_by}")
    print("config (defaults):")
    for key, value in model.defaults.items():
        print(f"  {key} = {value!r}")
    for title, specs in (("inputs", model.inputs), ("outputs", model.outputs)):
        print(f"{title} (per sample; Keras | PyTorch):")
        for spec in specs:
            print(f"  {spec.name}: {_shape(spec.keras_shape)} | {_shape(spec.torch_shape)} {spec.dtype}")
    return 0


def _shape(shape: Sequence[int | None]) -> str:
    return "(N, " + ", ".join("T" if n is None else str(n) for n in shape) + ")"


def _plugins(args: argparse.Namespace) -> int:
    import warnings

    import zoo

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", zoo.ZooPluginWarning)  # shown below, in full
        reports = zoo.plugins()
    for report in reports:
        status = f"ERROR: {report.error}" if report.error else "ok"
        print(f"{report.name} ({report.source or 'unknown distribution'}): {status}")
        print(f"  architectures: {', '.join(report.architectures) or '-'}")
        if report.rules:
            print(f"  porting rules: {', '.join(report.rules)}")
    return 0


def _port(args: argparse.Namespace) -> int:
    import zoo

    from ._api import config_from_pairs, torch_weight_suffixes

    config = config_from_pairs(args.config)
    if args.weights.suffix.lower() in torch_weight_suffixes:
        _quiet_tensorflow_import()  # PyTorch → Keras builds the Keras model
    written = zoo.port(args.name, args.weights, args.output, dtype=args.dtype, **config)
    print(f"wrote {written}")
    return 0


def _convert(args: argparse.Namespace) -> int:
    import weights_port

    from ._plugins import host

    if args.class_name is not None and not args.class_name.isidentifier():
        raise weights_port.PortError(f"--class-name {args.class_name!r} is not a Python identifier")
    rules = weights_port.DEFAULT_CONVERT_RULES.extended(host().convert_rules)
    port_rules = weights_port.DEFAULT_RULES.extended(host().port_rules)
    conversion = weights_port.convert(args.model, args.weights, class_name=args.class_name, dtype=args.dtype,
                                      rules=rules, port_rules=port_rules)
    for path in conversion.write(args.output):
        print(f"wrote {path}")
    if not args.check:
        return 0
    _quiet_tensorflow_import()
    from equivalence_tests import check_conversion

    check = check_conversion(args.model, args.weights, class_name=args.class_name, rules=rules, port_rules=port_rules)
    for result in check.results:
        status = "ok" if result.agreement.passed else "MISMATCH"
        print(f"{result.dtype:8} {result.output:30} max abs {result.agreement.max_abs:.2e}  "
              f"max rel {result.agreement.max_rel:.2e}  {status}")
    for allowance in check.allowances:
        print(f"note: float64 held to {allowance.rtol:g} relative: TensorFlow's {allowance.kernel} is not float64-"
              f"accurate ({allowance.measured})")
    for note in check.notes:
        print(f"note: {note}")
    for report in check.reports:
        print(report)
    return 0 if check.passed else EXIT_MISMATCH


def _quiet_tensorflow_import() -> None:
    """Import TensorFlow with file descriptor 2 muted: its C++ start-up lines (CUDA probing,
    absl notices) bypass Python and TF_CPP_MIN_LOG_LEVEL, and would bury the output."""
    import logging

    logging.getLogger("absl").setLevel(logging.ERROR)  # "saving as HDF5 is legacy" on every .h5 check
    if "tensorflow" in sys.modules:
        return
    saved = os.dup(2)
    try:
        with open(os.devnull, "w") as devnull:
            os.dup2(devnull.fileno(), 2)
            try:
                import tensorflow  # noqa: F401
            except ImportError:
                pass  # reported properly where Keras is needed
    finally:
        os.dup2(saved, 2)
        os.close(saved)


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
    _quiet_tensorflow_import()
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
