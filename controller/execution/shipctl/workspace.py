"""The job's workspace as shipctl finds it from the environment: its IN and OUT resources
and their version records (`core/versionrecord.py`), read-only."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from controller.core import model, runenv, versionrecord
from controller.execution.shipctl.console import ShipctlError


def job_path() -> Path:
    path = os.environ.get("JOB_PATH")
    if not path:
        raise ShipctlError("JOB_PATH is not set: shipctl runs inside a Gitline job")
    return Path(path)


def _env_path(var: str, default: str) -> Path:
    value = os.environ.get(var)
    return Path(value) if value else job_path() / default


def job_state() -> Path:
    return _env_path("JOB_STATE", runenv.STATE_DIR)


def previous_state() -> Path:
    return _env_path("JOB_PREVIOUS_STATE", runenv.PREVIOUS_STATE_DIR)


def resolve(arg: str) -> str | None:
    """The IN/OUT resource named `arg` (or whose env prefix is `arg`, e.g. `APP_IMG`)."""
    root = job_path()
    if model.is_safe_name(arg) and any((root / op / arg).is_dir() for op in ("OUT", "IN")):
        return arg
    want = model.env_prefix(arg)
    for op in ("OUT", "IN"):
        folder = root / op
        if folder.is_dir():
            for entry in sorted(folder.iterdir()):
                if entry.is_dir() and model.env_prefix(entry.name) == want:
                    return entry.name
    return None


def require_resource(arg: str) -> str:
    """`resolve(arg)`, or a ShipctlError when the job has no such IN or OUT."""
    name = resolve(arg)
    if name is None:
        raise ShipctlError(f"resource data not found for {arg}: not an IN or OUT of this job")
    return name


def is_output(name: str) -> bool:
    return (job_path() / "OUT" / name).is_dir()


def res_dir(name: str) -> Path:
    op = "OUT" if is_output(name) else "IN"
    return job_path() / op / name


def load_json(path: Path) -> dict[str, Any]:
    """A JSON object from a file; {} when it is missing or not one."""
    try:
        return versionrecord.decode(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError):
        return {}


def read_stored(name: str) -> dict[str, Any]:
    """The version.json of a resource as it is on disk (written or not)."""
    return load_json(res_dir(name) / runenv.VERSION_FILE)


def read_record(name: str) -> dict[str, Any]:
    """The version record of a resource (IN, or OUT with what this run wrote applied)."""
    return versionrecord.effective(read_stored(name))


def content_path(name: str) -> Path:
    """The folder get_resource_state prints: `<op>/<res>/state` (`gitRepo` for a repo)."""
    res_type = str(read_record(name).get("type", ""))
    return res_dir(name) / runenv.content_dir(res_type)


def dotted(data: Any, key: str) -> Any:
    """`a.b.c` lookup in nested dicts; the whole key is tried first."""
    if isinstance(data, dict) and key in data:
        return data[key]
    for part in key.split("."):
        if not isinstance(data, dict) or part not in data:
            return None
        data = data[part]
    return data
