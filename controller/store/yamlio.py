"""YAML text of the state records: Version, Run (with Cause and InputVersion), plain dicts.

Owns the on-branch format of `version.yml`, `run.yml`, `active/<n>.yml`, `job.yml` and
`controller/config.yml`: camelCase keys, block style, readable in `git show`.

Dumping uses a small emitter for a JSON-compatible subset of YAML (block mappings and
sequences; scalars plain when unambiguous in YAML 1.1 and 1.2, otherwise JSON-quoted),
which is fast and deterministic. Loading parses that subset directly (and comment lines,
and plain scalars such as `127.0.0.1:8080`, so HOME/gitline.yml too) and falls back to
ruamel.yaml's safe loader for anything else, so a hand-written record still loads.
"""

from __future__ import annotations

import io
import json
import math
import re
from typing import Any

from controller.core import model

__all__ = [
    "dump",
    "load",
    "version_to_yaml",
    "version_from_yaml",
    "version_to_dict",
    "version_from_dict",
    "run_to_yaml",
    "run_from_yaml",
    "run_to_dict",
    "run_from_dict",
    "cause_to_dict",
    "cause_from_dict",
]

# ---------------------------------------------------------------------------- emitter

_PLAIN = re.compile(r"^[A-Za-z_/][A-Za-z0-9_./@+\-()<>]*( [A-Za-z0-9_./@+\-()<>]+)*$")
_RESERVED = frozenset({"true", "false", "yes", "no", "on", "off", "y", "n", "null", "~"})


# YAML reads these as line breaks even inside double quotes (a raw NEL came back as a
# space): JSON leaves them raw with ensure_ascii=False, so escape them.
_BREAKS = str.maketrans({"\x85": "\\u0085", "\u2028": "\\u2028", "\u2029": "\\u2029"})


def _json(value: Any, **kw: Any) -> str:
    return json.dumps(value, ensure_ascii=False, **kw).translate(_BREAKS)


def _scalar(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isnan(value):
            return ".nan"
        if math.isinf(value):
            return ".inf" if value > 0 else "-.inf"
        return repr(value)
    if isinstance(value, str):
        if _PLAIN.fullmatch(value) and value.lower() not in _RESERVED:
            return value
        return _json(value)
    raise TypeError(f"cannot write {type(value).__name__} to a record: {value!r}")


def _flow(value: Any) -> str:
    """Inline JSON (valid YAML) for structures the block emitter does not handle."""
    try:
        return _json(value, allow_nan=False, sort_keys=False)
    except (TypeError, ValueError) as e:
        raise TypeError(f"cannot write {value!r} to a record: {e}") from e


def _is_block_dict(value: Any) -> bool:
    return isinstance(value, dict) and bool(value) and all(isinstance(k, str) for k in value)


def _is_block_list(value: Any) -> bool:
    return isinstance(value, (list, tuple)) and bool(value)


def _inline(value: Any) -> str:
    if isinstance(value, dict) and not value:
        return "{}"
    if isinstance(value, (list, tuple)) and not value:
        return "[]"
    if isinstance(value, (dict, list, tuple)):
        return _flow(value)
    return _scalar(value)


def _emit_mapping(data: dict[str, Any], indent: int, out: list[str]) -> None:
    pad = " " * indent
    for key, value in data.items():
        k = _scalar(key)
        if _is_block_dict(value):
            out.append(f"{pad}{k}:")
            _emit_mapping(value, indent + 2, out)
        elif _is_block_list(value):
            out.append(f"{pad}{k}:")
            _emit_sequence(value, indent + 2, out)
        else:
            out.append(f"{pad}{k}: {_inline(value)}")


def _emit_sequence(items: list[Any] | tuple[Any, ...], indent: int, out: list[str]) -> None:
    pad = " " * indent
    if all(type(item) is str for item in items):  # names (config.yml lists 10,000 of them)
        plain = _PLAIN.fullmatch
        out += [f"{pad}- {item}" if plain(item) and item.lower() not in _RESERVED
                else f"{pad}- {_json(item)}" for item in items]
        return
    for item in items:
        if _is_block_dict(item):
            sub: list[str] = []
            _emit_mapping(item, indent + 2, sub)
            out.append(f"{pad}- {sub[0][indent + 2 :]}")
            out.extend(sub[1:])
        else:
            out.append(f"{pad}- {_inline(item)}")


def dump(data: dict[str, Any]) -> str:
    """A mapping as block YAML text ending in a newline."""
    if not isinstance(data, dict):
        raise TypeError("a record is a mapping")
    if not data:
        return "{}\n"
    out: list[str] = []
    _emit_mapping(data, 0, out)
    return "\n".join(out) + "\n"


# ----------------------------------------------------------------------------- loader


class _Unsupported(Exception):
    """The text is outside the subset `dump` writes: let ruamel.yaml read it."""


_INT = re.compile(r"^-?[0-9]+$")
_FLOAT = re.compile(r"^-?[0-9]+(\.[0-9]+)?([eE][-+]?[0-9]+)?$")
_SPECIAL: dict[str, Any] = {
    "null": None,
    "true": True,
    "false": False,
    ".nan": math.nan,
    ".inf": math.inf,
    "-.inf": -math.inf,
    "{}": {},
    "[]": [],
}


# A plain scalar with `:` inside (never before a space nor at the end), as YAML reads
# `127.0.0.1:8080` or `redis://host:6379/0`: a string, unless it starts like a date.
_PLAIN_COLON = re.compile(r"^[A-Za-z0-9_/][A-Za-z0-9_./@+\-()<>]*(:[A-Za-z0-9_./@+\-()<>]+)+$")
_DATE = re.compile(r"^[0-9]{4}-[0-9]{1,2}-[0-9]{1,2}")


def _parse_scalar(text: str) -> Any:
    if text in _SPECIAL:
        value = _SPECIAL[text]
        return type(value)() if isinstance(value, (dict, list)) else value
    if text.startswith('"'):
        return json.loads(text)
    if text.startswith(("{", "[")):
        return json.loads(text)
    if _INT.fullmatch(text):
        return int(text)
    if _FLOAT.fullmatch(text):
        return float(text)
    if _PLAIN.fullmatch(text) and text.lower() not in _RESERVED:
        return text
    if _PLAIN_COLON.fullmatch(text) and not _DATE.match(text):
        return text
    raise _Unsupported(text)


def _split_key(text: str) -> tuple[str, str] | None:
    """`key: rest` -> (key, rest); None if the text is not a mapping entry."""
    if text.startswith('"'):
        try:
            key, end = json.JSONDecoder().raw_decode(text)
        except ValueError as e:
            raise _Unsupported(text) from e
        rest = text[end:]
        if rest == ":":
            return key, ""
        if rest.startswith(": "):
            return key, rest[2:]
        return None
    if text.startswith(("{", "[")):
        return None
    if text.endswith(":") and ": " not in text:
        return text[:-1], ""
    if ": " in text:
        key, rest = text.split(": ", 1)
        return key, rest
    return None


class _Lines:
    def __init__(self, text: str) -> None:
        self.items: list[tuple[int, str]] = []
        for raw in text.splitlines():
            stripped = raw.strip()
            if not stripped or stripped.startswith("#"):  # a comment line (no block scalars)
                continue
            if stripped.startswith(("---", "...", "&", "*", "!", "|", ">", "%")) or \
                    "\t" in raw[: len(raw) - len(raw.lstrip())]:
                raise _Unsupported(raw)
            self.items.append((len(raw) - len(raw.lstrip(" ")), stripped))
        self.i = 0

    def peek(self) -> tuple[int, str] | None:
        return self.items[self.i] if self.i < len(self.items) else None


def _is_item(text: str) -> bool:
    return text == "-" or text.startswith("- ")


def _parse_block(lines: _Lines, indent: int) -> Any:
    head = lines.peek()
    if head is None:
        return None
    if _is_item(head[1]):
        return _parse_sequence(lines, indent)
    return _parse_mapping(lines, indent)


def _parse_value_after_key(lines: _Lines, indent: int) -> Any:
    nxt = lines.peek()
    if nxt is None:
        return None
    if nxt[0] > indent:
        return _parse_block(lines, nxt[0])
    if nxt[0] == indent and _is_item(nxt[1]):
        return _parse_sequence(lines, indent)
    return None


def _parse_mapping(lines: _Lines, indent: int) -> dict[str, Any]:
    result: dict[str, Any] = {}
    while (line := lines.peek()) is not None and line[0] == indent and not _is_item(line[1]):
        entry = _split_key(line[1])
        if entry is None:
            raise _Unsupported(line[1])
        key, rest = entry
        if key in result:
            raise _Unsupported(f"duplicate key {key}")
        lines.i += 1
        result[key] = _parse_scalar(rest) if rest else _parse_value_after_key(lines, indent)
    if (line := lines.peek()) is not None and line[0] > indent:
        raise _Unsupported(line[1])
    return result


def _parse_sequence(lines: _Lines, indent: int) -> list[Any]:
    result: list[Any] = []
    while (line := lines.peek()) is not None and line[0] == indent and _is_item(line[1]):
        rest = line[1][2:].strip()
        if not rest:
            lines.i += 1
            nxt = lines.peek()
            result.append(_parse_block(lines, nxt[0]) if nxt and nxt[0] > indent else None)
        elif _split_key(rest) is not None:
            # `- key: value` starts a mapping whose keys sit two columns in.
            lines.items[lines.i] = (indent + 2, rest)
            result.append(_parse_mapping(lines, indent + 2))
        else:
            lines.i += 1
            result.append(_parse_scalar(rest))
    return result


def _load_ruamel(text: str) -> Any:
    from ruamel.yaml import YAML

    return YAML(typ="safe", pure=True).load(io.StringIO(text))


def load(text: str | bytes) -> Any:
    """Parse a record (any safe YAML; the subset `dump` writes is read without ruamel)."""
    if isinstance(text, bytes):
        text = text.decode("utf-8")
    try:
        lines = _Lines(text)
        if not lines.items:
            return None
        value = _parse_block(lines, lines.items[0][0])
        if lines.peek() is not None:
            raise _Unsupported(lines.peek()[1])  # type: ignore[index]
        return value
    except (_Unsupported, json.JSONDecodeError):
        return _load_ruamel(text)


def load_mapping(text: str | bytes) -> dict[str, Any]:
    """Parse a record that must be a mapping (empty text -> {})."""
    value = load(text)
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise ValueError("record is not a mapping")
    return value


# ---------------------------------------------------------------------------- records


def _str(data: dict[str, Any], key: str) -> str:
    value = data.get(key)
    return "" if value is None else str(value)


def version_to_dict(version: model.Version) -> dict[str, Any]:
    return {
        "resource": version.resource,
        "versionNumber": version.number,
        "versionName": version.name,
        "values": dict(version.values),
        "createdBy": version.created_by,
        "configCommit": version.config_commit,
        "author": version.author,
        "digest": version.digest,
    }


def version_from_dict(data: dict[str, Any]) -> model.Version:
    return model.Version(
        resource=_str(data, "resource"),
        number=int(data.get("versionNumber") or 0),
        name=_str(data, "versionName"),
        values=dict(data.get("values") or {}),
        created_by=_str(data, "createdBy"),
        config_commit=_str(data, "configCommit"),
        author=_str(data, "author"),
        digest=_str(data, "digest"),
    )


def version_to_yaml(version: model.Version) -> str:
    """version.yml text; `files` is never part of it (they are blobs under files/)."""
    return dump(version_to_dict(version))


def version_from_yaml(text: str | bytes) -> model.Version:
    return version_from_dict(load_mapping(text))


def cause_to_dict(cause: model.Cause) -> dict[str, Any]:
    return {
        "kind": cause.kind,
        "detail": cause.detail,
        "commit": cause.commit,
        "author": cause.author,
    }


def cause_from_dict(data: dict[str, Any]) -> model.Cause:
    return model.Cause(
        kind=_str(data, "kind") or "manual",  # type: ignore[arg-type]
        detail=_str(data, "detail"),
        commit=_str(data, "commit"),
        author=_str(data, "author"),
    )


def _input_to_dict(item: model.InputVersion) -> dict[str, Any]:
    return {
        "name": item.name,
        "kind": item.kind,
        "number": item.number,
        "versionName": item.version_name,
    }


def _input_from_dict(data: dict[str, Any]) -> model.InputVersion:
    return model.InputVersion(
        name=_str(data, "name"),
        kind=_str(data, "kind") or "resource",  # type: ignore[arg-type]
        number=int(data.get("number") or 0),
        version_name=_str(data, "versionName"),
    )


def run_to_dict(run: model.Run) -> dict[str, Any]:
    return {
        "job": run.job,
        "number": run.number,
        "status": run.status,
        "cause": cause_to_dict(run.cause),
        "inputs": [_input_to_dict(i) for i in run.inputs],
        "params": dict(run.params),
        "configCommit": run.config_commit,
        "queuedAt": run.queued_at,
        "startedAt": run.started_at,
        "finishedAt": run.finished_at,
        "exitCode": run.exit_code,
        "attempt": run.attempt,
        "message": run.message,
        "notifications": list(run.notifications),
        **({"worker": run.worker} if run.worker else {}),
        **({"ci": [_ci_to_dict(r) for r in run.ci]} if run.ci else {}),
        **({} if run.baseline is None else {"baseline": [_input_to_dict(i) for i in run.baseline]}),
    }


def run_from_dict(data: dict[str, Any]) -> model.Run:
    exit_code = data.get("exitCode")
    return model.Run(
        job=_str(data, "job"),
        number=int(data.get("number") or 0),
        status=_str(data, "status") or "queued",  # type: ignore[arg-type]
        cause=cause_from_dict(data.get("cause") or {}),
        inputs=tuple(_input_from_dict(i) for i in data.get("inputs") or ()),
        params={str(k): str(v) for k, v in (data.get("params") or {}).items()},
        config_commit=_str(data, "configCommit"),
        queued_at=_str(data, "queuedAt"),
        started_at=_str(data, "startedAt"),
        finished_at=_str(data, "finishedAt"),
        exit_code=None if exit_code is None else int(exit_code),
        attempt=int(data.get("attempt") or 1),
        message=_str(data, "message"),
        notifications=tuple(str(n) for n in data.get("notifications") or ()),
        worker=_str(data, "worker"),
        ci=tuple(_ci_from_dict(r) for r in data.get("ci") or () if isinstance(r, dict)),
        baseline=None if data.get("baseline") is None
        else tuple(_input_from_dict(i) for i in data["baseline"]),
    )


def _ci_to_dict(result: model.CiResult) -> dict[str, Any]:
    """One CI row of run.yml: `row`, `status`, test counts, `coverage` (percent)."""
    out: dict[str, Any] = {"row": result.row, "status": result.status, "passed": result.passed,
                           "failed": result.failed, "skipped": result.skipped,
                           "reports": result.reports}
    if result.coverage is not None:
        out["coverage"] = round(result.coverage, 2)
    if result.note:
        out["note"] = result.note
    return out


def _ci_from_dict(data: dict[str, Any]) -> model.CiResult:
    coverage = data.get("coverage")
    return model.CiResult(
        row=_str(data, "row"), status=_str(data, "status"),
        passed=int(data.get("passed") or 0), failed=int(data.get("failed") or 0),
        skipped=int(data.get("skipped") or 0),
        coverage=None if coverage is None else float(coverage),
        reports=int(data.get("reports") or 0), note=_str(data, "note"))


def run_to_yaml(run: model.Run) -> str:
    return dump(run_to_dict(run))


def run_from_yaml(text: str | bytes) -> model.Run:
    return run_from_dict(load_mapping(text))
