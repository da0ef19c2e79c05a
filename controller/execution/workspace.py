"""The workdir of one run: written before it starts, read back after it ends.

`prepare` writes what `runenv.layout` describes under `root/<job>/<run>/` plus the
`shipctl` wrapper; `collect` reads what the job and `shipctl` left behind: the JOB_STATE
files and, per output, a new version (a written version.json, see core/versionrecord.py)
and/or changed state files. Collecting never follows a symlink out of the workdir and
skips oversized files, with a note. `prune_workdirs` removes a job's old workdirs.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import logging
import os
import re
import shutil
import stat
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from controller.core import model, runenv, versionrecord
from controller.core.runspec import OutputSpec, OutputUpdate, RunSpec

log = logging.getLogger(__name__)

KEEP_WORKDIRS = 3  # a job's newest run folders kept (with their live logs) for a look
MAX_FILE_BYTES = 50 * 1024 * 1024
MAX_TOTAL_BYTES = 200 * 1024 * 1024
BIN_DIR = ".gitline/bin"
STEPS_DIR = ".gitline/steps"
HOME_DIR = ".gitline/home"  # the job's HOME: never the controller's

_PACKAGE_ROOT = str(Path(__file__).resolve().parents[2])


def workdir_for(spec: RunSpec, root: Path) -> Path:
    """`root/<job>/<run number>`; a job named with spaces or punctuation gets a plain
    folder name (`Deploy (prod)` -> `Deploy__prod_-<hash>`), so that $JOB_STATE and the
    other paths a job is given hold no character a script would have to quote."""
    return root / job_folder(spec.job.name) / str(int(spec.run.number))


def job_folder(job: str) -> str:
    """The folder of a job's runs: its name, or a plain form of a name with spaces."""
    name = runenv.check_name(job)
    if not model.PLAIN_NAME.fullmatch(name):
        digest = hashlib.sha256(name.encode()).hexdigest()[:8]
        name = f"{re.sub(r'[^A-Za-z0-9_.-]', '_', name)}-{digest}"
    return name


def prepare(spec: RunSpec, root: Path) -> Path:
    """Create a fresh workdir for `spec` (replacing a leftover one) and return its path."""
    workdir = workdir_for(spec, root).resolve()
    if workdir.exists():
        shutil.rmtree(workdir)
    workdir.mkdir(parents=True)
    executable = runenv.executables(spec)
    for rel, blob in runenv.layout(spec):
        target = workdir / rel
        if rel.endswith("/"):
            target.mkdir(parents=True, exist_ok=True)
        else:
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(blob)
            if rel in executable:
                target.chmod(0o755)
    install_shipctl(workdir)
    (workdir / STEPS_DIR).mkdir(parents=True, exist_ok=True)
    (workdir / HOME_DIR).mkdir(parents=True, exist_ok=True)
    return workdir


def live_log(workdir: Path) -> Path:
    """`<job folder>/<run>.log`: the run's log as it is written, beside its folder (where
    the job cannot reach it), kept until the folder is pruned."""
    return workdir.parent / f"{workdir.name}.log"


def prune_workdirs(job_dir: Path, keep: int = KEEP_WORKDIRS) -> list[Path]:
    """Delete all but the newest `keep` run workdirs of a job, never one a run holds (in
    this process or another worker's: `claim`)."""
    runs = sorted(
        (p for p in job_dir.iterdir() if p.name.isdigit() and p.is_dir() and not p.is_symlink()),
        key=lambda p: int(p.name),
    )
    removed = []
    for old in runs[: max(len(runs) - keep, 0)]:
        held = claim(old, wait=False)
        if held is None:
            continue  # a run is using it
        try:
            shutil.rmtree(old, ignore_errors=True)
            live_log(old).unlink(missing_ok=True)
        finally:
            os.close(held)
        removed.append(old)
    return removed


def prune_quietly(job_dir: Path) -> None:
    """`prune_workdirs`, logging instead of raising: a run's end never fails on it."""
    try:
        prune_workdirs(job_dir)
    except OSError:
        log.warning("could not prune old workdirs in %s", job_dir, exc_info=True)


def claim(workdir: Path, *, wait: bool = True) -> int | None:
    """Hold `workdir` (an flock on the folder itself, for every process on this host):
    the returned descriptor holds it until closed. Without `wait`, None when another
    holder has it. The job cannot take or drop it: the folder's lock is not its file."""
    fd = os.open(workdir, os.O_RDONLY | os.O_DIRECTORY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | (0 if wait else fcntl.LOCK_NB))
    except BlockingIOError:
        os.close(fd)
        return None
    return fd


def install_shipctl(workdir: Path) -> Path:
    """Write `<workdir>/.gitline/bin/shipctl`, a wrapper running this Python; return the dir.

    Works whether or not the `shipctl` console script is installed: it puts the package
    root on sys.path and calls `controller.execution.shipctl.main`.
    """
    bindir = workdir / BIN_DIR
    bindir.mkdir(parents=True, exist_ok=True)
    code = (
        "import sys; sys.path.insert(0, sys.argv.pop(1)); "
        "from controller.execution.shipctl import main; sys.exit(main())"
    )
    script = (
        "#!/bin/sh\n"
        f"exec {_q(sys.executable)} -c {_q(code)} {_q(_PACKAGE_ROOT)} \"$@\"\n"
    )
    wrapper = bindir / "shipctl"
    wrapper.write_text(script)
    wrapper.chmod(0o755)
    return bindir


def _q(text: str) -> str:
    return "'" + text.replace("'", "'\"'\"'") + "'"


# --- collecting ----------------------------------------------------------------------


@dataclass
class Budget:
    """Bytes that collecting one run may still read, shared by all its folders."""

    left: int = MAX_TOTAL_BYTES


def read_tree(
    folder: Path, workdir: Path, notes: list[str], budget: Budget | None = None
) -> dict[str, bytes]:
    """Files under `folder` as {relative path: bytes}.

    Only regular files leave a job: symlinks are never followed, and a file with hard
    links outside the workdir is refused (see `refusal`). Files over MAX_FILE_BYTES, or
    beyond the shared `budget` (bytes left), are skipped. Each skip is a note.
    """
    budget = budget if budget is not None else Budget()
    out: dict[str, bytes] = {}
    root = workdir.resolve()
    if not inside(folder, root):
        notes.append(f"skipped {folder.name}/: it is (or is under) a symlink out of the workdir")
        return out
    if not folder.is_dir():
        return out
    for dirpath, dirnames, filenames in os.walk(folder, followlinks=False):
        dirnames.sort()
        for fname in sorted(filenames) + _linked_names(Path(dirpath), dirnames):
            path = Path(dirpath) / fname
            rel = path.relative_to(folder).as_posix()
            blob = _read_one(path, root, rel, notes, budget)
            if blob is not None:
                out[rel] = blob
    return out


def _linked_names(dirpath: Path, dirnames: list[str]) -> list[str]:
    """Symlinked dirs listed by os.walk as dirs: report them (they are never followed)."""
    return [d for d in dirnames if (dirpath / d).is_symlink()]


def _read_one(
    path: Path, root: Path, rel: str, notes: list[str], budget: Budget
) -> bytes | None:
    try:
        why = refusal(path, root)
        if why:
            notes.append(f"refused {rel}: {why}")
            return None
        st = path.lstat()
        if st.st_size > MAX_FILE_BYTES:
            notes.append(f"skipped {rel}: {st.st_size} bytes is over {MAX_FILE_BYTES}")
            return None
        if st.st_size > budget.left:
            notes.append(f"skipped {rel}: total size of collected files over {MAX_TOTAL_BYTES}")
            return None
        blob = path.read_bytes()[:MAX_FILE_BYTES]
        budget.left -= len(blob)
        return blob
    except OSError as exc:
        notes.append(f"skipped {rel}: {exc}")
        return None


def refusal(path: Path, root: Path) -> str:
    """Why `path` may not leave the job ("" for a regular file owned by the workdir).

    A symlink is never followed (it could name /etc/shadow or HOME/secrets.yml); a regular
    file with more than one hard link counts only when every link is inside the workdir
    (a link to a file outside would copy that file's content out)."""
    st = path.lstat()
    if stat.S_ISLNK(st.st_mode):
        return "it is a symlink (only regular files leave a job)"
    if not stat.S_ISREG(st.st_mode):
        return "not a regular file"
    if st.st_nlink > 1 and _links_inside(root, st) < st.st_nlink:
        return "it is a hard link to a file outside the workdir"
    return ""


def _links_inside(root: Path, st: os.stat_result) -> int:
    count = 0
    for dirpath, _dirs, files in os.walk(root, followlinks=False):
        for name in files:
            try:
                other = os.lstat(os.path.join(dirpath, name))
            except OSError:
                continue
            count += other.st_ino == st.st_ino and other.st_dev == st.st_dev
    return count


def inside(path: Path, root: Path) -> bool:
    """True if `path` is not a symlink and, resolved, stays under `root` (resolved)."""
    return not path.is_symlink() and path.resolve().is_relative_to(root)


def read_json(path: Path, root: Path | None = None) -> dict[str, Any] | None:
    """A JSON object from a regular file (inside `root` when given), or None."""
    try:
        if root is not None and not inside(path, root):
            return None
        if path.is_symlink() or not path.is_file():
            return None
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def _output_update(
    out: OutputSpec, workdir: Path, notes: list[str], budget: Budget
) -> OutputUpdate | None:
    base = workdir / runenv.io_dir("OUT", out.name)
    if not inside(base, workdir) or not inside(base / runenv.STATE_DIR, workdir):
        notes.append(f"ignored output {out.name}: its folder is a symlink out of the workdir")
        return None
    written = versionrecord.written(read_json(base / runenv.VERSION_FILE, workdir) or {})
    files = read_tree(base / runenv.STATE_DIR, workdir, notes, budget)
    files_changed = files != dict(out.files)
    if written is None and not files_changed:
        return None
    return OutputUpdate(
        resource=out.name,
        values=written.values if written else {},
        replace=written.replace if written else False,
        version_name=written.version_name if written else "",
        files=files if files_changed else None,
    )


def collect(
    spec: RunSpec, workdir: Path, notes: list[str] | None = None
) -> tuple[tuple[OutputUpdate, ...], dict[str, bytes]]:
    """(output updates, JOB_STATE files) of a finished run.

    An output gets an update when `shipctl` wrote its version.json or when its `state/`
    files differ from the ones it started with (files are set only then). Problems
    (skipped files) are appended to `notes` when given.
    """
    notes = notes if notes is not None else []
    workdir = Path(workdir).resolve()
    budget = Budget()
    state = read_tree(workdir / runenv.STATE_DIR, workdir, notes, budget)
    updates = []
    for out in spec.outputs:
        update = _output_update(out, workdir, notes, budget)
        if update is not None:
            updates.append(update)
    return tuple(updates), state


def read_notifications(workdir: Path) -> list[dict[str, Any]]:
    """Events `shipctl notify` recorded (one JSON object a line); bad lines are skipped."""
    path = Path(workdir) / runenv.NOTIFICATIONS_FILE
    if not inside(path, Path(workdir).resolve()) or not path.is_file():
        return []
    events = []
    with path.open("r", encoding="utf-8", errors="replace") as fh:
        for line in fh.read(1024 * 1024).splitlines():
            try:
                event = json.loads(line)
            except ValueError:
                continue
            if isinstance(event, dict):
                events.append(event)
    return events
