"""YAML values -> the typed values of the model, and problems at file:line:col.

Owns: `Reporter`, where the readers say what is wrong (at a position of the file being
read), and the coercions every reader shares: a scalar as text, script lines, lists of
names, on/off words, numbers, a choice among allowed words. A value that cannot be read
is said at its line and replaced by the default, never raised. Pure.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from controller.core import model
from controller.core.yamldata import Pos, YMap

_FALSE = {"off", "false", "no", "n", "0"}
_TRUE = {"on", "true", "yes", "y", "1"}


@dataclass
class Reporter:
    """The problems of one load; each said at a position of the file being read (`path`)."""

    path: str = ""
    problems: list[model.Problem] = field(default_factory=list)
    said: set[tuple[str, str]] = field(default_factory=set)  # (path, message) said once

    def loc(self, pos: Pos) -> model.Location:
        return model.Location(self.path, pos[0], pos[1])

    def say(self, pos: Pos, message: str, severity: model.Severity, subject: str) -> None:
        self.problems.append(model.Problem(self.loc(pos), message, severity, subject))

    def error(self, pos: Pos, message: str, subject: str = "") -> None:
        self.say(pos, message, "error", subject)

    def warn(self, pos: Pos, message: str, subject: str = "") -> None:
        self.say(pos, message, "warning", subject)

    def warn_once(self, pos: Pos, message: str) -> None:
        """A warning about a file's dialect: said once per file, not once per use."""
        if (self.path, message) not in self.said:
            self.said.add((self.path, message))
            self.warn(pos, message + " (first use in this file)")


def as_text(value: Any) -> str:
    """A YAML scalar as a shell would want it written."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return "" if value is None else str(value)


def as_lines(value: Any) -> list[str]:
    """Script lines: a string, or lists nested to any depth by aliases."""
    if value is None:
        return []
    if isinstance(value, list):
        return [line for item in value for line in as_lines(item)]
    return [as_text(value)]


def as_texts(value: Any) -> tuple[str, ...]:
    """A name or a list of names (flags, approvers, applyTo) as a tuple of text."""
    return tuple(as_lines(value))


def plain(value: Any) -> Any:
    """YMap/YList -> dict/list with text keys: what a definition keeps."""
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [plain(v) for v in value]
    return value


def parse_int(value: Any, default: int) -> int | None:
    """`value` as an int; `default` when absent; None when it is not a number."""
    if value is None:
        return default
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def is_true(value: Any) -> bool:
    """true/on/yes/y/1 (any case); anything else, absent included, is False."""
    return value is True or as_text(value).strip().lower() in _TRUE


def switch_of(value: Any) -> bool | None:
    """`switch:` as written (off/false/"off"/on/true) -> bool; None if unreadable."""
    if value is None:
        return True
    if isinstance(value, bool):
        return value
    text = as_text(value).strip().lower()
    return False if text in _FALSE else True if text in _TRUE else None


def choice(report: Reporter, item: YMap, key: str, allowed: tuple[str, ...],
           subject: str) -> Any:
    """`item[key]` if it is one of `allowed`, else the first (said when written)."""
    value = item.get(key)
    if value is None:
        return allowed[0]
    if value not in allowed:
        report.warn(item.at(key),
                    f"{key} {value!r} is not one of {', '.join(allowed)}; using {allowed[0]}",
                    subject)
        return allowed[0]
    return value


def number(report: Reporter, item: YMap, key: str, default: int, subject: str) -> int:
    """`item[key]` as an int, else `default` (said when written)."""
    value = parse_int(item.get(key), default)
    if value is None:
        report.warn(item.at(key), f"{key} {item.get(key)!r} is not a number; using {default}",
                    subject)
        return default
    return value


def script_lines(report: Reporter, value: Any, subject: str) -> list[str]:
    """Script lines; an unquoted `: ` turns a line into a mapping, which is read back."""
    if isinstance(value, list):
        return [line for item in value for line in script_lines(report, item, subject)]
    if isinstance(value, YMap) and len(value) == 1:
        key, val = next(iter(value.items()))
        if not isinstance(val, dict | list):
            line = f"{key}: {as_text(val)}"
            msg = f"this script line is a YAML mapping (an unquoted ': '); read as {line!r}:" \
                  " quote the line"
            report.warn(value.pos, msg, subject)
            return [line]
    if isinstance(value, dict):
        report.error(getattr(value, "pos", (0, 0)), "a script line must be text", subject)
        return []
    return as_lines(value)
