"""A clone's working tree as a commit, for `gitline plan --work`: what committing every
change (`git add -A`) and pushing would give, read like any other commit.

The commit is made with a throw-away index and no ref, so the clone's branch, index and
files stay as they were; only unreferenced objects are added, which git's gc removes.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path


class WorkTreeError(Exception):
    """PATH is not the working tree of a git clone, or git failed on it."""


@dataclass(frozen=True)
class WorkCommit:
    git_dir: Path
    commit: str  # the working tree, committed on top of `base`
    base: str  # what a push would update: the remote's branch, else HEAD ("" = none)


def _git(work: Path, *args: str, env: dict[str, str] | None = None) -> str:
    try:
        done = subprocess.run(["git", "-C", str(work), *args], capture_output=True,
                              text=True, timeout=120, env=env)
    except (OSError, subprocess.TimeoutExpired) as err:
        raise WorkTreeError(f"git {args[0]}: {err}") from err
    if done.returncode != 0:
        raise WorkTreeError(f"{work}: git {args[0]}: {done.stderr.strip() or done.returncode}")
    return done.stdout.strip()


def _rev(work: Path, name: str) -> str:
    try:
        return _git(work, "rev-parse", "--verify", "--quiet", f"{name}^{{commit}}")
    except WorkTreeError:
        return ""


def commit_worktree(work: Path, branch: str = "main", remote: str = "origin") -> WorkCommit:
    """Commit the working tree of `work` (tracked, new and deleted files, .gitignore kept)
    on top of `remote`/`branch` (or HEAD), without touching the clone's refs or index."""
    work = Path(work)
    if _git(work, "rev-parse", "--is-inside-work-tree") != "true":
        raise WorkTreeError(f"{work} is not the working tree of a git clone")
    top = Path(_git(work, "rev-parse", "--show-toplevel"))
    git_dir = Path(_git(top, "rev-parse", "--absolute-git-dir"))
    base = _rev(top, f"refs/remotes/{remote}/{branch}") or _rev(top, "HEAD")
    with tempfile.TemporaryDirectory(prefix="gitline-plan-") as tmp:
        index = Path(tmp) / "index"
        if (git_dir / "index").is_file():  # its stat cache spares hashing unchanged files
            shutil.copyfile(git_dir / "index", index)
        env = {**os.environ, "GIT_INDEX_FILE": str(index)}
        _git(top, "add", "-A", env=env)
        tree = _git(top, "write-tree", env=env)
    ident = {**os.environ, "GIT_AUTHOR_NAME": os.environ.get("GIT_AUTHOR_NAME", "gitline plan"),
             "GIT_AUTHOR_EMAIL": os.environ.get("GIT_AUTHOR_EMAIL", "plan@localhost"),
             "GIT_COMMITTER_NAME": "gitline plan", "GIT_COMMITTER_EMAIL": "plan@localhost"}
    parent = ["-p", base] if base else []
    commit = _git(top, "commit-tree", tree, *parent, "-m", "gitline plan: the working tree",
                  env=ident)
    return WorkCommit(git_dir, commit, base)
