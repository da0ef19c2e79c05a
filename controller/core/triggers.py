"""Trigger files: `triggers/<job>` in the config repo starts <job> once per commit.

The file may be empty, a YAML mapping (`REASON: hotfix`) or KEY=VALUE lines; its keys
become environment variables of that run. Parsing is pure; reading blobs is the edge's.
"""

from __future__ import annotations

import re

from ruamel.yaml import YAML
from ruamel.yaml.error import YAMLError

from controller.core import model

TRIGGER_DIR = "triggers"
SUFFIXES = (".yml", ".yaml", ".env")
MAX_TRIGGER_BYTES = 64 * 1024
_ENV_KEY = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_KV_LINE = re.compile(r"^\s*(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)=(.*)$")


def job_file(path: str, folder: str, suffixes: tuple[str, ...]) -> str | None:
    """`<folder>/<job>[suffix]` -> `<job>`, for a safe job name; None for any other path."""
    top, _, base = path.partition("/")
    if top != folder or not base or "/" in base:
        return None
    for suffix in suffixes:
        if base.endswith(suffix):
            base = base[: -len(suffix)]
            break
    return base if model.is_safe_name(base) else None


def trigger_job(path: str) -> str | None:
    """`triggers/deploy_prod.yml` -> `deploy_prod`; None for any other path."""
    return job_file(path, TRIGGER_DIR, SUFFIXES)


def _unquote(value: str) -> str:
    value = value.strip()
    if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
        return value[1:-1]
    return value


def parse_params(data: bytes) -> tuple[dict[str, str], str]:
    """Parameters of a trigger file, and an error message ("" when it is fine)."""
    if len(data) > MAX_TRIGGER_BYTES:
        return {}, f"trigger file is larger than {MAX_TRIGGER_BYTES} bytes"
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return {}, "trigger file is not UTF-8 text"
    lines = [ln for ln in text.splitlines() if ln.strip() and not ln.lstrip().startswith("#")]
    if not lines:
        return {}, ""
    if all(_KV_LINE.match(ln) for ln in lines):
        return {m[1]: _unquote(m[2]) for ln in lines if (m := _KV_LINE.match(ln))}, ""
    try:
        loaded = YAML(typ="safe", pure=True).load(text)
    except YAMLError as err:
        return {}, f"trigger file is neither KEY=VALUE lines nor YAML: {err}".splitlines()[0]
    if not isinstance(loaded, dict):
        return {}, "trigger file must be a mapping of KEY: value or KEY=VALUE lines"
    params: dict[str, str] = {}
    for key, value in loaded.items():
        if not isinstance(key, str) or not _ENV_KEY.match(key):
            return {}, f"parameter name {key!r} is not a valid environment variable name"
        if isinstance(value, dict | list):
            return {}, f"parameter {key} must be a plain value, not a {type(value).__name__}"
        params[key] = _plain(value)
    return params, ""


def _plain(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):  # YAML `true` -> "true", as a shell script expects
        return str(value).lower()
    return str(value)
