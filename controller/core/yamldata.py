"""What YAML reading hands the loader: plain data that remembers where it was written.

Owns: `Pos` (1-based line, column), `YMap` and `YList` (a dict and a list with the
positions of themselves and of each key or item), `UndefinedAlias` (the value a lenient
parse puts where a `*name` had no anchor), the refusal a guard raises, and how a problem
at a position of a file is written. Pure data: no parsing here.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from controller.core import model

Pos = tuple[int, int]

# The tag a lenient compose gives a `*name` without an anchor; converted to UndefinedAlias.
UNDEFINED_ALIAS_TAG = "tag:gitline,2026:undefined-alias"


class YMap(dict):  # type: ignore[type-arg]
    """A mapping that remembers where it and each of its keys were written."""

    def __init__(self, pos: Pos) -> None:
        super().__init__()
        self.pos = pos
        self.key_pos: dict[str, Pos] = {}
        self.anchored: set[str] = set()  # keys whose value carries an anchor (&x)

    def at(self, key: str) -> Pos:
        return self.key_pos.get(key, self.pos)


class YList(list):  # type: ignore[type-arg]
    """A sequence that remembers where it and each of its items were written."""

    def __init__(self, pos: Pos) -> None:
        super().__init__()
        self.pos = pos
        self.item_pos: list[Pos] = []

    def at(self, index: int) -> Pos:
        return self.item_pos[index] if 0 <= index < len(self.item_pos) else self.pos


def pos_of(value: Any, default: Pos = (0, 0)) -> Pos:
    """The position of a YMap/YList, or `default` for a scalar."""
    return getattr(value, "pos", default)


@dataclass(frozen=True)
class UndefinedAlias:
    """Where a file used `*name` that no file anchors: the object holding it is not loaded,
    the rest of the file is."""

    name: str
    pos: Pos


def undefined_in(value: Any) -> UndefinedAlias | None:
    """The first undefined alias inside `value` (read from a lenient parse), if any."""
    if isinstance(value, UndefinedAlias):
        return value
    items = value.values() if isinstance(value, dict) else value if isinstance(value, list) else ()
    for item in items:
        found = undefined_in(item)
        if found is not None:
            return found
    return None


class Rejected(Exception):
    """A guard tripped: the file is rejected with this message at this position."""

    def __init__(self, message: str, pos: Pos) -> None:
        super().__init__(message)
        self.pos = pos


def problem_at(path: str, pos: Pos, message: str,
               severity: model.Severity = "error") -> model.Problem:
    """A problem of file `path` at `pos` ((0, 0): the file as a whole)."""
    return model.Problem(model.Location(path, pos[0], pos[1]), message, severity)
