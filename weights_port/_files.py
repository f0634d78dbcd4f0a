"""Writing ported weights: safetensors, atomically, never over the input."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable, Mapping
from pathlib import Path

import numpy as np

from ._errors import PortError

__all__ = ["atomic_write", "check_output_path", "save_safetensors"]


def atomic_write(path: str | os.PathLike[str], write: Callable[[str], None], *, protect: tuple[Path, ...] = (),
                 suffix: str = ".part") -> Path:
    """Run ``write(temp_path)`` then rename into place: a failure leaves no partial file.

    ``suffix`` ends the temporary name, for writers that insist on one (".weights.h5").
    """
    target = check_output_path(path, protect)
    directory = target.parent
    handle, temp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=f".part{suffix}" if suffix != ".part" else suffix,
                                    dir=directory)
    os.close(handle)
    try:
        write(temp)
        os.chmod(temp, 0o666 & ~_umask())  # mkstemp makes 0600; give the usual permissions
        os.replace(temp, target)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise
    return target


def check_output_path(path: str | os.PathLike[str], protect: tuple[Path, ...] = ()) -> Path:
    """The output path, or a PortError if it is an input, a directory, or in no directory."""
    target = Path(path)
    for protected in protect:
        if protected.exists() and target.exists() and target.resolve() == protected.resolve():
            raise PortError(f"{target}: refusing to overwrite the input file; choose another output path")
    if target.is_dir():
        raise PortError(f"{target}: is a directory; give a file name such as {target / 'model.safetensors'}")
    if not target.parent.is_dir():
        raise PortError(f"{target}: the directory {target.parent} does not exist")
    return target


def save_safetensors(state: Mapping[str, np.ndarray], path: str | os.PathLike[str], *,
                     metadata: Mapping[str, str] | None = None, protect: tuple[Path, ...] = ()) -> Path:
    from safetensors.numpy import save_file

    arrays = {key: np.ascontiguousarray(value) for key, value in state.items()}
    return atomic_write(path, lambda temp: save_file(arrays, temp, metadata=dict(metadata or {})), protect=protect)


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask
