"""The limits a workflow file is held to before any YAML parser sees it.

Owns: the size limit and UTF-8 decoding (`decode`), and the nesting limit (`too_deep`),
checked on the text and on parse events, which keep no recursion. The limit on nodes after
alias expansion is the converter's (`yamlconvert.MAX_NODES`): only it sees aliases expand.
Pure: text in, a problem or a position out.
"""

from __future__ import annotations

import re

from ruamel.yaml import YAML
from ruamel.yaml.error import YAMLError
from ruamel.yaml.events import (
    MappingEndEvent,
    MappingStartEvent,
    SequenceEndEvent,
    SequenceStartEvent,
    StreamEndEvent,
)

from controller.core import model, yamlcompose
from controller.core.yamldata import Pos, problem_at

MAX_BYTES = 5 * 1024 * 1024
MAX_DEPTH = 64


def decode(path: str, content: str | bytes) -> tuple[str | None, model.Problem | None]:
    """Bytes or text -> text, or a Problem (too big, not UTF-8)."""
    size = len(content.encode("utf-8", "replace") if isinstance(content, str) else content)
    if size > MAX_BYTES:
        return None, problem_at(path, (0, 0), f"file is {size} bytes; the limit is {MAX_BYTES}")
    if isinstance(content, bytes):
        try:
            content = content.decode("utf-8")
        except UnicodeDecodeError as err:
            msg = f"{path} is not UTF-8 text (byte {err.start}): not loaded"
            return None, problem_at(path, (0, 0), msg)
    return content.removeprefix("\ufeff"), None


# A line whose indentation and block indicators (`- `, `? `, `: `) reach this column may
# open more than MAX_DEPTH block collections: each level needs at least one more column.
_DEEP_LINE = re.compile(rf"^[ \t?:-]{{{MAX_DEPTH - 4},}}", re.M)


def too_deep(text: str) -> Pos | None:
    """Where `text` nests deeper than MAX_DEPTH, or None; decided before composing.

    Both composers recurse once per level: libyaml's crashes the process (SIGSEGV) near
    50,000 levels of `- - - ... x`, and the pure scanner is quadratic in flow depth. Flow
    depth is counted in the text; a text that might nest deep in block style (a line
    indented or `- `-prefixed past MAX_DEPTH columns) is checked on parse events, which
    keep no recursion, stopping at the first event too deep.
    """
    flow = _flow_depth(text)
    if flow is not None:
        return flow
    return _event_depth(text) if _DEEP_LINE.search(text) else None


def _flow_depth(text: str) -> Pos | None:
    """Where [ and { outside quotes first nest past MAX_DEPTH (quotes end at a line end).
    Line by line, and in a line only at its brackets and quotes (a char loop over every
    byte was a tenth of loading a big workflow)."""
    if text.count("[") + text.count("{") <= MAX_DEPTH:
        return None
    depth = 0
    for number, line in enumerate(text.split("\n"), 1):
        if "[" not in line and "{" not in line and (depth == 0 or (
                "]" not in line and "}" not in line)):
            continue  # nothing that moves the depth (a quote ends at the line end anyway)
        quote = ""
        for found in _FLOW_CHARS.finditer(line):
            char = found.group()
            if quote:
                quote = "" if char == quote else quote
            elif char in "[{":
                depth += 1
                if depth > MAX_DEPTH:
                    return (number, found.start() + 1)
            elif char in "]}":
                depth = max(0, depth - 1)
            else:
                quote = char
    return None


_FLOW_CHARS = re.compile(r"[\[\]{}'\"]")


def _event_depth(text: str) -> Pos | None:
    """Where parse events first open more than MAX_DEPTH collections (None: not that deep,
    or a syntax error the composer reports itself, before it gets any deeper)."""
    libyaml = yamlcompose.LIBYAML_PARSER
    parser = libyaml(text) if libyaml is not None else None
    events = (iter(parser.get_event, None) if parser is not None
              else YAML(typ="safe", pure=True).parse(text))
    depth = 0
    try:
        for event in events:
            if isinstance(event, (SequenceStartEvent, MappingStartEvent)):
                depth += 1
                if depth > MAX_DEPTH:
                    mark = event.start_mark
                    return (mark.line + 1, mark.column + 1)
            elif isinstance(event, (SequenceEndEvent, MappingEndEvent)):
                depth -= 1
            elif isinstance(event, StreamEndEvent):
                break
    except (YAMLError, ValueError, TypeError):
        return None
    finally:
        if parser is not None:
            parser.dispose()
    return None
