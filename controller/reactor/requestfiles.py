"""Request files: what a running controller is asked that is not history (cancel a run,
replay a run, approve as a local user).

`services.ask` (for the CLI and the API) drops a small YAML file in HOME/requests/; the
controller's loop (`reactor/asks.py`) picks it up on its next pass (the watcher pokes it
at once) and removes it once handled. Files are written atomically (temp file, then
rename), so a half-written request is never read.
"""

from __future__ import annotations

import json
import os
import stat
import time
import uuid
from pathlib import Path
from typing import Any

from controller.atomicfile import write_atomic

REQUESTS_DIR = "requests"
DONE_DIR = "done"  # HOME/requests/done/<request>.json: what the controller did with it
KEEP_RESULTS = 20  # newest results kept (refused ones are listed by `gitline status`)
ACTIONS = frozenset({"cancel", "replay", "approve"})


def write_request(home: Path, action: str, **fields: Any) -> Path:
    if action not in ACTIONS:
        raise ValueError(f"unknown request {action!r}")
    folder = Path(home) / REQUESTS_DIR
    folder.mkdir(parents=True, exist_ok=True)
    name = f"{time.time_ns():020d}-{uuid.uuid4().hex[:8]}.yml"
    lines = [f"action: {action}"] + [f"{k}: {_quote(v)}" for k, v in fields.items()]
    write_atomic(folder / name, "\n".join(lines) + "\n")
    return folder / name


def _quote(value: Any) -> str:
    if isinstance(value, int):
        return str(value)
    return "'" + str(value).replace("'", "''").replace("\n", " ") + "'"


def _read_owned(path: Path) -> tuple[str, int | None]:
    """A request's text and its owner's uid, from one descriptor (no swap in between).

    The uid is None unless the file is a regular file with one link: a hard link to
    another user's file would carry that user's uid.
    """
    fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    with os.fdopen(fd, "rb") as f:
        st = os.fstat(f.fileno())
        plain = stat.S_ISREG(st.st_mode) and st.st_nlink == 1
        return f.read(64 * 1024).decode("utf-8"), st.st_uid if plain else None


def read_requests(folder: Path) -> list[tuple[Path, dict[str, Any]]]:
    """Pending requests, oldest first; an unreadable one is returned as {"error": ...}.

    Each carries `_uid`, the file owner's uid (set here, never read from the file): who
    made the request, for `gitline approve`.
    """
    from ruamel.yaml import YAML
    from ruamel.yaml.error import YAMLError

    if not folder.is_dir():
        return []
    found = []
    for path in sorted(folder.glob("*.yml")):
        uid: int | None = None
        try:
            text, uid = _read_owned(path)
            data = YAML(typ="safe", pure=True).load(text)
        except (OSError, YAMLError, UnicodeDecodeError) as err:
            data = {"error": f"unreadable request {path.name}: {err}"}
        data = data if isinstance(data, dict) else {"error": "not a mapping"}
        data["_uid"] = uid
        found.append((path, data))
    return found


def result_path(request: Path) -> Path:
    return request.parent / DONE_DIR / (request.stem + ".json")


def write_result(request: Path, result: dict[str, Any]) -> None:
    """Record what was done with `request` (the CLI waits for it); keep the newest few.

    In a subfolder: the watcher of HOME/requests is not recursive, so this never wakes
    the loop.
    """
    path = result_path(request)
    path.parent.mkdir(parents=True, exist_ok=True)
    write_atomic(path, json.dumps(result) + "\n")
    for old in sorted(path.parent.glob("*.json"))[:-KEEP_RESULTS]:
        old.unlink(missing_ok=True)


def read_result(request: Path) -> dict[str, Any] | None:
    try:
        data = json.loads(result_path(request).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def refused(home: Path) -> list[dict[str, Any]]:
    """The kept results of requests the controller refused, oldest first."""
    found = []
    for path in sorted((Path(home) / REQUESTS_DIR / DONE_DIR).glob("*.json")):
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        if isinstance(data, dict) and data.get("error"):
            found.append(data)
    return found

