"""The `version.json` of an IN or OUT folder: one encoder and decoder for every user.

The controller writes the record a job starts with (`runenv.version_record`: type,
versionName, versionNumber, values, definition, ...). When the job writes to an output
(`shipctl post_*`/`put_*`, or a managed `release`), the file becomes a written record:

    {"replace": bool, "values": {...}, "versionName": "...", "current": {<the record it had>}}

post_* replaces the values, put_* adds to them; a `versionName` key sets the version name.
A record with a `replace` key is a written one. Pure: text in, text or values out.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

WRITTEN_KEY = "replace"  # present only in a record a job wrote


@dataclass(frozen=True)
class Written:
    """What a run wrote to an output's version.json."""

    replace: bool
    values: dict[str, Any] = field(default_factory=dict)
    version_name: str = ""
    current: dict[str, Any] = field(default_factory=dict)  # the record before the write


def decode(text: str | bytes) -> dict[str, Any]:
    """A record from the file's text; {} for anything but a JSON object."""
    try:
        data = json.loads(text)
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}


def encode(record: dict[str, Any]) -> str:
    """The file text of a record (the one the controller writes, or a written one)."""
    return json.dumps(record, indent=2, default=str)


def written(record: dict[str, Any]) -> Written | None:
    """The write in `record`, or None when no job wrote it."""
    if WRITTEN_KEY not in record:
        return None
    values = record.get("values")
    current = record.get("current")
    return Written(
        replace=bool(record.get(WRITTEN_KEY)),
        values=dict(values) if isinstance(values, dict) else {},
        version_name=str(record.get("versionName") or ""),
        current=dict(current) if isinstance(current, dict) else {},
    )


def encode_written(write: Written) -> str:
    """The file text of a written record."""
    return encode({WRITTEN_KEY: write.replace, "values": write.values,
                   "versionName": write.version_name, "current": write.current})


def effective(record: dict[str, Any]) -> dict[str, Any]:
    """The version a record stands for: the current one with what the run wrote applied."""
    write = written(record)
    if write is None:
        return record
    current = dict(write.current)
    values = {} if write.replace else dict(current.get("values") or {})
    values.update(write.values)
    current["values"] = values
    if write.version_name:
        current["versionName"] = write.version_name
    return current


def add_values(record: dict[str, Any], pairs: Iterable[tuple[str, str]], replace: bool) -> Written:
    """`record` after a job writes `pairs` (post_*: `replace`; put_*: added to what it wrote).

    A first write keeps the record it replaces as `current`; a post_* clears what earlier
    writes of this run put; a `versionName` key sets the version name, not a value."""
    before = written(record)
    if before is None:
        before = Written(replace=replace, current=record)
    elif replace:
        before = Written(replace=True, current=before.current)
    values = dict(before.values)
    version_name = before.version_name
    for key, value in pairs:
        if key == "versionName":
            version_name = value
        else:
            values[key] = value
    return Written(before.replace, values, version_name, before.current)
