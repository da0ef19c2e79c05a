"""The writing commands: post_* and put_* record a new version of an output (its
version.json, through `core/versionrecord.py`) or, for the job itself, `<job>.env` in
JOB_STATE, as on Shippable."""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence

from controller.atomicfile import write_atomic
from controller.core import model, runenv, versionrecord
from controller.execution.shipctl.console import Command, ShipctlError, require_args
from controller.execution.shipctl.workspace import (
    is_output,
    job_path,
    job_state,
    load_json,
    resolve,
)


def parse_pairs(items: Sequence[str]) -> list[tuple[str, str]]:
    """`KEY=VALUE` arguments as pairs; others are skipped with a word on stderr."""
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
    written = versionrecord.add_values(load_json(path), pairs, replace)
    write_atomic(path, versionrecord.encode_written(written))


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
    require_args(args, 3, "post_resource_state RESOURCE_NAME STATE_NAME STATE_VALUE")
    write_values(args[0], [(args[1], args[2])], replace=True)
    return 0


def cmd_put_resource_state(args: Sequence[str]) -> int:
    require_args(args, 3, "put_resource_state RESOURCE_NAME STATE_NAME STATE_VALUE")
    write_values(args[0], [(args[1], args[2])], replace=False)
    return 0


def cmd_post_resource_state_multi(args: Sequence[str]) -> int:
    require_args(args, 2, 'post_resource_state_multi RESOURCE_NAME "KEY=VALUE" ...')
    write_values(args[0], parse_pairs(args[1:]), replace=True)
    return 0


def cmd_put_resource_state_multi(args: Sequence[str]) -> int:
    require_args(args, 2, 'put_resource_state_multi RESOURCE_NAME "KEY=VALUE" ...')
    write_values(args[0], parse_pairs(args[1:]), replace=False)
    return 0


COMMANDS: dict[str, Command] = {
    "post_resource_state": cmd_post_resource_state,
    "put_resource_state": cmd_put_resource_state,
    "post_resource_state_multi": cmd_post_resource_state_multi,
    "put_resource_state_multi": cmd_put_resource_state_multi,
}
