"""The commands that touch no resource: version bumps, string helpers, `retry`, and
`notify` (which records an event for the controller to deliver)."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from collections.abc import Sequence

from controller.core import runenv, versions
from controller.execution.shipctl.console import Command, ShipctlError, emit, require_args
from controller.execution.shipctl.workspace import job_path

RETRIES = 3


def cmd_bump_version(args: Sequence[str]) -> int:
    require_args(args, 2, f"bump_version VERSION {'|'.join(versions.BUMP_KINDS)}")
    try:
        return emit(versions.bump_version(args[0], args[1]))
    except versions.BumpError as err:
        raise ShipctlError(str(err)) from err


def cmd_sanitize_shippable_string(args: Sequence[str]) -> int:
    require_args(args, 1, "sanitize_shippable_string STRING")
    return emit(re.sub(r"[^a-zA-Z_0-9]", "", args[0]))


def cmd_to_uppercase(args: Sequence[str]) -> int:
    require_args(args, 1, "to_uppercase STRING")
    return emit(args[0].upper())


def cmd_notify(args: Sequence[str]) -> int:
    """Record a notification event in `$JOB_PATH/notifications.jsonl` (delivered elsewhere)."""
    require_args(args, 1, "notify RESOURCE [--option=value ...]")
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
    require_args(args, 1, "retry COMMAND [ARGS ...]")
    argv = ["sh", "-c", args[0]] if len(args) == 1 and " " in args[0] else list(args)
    pause = float(os.environ.get("GITLINE_RETRY_SLEEP", "2"))
    code = 1
    for attempt in range(1, RETRIES + 1):
        try:
            code = subprocess.call(argv)
        except OSError as exc:
            print(f"shipctl retry: {exc}", file=sys.stderr)
            code = 127
        if code == 0:
            return 0
        if attempt < RETRIES:
            print(f"retrying ({attempt}/{RETRIES} failed with exit code {code})", file=sys.stderr)
            time.sleep(pause)
    return code


COMMANDS: dict[str, Command] = {
    "bump_version": cmd_bump_version,
    "notify": cmd_notify,
    "retry": cmd_retry,
    "sanitize_shippable_string": cmd_sanitize_shippable_string,
    "to_uppercase": cmd_to_uppercase,
}
