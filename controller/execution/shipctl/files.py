"""The file commands: copying files to and from JOB_STATE, the previous state and an
output's state, and `replace` (filling `$VAR`s in files from the environment)."""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Mapping, Sequence
from pathlib import Path

from controller.core import runenv
from controller.execution.shipctl.console import Command, ShipctlError, require_args
from controller.execution.shipctl.workspace import (
    is_output,
    job_path,
    job_state,
    load_json,
    previous_state,
    require_resource,
    res_dir,
    resolve,
)


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
    require_args(args, 1, "copy_file_to_state FILE_PATH")
    src = Path(args[0])
    if not src.exists():
        raise ShipctlError(f"cannot copy {args[0]}: no such file or directory", 1)
    job_state().mkdir(parents=True, exist_ok=True)
    copy_any(src, job_state())
    return 0


def cmd_refresh_file_to_state(args: Sequence[str]) -> int:
    require_args(args, 1, "refresh_file_to_state FILE_PATH")
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
    require_args(args, 2, "copy_file_from_prev_state FILE_PATH RESTORE_PATH")
    src = previous_state() / args[0]
    if not src.exists():
        print("File does not exist in previous state, skipping")
        return 0
    copy_any(src, Path(args[1]))
    return 0


def cmd_copy_file_to_resource_state(args: Sequence[str]) -> int:
    require_args(args, 2, "copy_file_to_resource_state FILE_NAME RES_NAME")
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
    require_args(args, 3,
                 "copy_file_from_resource_state RESOURCE_NAME FILE_NAME PATH_TO_COPY_INTO")
    name = require_resource(args[0])
    in_dir = job_path() / "IN" / name
    folder = in_dir if in_dir.is_dir() else res_dir(name)
    res_type = str(load_json(folder / runenv.VERSION_FILE).get("type", ""))
    src = folder / runenv.content_dir(res_type) / args[1]
    if not src.exists():
        print(f"File does not exist in {name} state, skipping")
        return 0
    copy_any(src, Path(args[2]))
    return 0


_VAR = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}|\$([A-Za-z_][A-Za-z0-9_]*)")


def substitute(text: str, env: Mapping[str, str]) -> str:
    """Fill `${VAR}` and `$VAR` from `env`; unknown variables are left as written."""

    def fill(match: re.Match[str]) -> str:
        var = match.group(1) or match.group(2)
        return env.get(var, match.group(0))

    return _VAR.sub(fill, text)


def cmd_replace(args: Sequence[str]) -> int:
    require_args(args, 1, "replace FILE ...")
    env = dict(os.environ)
    for name in args:
        path = Path(name)
        if not path.is_file():
            raise ShipctlError(f"replace: {name}: no such file", 1)
        text = path.read_text(encoding="utf-8", errors="surrogateescape")
        path.write_text(substitute(text, env), encoding="utf-8", errors="surrogateescape")
    return 0


COMMANDS: dict[str, Command] = {
    "copy_file_to_state": cmd_copy_file_to_state,
    "refresh_file_to_state": cmd_refresh_file_to_state,
    "copy_file_from_prev_state": cmd_copy_file_from_prev_state,
    "copy_file_to_resource_state": cmd_copy_file_to_resource_state,
    "refresh_file_to_out_path": cmd_copy_file_to_resource_state,
    "copy_file_from_resource_state": cmd_copy_file_from_resource_state,
    "copy_resource_file_from_state": cmd_copy_file_from_resource_state,
    "replace": cmd_replace,
}
