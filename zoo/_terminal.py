"""What every ``zoo`` subcommand shares: exit codes, one-line messages, config options, a quiet TensorFlow import."""

from __future__ import annotations

import argparse
import os
import sys

__all__ = ["EXIT_MISMATCH", "EXIT_USAGE", "config_options", "one_line", "quiet_tensorflow_import"]

EXIT_MISMATCH = 1
EXIT_USAGE = 2


def one_line(text: str) -> str:
    """A message for the terminal: control characters (a file's name may hold newlines or escape sequences)
    shown escaped, so an error stays one line and cannot drive the terminal."""
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)


def config_options(parser: argparse.ArgumentParser) -> None:
    """--config KEY=VALUE... and --dtype, as every command taking an architecture config has them."""
    parser.add_argument("--config", action="extend", nargs="+", default=[], metavar="KEY=VALUE",
                        help="config keywords; VALUE is a JSON or Python literal (hidden=[64,32] or hidden=(64,32))")
    parser.add_argument("--dtype", default="float32", choices=("float32", "float64"))


def quiet_tensorflow_import() -> None:
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
