"""Trigger files: `triggers/<job>` in the config repo starts <job> once per commit.

The file may be empty, a YAML mapping (`REASON: hotfix`) or KEY=VALUE lines; its keys
become environment variables of that run. Parsing is pure; reading blobs is the edge's.

A parameter cannot change how the job runs: names that steer the shell, the loader,
interpreters, git or Gitline's own runtime contract (DENIED_NAMES, DENIED_PREFIXES; see
docs/security.md) are refused with an error at their line, from a trigger file, the API
and `gitline trigger -p` alike. `render_params` writes a trigger file whose values can
hold any text (newlines too) without becoming extra variables.
"""

from __future__ import annotations

import json
import re

from controller.core import model

TRIGGER_DIR = "triggers"
SUFFIXES = (".yml", ".yaml", ".env")
MAX_TRIGGER_BYTES = 64 * 1024
_ENV_KEY = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_KV_LINE = re.compile(r"^\s*(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)=(.*)$")


# Refused parameter names (compared in upper case): they steer the shell, the dynamic
# loader, interpreters, git, locale and temp files, or are Gitline's runtime contract.
DENIED_NAMES = frozenset({
    "PATH", "HOME", "SHELL", "ENV", "BASH_ENV", "IFS", "SHELLOPTS", "BASHOPTS", "PS1", "PS2",
    "PS3", "PS4", "PROMPT_COMMAND", "CDPATH", "GLOBIGNORE", "HISTFILE", "TMPDIR", "USER",
    "LOGNAME", "LANG", "LANGUAGE", "TZDIR", "GCONV_PATH", "HOSTALIASES", "LOCALDOMAIN",
    "RES_OPTIONS", "NLSPATH", "NODE_OPTIONS", "NODE_PATH", "PERL5LIB", "PERL5OPT", "PERLLIB",
    "RUBYOPT", "RUBYLIB", "JAVA_TOOL_OPTIONS", "_JAVA_OPTIONS", "JDK_JAVA_OPTIONS",
    "CLASSPATH", "SSL_CERT_FILE", "SSL_CERT_DIR", "CURL_CA_BUNDLE", "REQUESTS_CA_BUNDLE",
    "SSH_AUTH_SOCK", "SSH_ASKPASS", "EDITOR", "VISUAL", "PAGER", "MANPAGER", "BROWSER",
    "BUILD_NUMBER", "BUILD_ID", "RUN_NUMBER", "SHARED_DIR",
})
DENIED_PREFIXES = ("LD_", "DYLD_", "BASH_FUNC_", "PYTHON", "GIT_", "LC_", "MALLOC_",
                   "GLIBC_", "JOB_", "GITLINE_", "SHIPCTL", "SUDO_", "XDG_")


def denied(name: str) -> str:
    """Why parameter `name` is refused ("" when it is allowed)."""
    if not _ENV_KEY.fullmatch(name):
        return f"parameter name {name!r} is not a valid environment variable name"
    upper = name.upper()
    if upper in DENIED_NAMES or upper.startswith(DENIED_PREFIXES):
        return (f"parameter {name} is not allowed: it would change how the job runs "
                "(see docs/security.md for the refused names)")
    return ""


def check_params(params: dict[str, str]) -> str:
    """The first reason a parameter of `params` is refused, or ""."""
    return next((why for why in map(denied, params) if why), "")


def render_params(params: dict[str, str], comment: str = "") -> bytes:
    """A trigger file (YAML, values JSON-quoted) holding exactly `params`."""
    lines = [f"# {' '.join(comment.split())}"] if comment else []
    lines += [f"{key}: {json.dumps(str(value))}" for key, value in params.items()]
    return ("\n".join(lines) + "\n").encode()


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


def _line_of(lines: list[str], key: str) -> int:
    """1-based line where `key` is defined (first match), 1 when not found."""
    pattern = re.compile(rf"^\s*(?:export\s+)?[\"']?{re.escape(key)}[\"']?\s*[:=]")
    return next((n for n, ln in enumerate(lines, 1) if pattern.match(ln)), 1)


def parse_params(data: bytes, path: str = "") -> tuple[dict[str, str], str]:
    """Parameters of a trigger file, and an error message ("" when it is fine).

    A refused name is an error `path:line: ...`, and the run gets no parameters."""
    params, error = _parse(data)
    if error:
        return {}, error
    for key in params:
        why = denied(key)
        if why:
            lines = data.decode("utf-8").splitlines()
            return {}, f"{path or 'trigger file'}:{_line_of(lines, key)}: {why}"
    return params, ""


def _parse(data: bytes) -> tuple[dict[str, str], str]:
    if len(data) > MAX_TRIGGER_BYTES:
        return {}, f"trigger file is larger than {MAX_TRIGGER_BYTES} bytes"
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return {}, "trigger file is not UTF-8 text"
    lines = [ln for ln in text.splitlines() if ln.strip() and not ln.lstrip().startswith("#")]
    if not lines:
        return {}, ""
    if all(_KV_LINE.fullmatch(ln) for ln in lines):
        return {m[1]: _unquote(m[2]) for ln in lines if (m := _KV_LINE.fullmatch(ln))}, ""
    from ruamel.yaml import YAML  # here: `gitline trigger` only renders (start-up time)
    from ruamel.yaml.error import YAMLError

    try:
        loaded = YAML(typ="safe", pure=True).load(text)
    except YAMLError as err:
        return {}, f"trigger file is neither KEY=VALUE lines nor YAML: {err}".splitlines()[0]
    if not isinstance(loaded, dict):
        return {}, "trigger file must be a mapping of KEY: value or KEY=VALUE lines"
    params: dict[str, str] = {}
    for key, value in loaded.items():
        if not isinstance(key, str) or not _ENV_KEY.fullmatch(key):
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
