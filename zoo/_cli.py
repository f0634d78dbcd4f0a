"""The ``zoo`` command: list, info, plugins, port, convert, check.

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

from ._commands import add_check, add_convert
from ._terminal import EXIT_USAGE, config_options, one_line, quiet_tensorflow_import

__all__ = ["COMMANDS_GROUP", "main"]

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
        print(f"zoo: error: {one_line(str(exc))}", file=sys.stderr)
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
    config_options(port)
    port.set_defaults(run=_port)

    add_convert(commands)
    add_check(commands)
    _add_contributed_commands(commands)
    return parser


COMMANDS_GROUP = "zoo.commands"
"""Entry points adding subcommands for other distributions: each names ``add(subparsers)``; a name the zoo
already has is skipped with a warning."""


def _add_contributed_commands(commands: Any) -> None:
    import importlib.metadata

    for entry_point in sorted(importlib.metadata.entry_points(group=COMMANDS_GROUP), key=lambda ep: ep.name):
        if entry_point.name in commands.choices:
            print(f"zoo: warning: command '{entry_point.name}' from {entry_point.value} is skipped: the zoo has one",
                  file=sys.stderr)
            continue
        try:
            add = entry_point.load()
        except Exception as exc:  # a broken install must not take the other commands down
            print(f"zoo: warning: command '{entry_point.name}' unavailable ({type(exc).__name__}: {exc})",
                  file=sys.stderr)
            continue
        add(commands)


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
    print(f"PyTorch class: {model.torch_class or 'not declared (the builder makes it)'}")
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

    from ._api import config_from_pairs
    from ._formats import TORCH_WEIGHT_SUFFIXES

    config = config_from_pairs(args.config)
    if args.weights.suffix.lower() in TORCH_WEIGHT_SUFFIXES:
        quiet_tensorflow_import()  # PyTorch → Keras builds the Keras model
    written = zoo.port(args.name, args.weights, args.output, dtype=args.dtype, **config)
    print(f"wrote {written}")
    return 0
