"""One file committed to a branch of a bare repository with the git CLI (no pygit2).

What `gitline trigger`, `gitline approve` (through the controller) and the API's trigger
write to the config branch (ConfigRepo.commit_file): the blob, the trees along its path
(`git mktree`), the commit object written byte for byte as pygit2 would (author and
committer as given, never rewritten by git's ident rules), and a compare-and-swap
`git update-ref`. A write that loses the race reads the tip again and retries
(reflock.py), like the state branch's writer. No working tree, no hooks.
"""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Callable

from controller.store import reflock
from controller.store.catfile import CatFile, GitCommandError, TreeEntry
from controller.store.statebranch import SIGNATURE_EMAIL, SIGNATURE_NAME, split_path


def _git(git_dir: str, *args: str, data: bytes = b"") -> str:
    done = subprocess.run(["git", "--git-dir", git_dir, *args], input=data,
                          capture_output=True, check=False)
    if done.returncode != 0:
        raise GitCommandError(f"git {args[0]} in {git_dir}: "
                      f"{done.stderr.decode(errors='replace').strip()}")
    return done.stdout.decode().strip()


def _mktree(git_dir: str, entries: dict[str, TreeEntry]) -> str:
    kinds = {"40000": "tree", "160000": "commit"}
    text = b"".join(f"{e.mode} {kinds.get(e.mode, 'blob')} {e.id}\t".encode()
                    + name.encode("utf-8", errors="surrogateescape") + b"\0"
                    for name, e in entries.items())
    return _git(git_dir, "mktree", "-z", data=text)


def _tree_with(cat: CatFile, tree: str | None, parts: tuple[str, ...], blob: str) -> str:
    """`tree` (None: empty) with the file at `parts` set to `blob`; whatever was at that
    path, or at a folder on the way, is replaced."""
    entries = dict(cat.tree(tree) or {}) if tree else {}
    name = parts[0]
    if len(parts) == 1:
        entries[name] = TreeEntry("100644", blob)
    else:
        sub = entries.get(name)
        below = sub.id if sub is not None and sub.is_tree else None
        entries[name] = TreeEntry("40000", _tree_with(cat, below, parts[1:], blob))
    return _mktree(cat.git_dir, entries)


def _signature(name: str, email: str, when: float) -> str:
    """An ident line as libgit2 writes it: trimmed; no angle brackets, no empty name."""
    name, email = name.strip(), email.strip()
    if not name or any(c in f"{name}{email}" for c in "<>\n\0"):
        raise ValueError(f"bad name or email for a commit: {name!r} <{email!r}>")
    offset = time.localtime(when).tm_gmtoff // 60
    sign = "-" if offset < 0 else "+"
    return f"{name} <{email}> {int(when)} {sign}{abs(offset) // 60:02d}{abs(offset) % 60:02d}"


def commit_file(git_dir: str | os.PathLike[str], branch: str, path: str, content: bytes,
                message: str, author_name: str, author_email: str,
                before_update: Callable[[str], None] | None = None) -> str:
    """Commit `content` at `path` on `branch` (created if missing) as the author, with
    Gitline as committer; returns the new sha. `before_update(sha)` runs before the ref
    moves (as pre-receive does for a push): whoever sees the commit can already read
    what it recorded about it."""
    git_dir, ref, parts = str(git_dir), f"refs/heads/{branch}", split_path(path)
    message = message if message.endswith("\n") else message + "\n"
    author, committer = (author_name, author_email), (SIGNATURE_NAME, SIGNATURE_EMAIL)
    _signature(*author, 0)  # a bad name fails before anything is written
    blob = _git(git_dir, "hash-object", "-w", "--stdin", data=content)
    deadline = time.monotonic() + reflock.WRITE_DEADLINE_SECONDS
    attempt = 0
    while True:
        with CatFile(git_dir) as cat:  # a new reader each time: the tip as it is now
            tip = cat.commit(ref)
            tree = _tree_with(cat, tip.tree if tip else None, parts, blob)
        now = time.time()
        head = f"tree {tree}\n" + (f"parent {tip.id}\n" if tip else "")
        body = (f"{head}author {_signature(*author, now)}\n"
                f"committer {_signature(*committer, now)}\n\n{message}")
        sha = _git(git_dir, "hash-object", "-w", "-t", "commit", "--stdin",
                   data=body.encode("utf-8"))
        if before_update is not None:
            before_update(sha)
        try:
            with reflock.updating(git_dir, ref):
                _git(git_dir, "update-ref", ref, sha, tip.id if tip else "")
            return sha
        except GitCommandError as err:  # the ref moved, or is locked: again
            if time.monotonic() > deadline:
                raise reflock.StateWriteError(f"could not update {ref}: {err}") from err
            reflock.clear_stale_lock(git_dir, ref)
            attempt += 1
            reflock.back_off(attempt)
