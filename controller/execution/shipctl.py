"""`shipctl`: the helper on a job's PATH, compatible with Shippable's commands.

It reads and writes only workspace files found from the environment (`JOB_PATH`,
`JOB_STATE`, `JOB_PREVIOUS_STATE`): never git, never the network. Values are printed on
stdout like the original so that `$(shipctl ...)` works; errors go to stderr.

Writes to an output `res` go to `OUT/<res>/version.json` as
`{"replace": bool, "values": {...}, "versionName": "...", "current": {<version it had>}}`
(post_* replaces the values, put_* adds to them; a `versionName` key sets the version
name) and files to `OUT/<res>/state/`. Writes to the job itself (`put_resource_state
$JOB_NAME K V`) go, as on Shippable, to `$JOB_STATE/<job>.env`.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from controller.core import model, runenv, vocabulary

USAGE_EXIT = 99


class ShipctlError(Exception):
    """A user-facing error: printed on stderr, exit code `code`."""

    def __init__(self, message: str, code: int = USAGE_EXIT) -> None:
        super().__init__(message)
        self.code = code


# --- workspace access ----------------------------------------------------------------


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


def need(arg: str) -> str:
    name = resolve(arg)
    if name is None:
        raise ShipctlError(f"resource data not found for {arg}: not an IN or OUT of this job")
    return name


def is_output(name: str) -> bool:
    return (job_path() / "OUT" / name).is_dir()


def res_dir(name: str) -> Path:
    op = "OUT" if is_output(name) else "IN"
    return job_path() / op / name


def read_record(name: str) -> dict[str, Any]:
    """The version record of a resource (IN, or OUT with what this run wrote applied)."""
    data = _load_json(res_dir(name) / runenv.VERSION_FILE)
    if "replace" not in data:
        return data
    current = dict(data.get("current") or {})
    values = {} if data.get("replace") else dict(current.get("values") or {})
    values.update(data.get("values") or {})
    current["values"] = values
    if data.get("versionName"):
        current["versionName"] = data["versionName"]
    return current


def _load_json(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _write_json(path: Path, data: dict[str, Any]) -> None:
    tmp = path.with_name(path.name + f".tmp{os.getpid()}")
    tmp.write_text(json.dumps(data, indent=2, default=str), encoding="utf-8")
    os.replace(tmp, path)


def content_path(name: str) -> Path:
    """The folder get_resource_state prints: `<op>/<res>/state` (`gitRepo` for a repo)."""
    res_type = str(read_record(name).get("type", ""))
    return res_dir(name) / runenv.content_dir(res_type)


def dig(data: Any, key: str) -> Any:
    """`a.b.c` lookup in nested dicts; the whole key is tried first."""
    if isinstance(data, dict) and key in data:
        return data[key]
    for part in key.split("."):
        if not isinstance(data, dict) or part not in data:
            return None
        data = data[part]
    return data


# --- reading commands ----------------------------------------------------------------


def out(value: Any) -> int:
    print(runenv.env_str(value))
    return 0


def usage(args: Sequence[str], count: int, text: str) -> None:
    if len(args) < count or any(not a for a in args[:count]):
        raise ShipctlError(f"Usage: shipctl {text}")


def cmd_get_resource_name(args: Sequence[str]) -> int:
    usage(args, 1, "get_resource_name RESOURCE_NAME")
    return out((*model.env_prefixes(args[0]), model.env_prefix(args[0]))[0])  # a shell name


def _record_field(field: str, text: str) -> Callable[[Sequence[str]], int]:
    def command(args: Sequence[str]) -> int:
        usage(args, 1, f"{text} RESOURCE_NAME")
        return out(read_record(need(args[0])).get(field, ""))

    return command


def cmd_get_resource_state(args: Sequence[str]) -> int:
    usage(args, 1, "get_resource_state RESOURCE_NAME")
    return out(str(content_path(need(args[0]))))


def cmd_get_resource_meta(args: Sequence[str]) -> int:
    usage(args, 1, "get_resource_meta RESOURCE_NAME")
    return out(str(res_dir(need(args[0]))))


def cmd_get_resource_operation(args: Sequence[str]) -> int:
    usage(args, 1, "get_resource_operation RESOURCE_NAME")
    return out("OUT" if is_output(need(args[0])) else "IN")


def cmd_get_resource_version_key(args: Sequence[str]) -> int:
    usage(args, 2, "get_resource_version_key RESOURCE_NAME KEY")
    record = read_record(need(args[0]))
    key = args[1]
    if key in ("versionName", "versionId", "versionNumber"):
        return out(record.get(key, ""))
    value = dig(record.get("values") or {}, key)
    if value is None:
        value = dig(record.get("definition") or {}, key)
    if isinstance(value, str):  # `${VAR}` in a resource: from the job's environment
        value = runenv.fill_placeholders(value, os.environ)
    return out(value)


def cmd_get_resource_env(args: Sequence[str]) -> int:
    usage(args, 2, "get_resource_env RESOURCE_NAME ENV_NAME")
    var = f"{model.env_prefix(args[0])}_{model.env_prefix(args[1])}"
    if var in os.environ:
        return out(os.environ[var])
    name = resolve(args[0])
    values = read_record(name).get("values") or {} if name else {}
    match = next((v for k, v in values.items() if k.upper() == args[1].upper()), "")
    return out(match)


def cmd_get_params_resource(args: Sequence[str]) -> int:
    usage(args, 2, "get_params_resource RESOURCE_NAME PARAM_NAME")
    var = f"{model.env_prefix(args[0])}_PARAMS_{model.env_prefix(args[1])}"
    if var in os.environ:
        return out(os.environ[var])
    name = resolve(args[0])
    if name is None:
        return out("")
    record = read_record(name)
    params = runenv.params_of(record.get("values") or {}, record.get("definition") or {})
    return out(params.get(args[1], ""))


def _integration_keys(name: str) -> list[str]:
    return os.environ.get(f"{runenv.INTEGRATION_KEYS}{model.env_prefix(name)}", "").split()


def cmd_get_integration_keys(args: Sequence[str]) -> int:
    """The field names of an integration (a job's `integrations:` or a resource's)."""
    usage(args, 1, "get_integration_keys NAME")
    return out(" ".join(_integration_keys(args[0])))


def cmd_get_integration_resource(args: Sequence[str]) -> int:
    """The fields of an integration as one JSON object (values are masked in the log)."""
    usage(args, 1, "get_integration_resource NAME")
    prefix = model.env_prefix(args[0])
    fields = {k: os.environ.get(f"GITLINE_INTEGRATION_{prefix}_{model.env_prefix(k)}", "")
              for k in _integration_keys(args[0])}
    return out(json.dumps(fields, sort_keys=True))


def cmd_get_integration_resource_field(args: Sequence[str]) -> int:
    usage(args, 2, "get_integration_resource_field RESOURCE_NAME KEY_NAME")
    prefix, field = model.env_prefix(args[0]), model.env_prefix(args[1])
    for var in (f"GITLINE_INTEGRATION_{prefix}_{field}", f"{prefix}_INTEGRATION_{field}"):
        if var in os.environ:
            return out(os.environ[var])
    name = resolve(args[0])
    definition = read_record(name).get("definition") or {} if name else {}
    match = next((v for k, v in definition.items() if k.upper() == args[1].upper()), "")
    return out(match)


def cmd_get_json_value(args: Sequence[str]) -> int:
    usage(args, 1, "get_json_value JSON_PATH FIELD")
    data = _load_json(Path(args[0]))
    return out(dig(data, args[1]) if len(args) > 1 and args[1] else data)


def cmd_sanitize_shippable_string(args: Sequence[str]) -> int:
    usage(args, 1, "sanitize_shippable_string STRING")
    return out(re.sub(r"[^a-zA-Z_0-9]", "", args[0]))


def cmd_to_uppercase(args: Sequence[str]) -> int:
    usage(args, 1, "to_uppercase STRING")
    return out(args[0].upper())


# --- writing versions ----------------------------------------------------------------


def parse_pairs(items: Sequence[str]) -> list[tuple[str, str]]:
    pairs = []
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key:
            print(f"shipctl: ignoring {item!r}: not KEY=VALUE", file=sys.stderr)
            continue
        pairs.append((key, value))
    return pairs


def write_values(res: str, pairs: list[tuple[str, str]], replace: bool) -> None:
    """Record values for `res`: an output's version.json, or the job's own `<job>.env`.

    A key that the state branch could not read back (a newline, a `/`) is refused here,
    at the job's own line, instead of leaving an outcome the controller cannot record.
    """
    for key, value in pairs:
        if not model.is_safe_name(key):
            raise ShipctlError(f"refused key {key!r}: a key is letters, digits, '_', '.' and "
                               "'-' (not first), at most 200", 1)
        if "\x00" in value:
            raise ShipctlError(f"refused the value of {key}: it holds a NUL byte", 1)
    name = resolve(res)
    if name is not None and is_output(name):
        _write_output(name, pairs, replace)
        return
    job = os.environ.get("JOB_NAME", "")
    if res in (job, model.env_prefix(job)) and job:
        _write_job_env(job, pairs, replace)
        return
    raise ShipctlError(f"{res} is not an OUT of this job: add `- OUT: {res}` to its steps", 1)


def _write_output(name: str, pairs: list[tuple[str, str]], replace: bool) -> None:
    path = job_path() / "OUT" / name / runenv.VERSION_FILE
    data = _load_json(path)
    written = "replace" in data
    current = data.get("current", {}) if written else data
    if replace or not written:
        values: dict[str, Any] = {}
        version_name = ""
        replace_flag = replace
    else:
        values = dict(data.get("values") or {})
        version_name = str(data.get("versionName") or "")
        replace_flag = bool(data.get("replace"))
    for key, value in pairs:
        if key == "versionName":
            version_name = value
        else:
            values[key] = value
    record = {
        "replace": replace_flag,
        "values": values,
        "versionName": version_name,
        "current": current,
    }
    _write_json(path, record)


def _write_job_env(job: str, pairs: list[tuple[str, str]], replace: bool) -> None:
    for key, value in pairs:  # KEY=VALUE lines: a newline would make another variable
        if not runenv.ENV_NAME.fullmatch(key) or "\n" in value or "\r" in value:
            raise ShipctlError(f"refused {key!r}: the job's own values are shell names with "
                               "one-line values", 1)
    state = job_state()
    state.mkdir(parents=True, exist_ok=True)
    lines = "".join(f"{k}={v}\n" for k, v in pairs)
    with (state / f"{runenv.check_name(job)}.env").open("w" if replace else "a") as fh:
        fh.write(lines)


def cmd_post_resource_state(args: Sequence[str]) -> int:
    usage(args, 3, "post_resource_state RESOURCE_NAME STATE_NAME STATE_VALUE")
    write_values(args[0], [(args[1], args[2])], replace=True)
    return 0


def cmd_put_resource_state(args: Sequence[str]) -> int:
    usage(args, 3, "put_resource_state RESOURCE_NAME STATE_NAME STATE_VALUE")
    write_values(args[0], [(args[1], args[2])], replace=False)
    return 0


def cmd_post_resource_state_multi(args: Sequence[str]) -> int:
    usage(args, 2, 'post_resource_state_multi RESOURCE_NAME "KEY=VALUE" ...')
    write_values(args[0], parse_pairs(args[1:]), replace=True)
    return 0


def cmd_put_resource_state_multi(args: Sequence[str]) -> int:
    usage(args, 2, 'put_resource_state_multi RESOURCE_NAME "KEY=VALUE" ...')
    write_values(args[0], parse_pairs(args[1:]), replace=False)
    return 0


# --- files ---------------------------------------------------------------------------


def copy_any(src: Path, dest: Path) -> None:
    """`cp -r src dest`: into dest if it is a folder. A symlink is refused, never followed
    (links inside a copied folder stay links, which collecting refuses with a note)."""
    if src.is_symlink():
        raise ShipctlError(f"refused to copy {src}: it is a symlink (only regular files "
                           "leave a job)", 1)
    if dest.is_dir():
        dest = dest / src.name
    if src.is_dir():
        shutil.copytree(src, dest, symlinks=True, dirs_exist_ok=True)
    else:
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(src, dest)
    print(f"'{src}' -> '{dest}'")


def cmd_copy_file_to_state(args: Sequence[str]) -> int:
    usage(args, 1, "copy_file_to_state FILE_PATH")
    src = Path(args[0])
    if not src.exists():
        raise ShipctlError(f"cannot copy {args[0]}: no such file or directory", 1)
    job_state().mkdir(parents=True, exist_ok=True)
    copy_any(src, job_state())
    return 0


def cmd_refresh_file_to_state(args: Sequence[str]) -> int:
    usage(args, 1, "refresh_file_to_state FILE_PATH")
    src = Path(args[0])
    if not src.exists():
        src = previous_state() / src.name
        if not src.exists():
            print("No previous state file exists. Skipping")
            return 0
    job_state().mkdir(parents=True, exist_ok=True)
    copy_any(src, job_state())
    return 0


def cmd_copy_file_from_prev_state(args: Sequence[str]) -> int:
    usage(args, 2, "copy_file_from_prev_state FILE_PATH RESTORE_PATH")
    src = previous_state() / args[0]
    if not src.exists():
        print("File does not exist in previous state, skipping")
        return 0
    copy_any(src, Path(args[1]))
    return 0


def cmd_copy_file_to_resource_state(args: Sequence[str]) -> int:
    usage(args, 2, "copy_file_to_resource_state FILE_NAME RES_NAME")
    name = resolve(args[1])
    if name is None or not is_output(name):
        raise ShipctlError(f"{args[1]} is not an OUT of this job", 1)
    src = Path(args[0])
    if not src.exists():
        src = job_path() / "IN" / name / runenv.STATE_DIR / src.name
        if not src.exists():
            print(f"File does not exist in {name} state, skipping")
            return 0
    target = job_path() / "OUT" / name / runenv.STATE_DIR
    target.mkdir(parents=True, exist_ok=True)
    copy_any(src, target)
    return 0


def cmd_copy_file_from_resource_state(args: Sequence[str]) -> int:
    usage(args, 3, "copy_file_from_resource_state RESOURCE_NAME FILE_NAME PATH_TO_COPY_INTO")
    name = need(args[0])
    in_dir = job_path() / "IN" / name
    folder = in_dir if in_dir.is_dir() else res_dir(name)
    res_type = str(_load_json(folder / runenv.VERSION_FILE).get("type", ""))
    src = folder / runenv.content_dir(res_type) / args[1]
    if not src.exists():
        print(f"File does not exist in {name} state, skipping")
        return 0
    copy_any(src, Path(args[2]))
    return 0


_VAR = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}|\$([A-Za-z_][A-Za-z0-9_]*)")


def substitute(text: str, env: dict[str, str]) -> str:
    """Fill `${VAR}` and `$VAR` from `env`; unknown variables are left as written."""

    def fill(match: re.Match[str]) -> str:
        var = match.group(1) or match.group(2)
        return env.get(var, match.group(0))

    return _VAR.sub(fill, text)


def cmd_replace(args: Sequence[str]) -> int:
    usage(args, 1, "replace FILE ...")
    env = dict(os.environ)
    for name in args:
        path = Path(name)
        if not path.is_file():
            raise ShipctlError(f"replace: {name}: no such file", 1)
        text = path.read_text(encoding="utf-8", errors="surrogateescape")
        path.write_text(substitute(text, env), encoding="utf-8", errors="surrogateescape")
    return 0


# --- misc ----------------------------------------------------------------------------

BUMPS = vocabulary.BUMPS  # the same bump kinds as a release job's `bump:`


def bump_version(version: str, action: str) -> str:
    """Shippable's bump_version: semver bump keeping a leading `v`.

    `5.1.2 minor` -> `5.2.0`; `v5.1.2 rc` -> `v5.1.2-rc`; `v5.1.2-rc rc` -> `v5.1.2-rc.1`;
    `v5.1.2-rc.1 rc` -> `v5.1.2-rc.2`; `v5.1.2-rc.3 final` -> `v5.1.2`.
    """
    if action not in BUMPS:
        raise ShipctlError("error: Invalid action given in the argument.")
    core, _, prerelease = version.partition("-")
    fields = core.split(".")
    first = fields[0]
    major = first.replace("v", "", 1)
    minor = fields[1] if len(fields) > 1 else ""
    patch = fields[2] if len(fields) > 2 else ""
    if not all(p.isdigit() and p.isascii() for p in (major, minor, patch)):
        raise ShipctlError("error: Invalid semantics given in the argument.")
    nums = [int(major), int(minor), int(patch)]
    suffix = ""
    if action == "major":
        nums = [nums[0] + 1, 0, 0]
    elif action == "minor":
        nums = [nums[0], nums[1] + 1, 0]
    elif action == "patch":
        nums[2] += 1
    elif action != "final":
        suffix = "-" + _bump_prerelease(prerelease, action)
    new = ".".join(str(n) for n in nums) + suffix
    return f"v{new}" if first != major else new


def _bump_prerelease(prerelease: str, action: str) -> str:
    if action not in prerelease:
        return action
    found = re.search(rf"{action}\.(\d+)", prerelease)
    return f"{action}.{int(found.group(1)) + 1 if found else 1}"


def cmd_bump_version(args: Sequence[str]) -> int:
    usage(args, 2, "bump_version VERSION major|minor|patch|rc|alpha|beta|final")
    return out(bump_version(args[0], args[1]))


def cmd_notify(args: Sequence[str]) -> int:
    """Record a notification event in `$JOB_PATH/notifications.jsonl` (delivered elsewhere)."""
    usage(args, 1, "notify RESOURCE [--option=value ...]")
    options: dict[str, str] = {}
    for arg in args[1:]:
        key, _, value = arg.lstrip("-").partition("=")
        options[key] = value
    event = {
        "resource": args[0],
        "options": options,
        "job": os.environ.get("JOB_NAME", ""),
        "run": os.environ.get("BUILD_NUMBER", ""),
    }
    with (job_path() / runenv.NOTIFICATIONS_FILE).open("a", encoding="utf-8") as fh:
        fh.write(json.dumps(event, sort_keys=True) + "\n")
    print(f"notification for {args[0]} recorded")
    return 0


def cmd_retry(args: Sequence[str]) -> int:
    """Run a command up to 3 times, sleeping between tries; its last exit code."""
    usage(args, 1, "retry COMMAND [ARGS ...]")
    argv = ["sh", "-c", args[0]] if len(args) == 1 and " " in args[0] else list(args)
    pause = float(os.environ.get("GITLINE_RETRY_SLEEP", "2"))
    code = 1
    for attempt in range(1, 4):
        try:
            code = subprocess.call(argv)
        except OSError as exc:
            print(f"shipctl retry: {exc}", file=sys.stderr)
            code = 127
        if code == 0:
            return 0
        if attempt < 3:
            print(f"retrying ({attempt}/3 failed with exit code {code})", file=sys.stderr)
            time.sleep(pause)
    return code


COMMANDS: dict[str, Callable[[Sequence[str]], int]] = {
    "get_resource_name": cmd_get_resource_name,
    "get_resource_id": _record_field("versionId", "get_resource_id"),
    "get_resource_type": _record_field("type", "get_resource_type"),
    "get_resource_version_name": _record_field("versionName", "get_resource_version_name"),
    "get_resource_version_number": _record_field("versionNumber", "get_resource_version_number"),
    "get_resource_version_id": _record_field("versionId", "get_resource_version_id"),
    "get_resource_version_key": cmd_get_resource_version_key,
    "get_resource_state": cmd_get_resource_state,
    "get_resource_path": cmd_get_resource_state,
    "get_resource_meta": cmd_get_resource_meta,
    "get_resource_operation": cmd_get_resource_operation,
    "get_resource_env": cmd_get_resource_env,
    "get_params_resource": cmd_get_params_resource,
    "get_integration_resource_field": cmd_get_integration_resource_field,
    "get_integration_field": cmd_get_integration_resource_field,  # a job's integrations:
    "get_integration_keys": cmd_get_integration_keys,
    "get_integration_resource_keys": cmd_get_integration_keys,
    "get_integration_resource": cmd_get_integration_resource,
    "get_json_value": cmd_get_json_value,
    "post_resource_state": cmd_post_resource_state,
    "put_resource_state": cmd_put_resource_state,
    "post_resource_state_multi": cmd_post_resource_state_multi,
    "put_resource_state_multi": cmd_put_resource_state_multi,
    "copy_file_to_state": cmd_copy_file_to_state,
    "refresh_file_to_state": cmd_refresh_file_to_state,
    "copy_file_from_prev_state": cmd_copy_file_from_prev_state,
    "copy_file_to_resource_state": cmd_copy_file_to_resource_state,
    "refresh_file_to_out_path": cmd_copy_file_to_resource_state,
    "copy_file_from_resource_state": cmd_copy_file_from_resource_state,
    "copy_resource_file_from_state": cmd_copy_file_from_resource_state,
    "replace": cmd_replace,
    "bump_version": cmd_bump_version,
    "notify": cmd_notify,
    "retry": cmd_retry,
    "sanitize_shippable_string": cmd_sanitize_shippable_string,
    "to_uppercase": cmd_to_uppercase,
}


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point: `shipctl <command> [args...]`; returns the exit code."""
    args = list(sys.argv[1:] if argv is None else argv)
    if not args or args[0] in ("-h", "--help", "help"):
        print("usage: shipctl <command> [args...]\ncommands: " + " ".join(sorted(COMMANDS)))
        return 0 if args else 1
    command = COMMANDS.get(args[0])
    if command is None:
        print(f"shipctl: unknown command: {args[0]}", file=sys.stderr)
        return 1
    try:
        return command(args[1:])
    except ShipctlError as exc:
        print(f"shipctl {args[0]}: {exc}", file=sys.stderr)
        return exc.code
    except OSError as exc:
        print(f"shipctl {args[0]}: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
