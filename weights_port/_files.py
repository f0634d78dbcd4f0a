"""Writing ported weights: safetensors, atomically, never over the input."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable, Mapping
from pathlib import Path

import numpy as np

from ._errors import OutputError, PortError

__all__ = ["atomic_write", "check_output_path", "save_safetensors"]


def atomic_write(path: str | os.PathLike[str], write: Callable[[str], object], *, protect: tuple[Path, ...] = (),
                 suffix: str = ".part") -> Path:
    """Run ``write(temp_path)`` then rename into place: a failure leaves no partial file.

    ``suffix`` ends the temporary name, for writers that insist on one (".weights.h5").
    A failure to write (full disk, read-only directory, a path the system refuses) is an
    ``OutputError`` naming the user's path, never the hidden temporary one.
    """
    target = check_output_path(path, protect)
    try:
        handle, temp = tempfile.mkstemp(prefix=_temp_prefix(target, suffix), suffix=suffix, dir=target.parent)
    except OSError as exc:
        raise OutputError(f"{target}: cannot write here ({_reason(exc)})") from None
    os.close(handle)
    try:
        write(temp)
        os.chmod(temp, 0o666 & ~_umask())  # mkstemp makes 0600; give the usual permissions
        os.replace(temp, target)
    except PortError:
        Path(temp).unlink(missing_ok=True)
        raise
    except Exception as exc:  # OSError, or a writer's own I/O error type (safetensors')
        Path(temp).unlink(missing_ok=True)
        if not _is_io_error(exc):
            raise
        raise OutputError(f"{target}: writing failed ({_reason(exc)}); nothing was written") from None
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise
    return target


def _temp_prefix(target: Path, suffix: str) -> str:
    """A hidden name beside the target that fits the file-name limit whatever the target's length."""
    room = _name_max(target.parent) - len(os.fsencode(suffix)) - 10  # mkstemp adds 8 random characters
    stem = os.fsencode(target.name)[: max(room - 2, 0)].decode(errors="ignore")
    return f".{stem}."


def _name_max(directory: Path) -> int:
    try:
        return int(os.pathconf(directory, "PC_NAME_MAX"))
    except (OSError, ValueError):
        return 255


def _is_io_error(exc: BaseException) -> bool:
    return isinstance(exc, OSError) or "I/O error" in str(exc) or "os error" in str(exc)


def _reason(exc: BaseException) -> str:
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return text.split("I/O error: ")[-1][:200]


def check_output_path(path: str | os.PathLike[str], protect: tuple[Path, ...] = ()) -> Path:
    """The output path, or a PortError if it is an input, a directory, in no directory, or too long a name."""
    target = Path(path)
    length, limit = len(os.fsencode(target.name)), _name_max(target.parent)
    if length > limit:
        raise OutputError(f"{target.name[:40]}...: the file name is {length} bytes long; this file system allows "
                          f"{limit}; choose a shorter name")
    for protected in protect:
        if protected.exists() and target.exists() and target.resolve() == protected.resolve():
            raise OutputError(f"{target}: refusing to overwrite the input file; choose another output path")
    if target.is_dir():
        raise OutputError(f"{target}: is a directory; give a file name such as {target / 'model.safetensors'}")
    if not target.parent.is_dir():
        raise OutputError(f"{target}: the directory {target.parent} does not exist")
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
