"""Name → architecture, with the source that registered it."""

from __future__ import annotations

import difflib
import fnmatch
from dataclasses import dataclass

from ._errors import DuplicateModelError, UnknownModelError
from ._spec import Architecture

__all__ = ["Entry", "Registry"]


@dataclass(frozen=True)
class Entry:
    architecture: Architecture
    source: str  # "zoo (built-in)" or "<distribution> <version>"


class Registry:
    def __init__(self) -> None:
        self._entries: dict[str, Entry] = {}

    def register(self, architecture: Architecture, source: str) -> None:
        """Add one architecture; a taken name is an error and the first registration stays."""
        existing = self._entries.get(architecture.name)
        if existing is not None:
            raise DuplicateModelError(
                f"architecture '{architecture.name}' from {source} clashes with the one "
                f"already registered by {existing.source}"
            )
        self._entries[architecture.name] = Entry(architecture, source)

    def entry(self, name: str) -> Entry:
        try:
            return self._entries[name]
        except KeyError:
            close = difflib.get_close_matches(name, list(self._entries), n=3, cutoff=0.5)
            hint = f"did you mean {' or '.join(repr(c) for c in close)}? " if close else ""
            raise UnknownModelError(
                f"no architecture named {name!r}; {hint}`zoo list` shows all {len(self._entries)}"
            ) from None

    def names(self, pattern: str | None = None) -> list[str]:
        names = sorted(self._entries)
        return names if pattern is None else [n for n in names if fnmatch.fnmatchcase(n, pattern)]

    def __contains__(self, name: object) -> bool:
        return name in self._entries

    def __len__(self) -> int:
        return len(self._entries)
