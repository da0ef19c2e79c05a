"""The git CLI against other repositories: fetches into mirrors, ref moves, credentials.

The only place Gitline runs `git` for the network. Git gets the remote transports only
(`remotes.protocol_config`), `--` before every user value, GIT_PROTOCOL_FROM_USER=0, and
credentials through GIT_CONFIG_* variables (an http.extraHeader) or GIT_SSH_COMMAND with
a key file, never through a URL or argv; what it prints is sanitized before it is shown.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import subprocess
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from controller.atomicfile import write_atomic
from controller.core import remotes
from controller.core.remotes import sanitize_url
from controller.secrets import Secret

ZERO = "0" * 40


def git_auth_env(url: str, secret: Secret | None, key_dir: Path) -> dict[str, str]:
    """Environment for git that carries `secret` to `url` without putting it in argv."""
    if secret is None:
        return {}
    fields = dict(secret.fields) if secret.fields else {"token": secret.value or ""}
    if fields.get("sshKey") and not url.startswith(("http://", "https://")):
        key_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        key = key_dir / hashlib.sha256(fields["sshKey"].encode()).hexdigest()[:16]
        if not key.exists():
            fd = os.open(key, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "w") as f:
                f.write(fields["sshKey"].strip() + "\n")
        return {"GIT_SSH_COMMAND": f"ssh -i {key} -o IdentitiesOnly=yes "
                                   "-o StrictHostKeyChecking=accept-new -o BatchMode=yes"}
    if url.startswith(("http://", "https://")):
        user = fields.get("username") or fields.get("user") or "x-access-token"
        password = fields.get("password") or fields.get("token") or fields.get("value") or ""
        if not password:
            return {}
        basic = base64.b64encode(f"{user}:{password}".encode()).decode()
        return {"GIT_CONFIG_COUNT": "1", "GIT_CONFIG_KEY_0": "http.extraHeader",
                "GIT_CONFIG_VALUE_0": f"Authorization: Basic {basic}"}
    return {}


class GitError(RuntimeError):
    """A git command failed (the message is sanitized)."""


def run_git(*args: str, git_dir: Path | None = None, env: Mapping[str, str] | None = None,
            timeout: float = 300.0, allow_local: bool = True) -> str:
    """git with the remote transports only (file:// and paths when `allow_local`)."""
    base = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}
    base.update({"GIT_TERMINAL_PROMPT": "0", "GIT_ASKPASS": "true", "LC_ALL": "C"})
    base.update(env or {})
    base["GIT_PROTOCOL_FROM_USER"] = "0"  # no protocol a URL picks (ext::, fd::) by itself
    cmd = ["git", *remotes.protocol_config(allow_local),
           *([f"--git-dir={git_dir}"] if git_dir else []), *args]
    try:
        done = subprocess.run(cmd, env=base, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired as err:
        raise GitError(f"git {args[0]} timed out after {timeout:.0f}s") from err
    if done.returncode != 0:
        detail = sanitize_url(done.stderr.strip().splitlines()[-1] if done.stderr.strip()
                              else f"exit {done.returncode}")
        raise GitError(f"git {args[0]}: {detail}")
    return done.stdout


def checked_url(url: str, allow_local: bool) -> None:
    """Refuse a URL git must not be handed (an option, a remote helper, a local path)."""
    problem = remotes.url_problem(url, allow_local=allow_local)
    if problem:
        raise GitError(f"refusing remote {sanitize_url(url)}: {problem}")


def list_refs(git_dir: Path, prefix: str = "refs/") -> dict[str, str]:
    out = run_git("for-each-ref", "--format=%(refname) %(objectname)", prefix, git_dir=git_dir)
    pairs = (line.split(" ", 1) for line in out.splitlines() if " " in line)
    return {ref: sha for ref, sha in pairs}


def is_ancestor(git_dir: Path, old: str, new: str) -> bool:
    try:
        run_git("merge-base", "--is-ancestor", old, new, git_dir=git_dir)
        return True
    except GitError:
        return False


def has_commit(mirror: Path, sha: str) -> bool:
    try:
        run_git("cat-file", "-e", f"{sha}^{{commit}}", git_dir=mirror)
        return True
    except GitError:
        return False


def ensure_mirror(mirror: Path) -> None:
    """A bare repository at `mirror` (created empty the first time)."""
    if not (mirror / "HEAD").exists():
        mirror.parent.mkdir(parents=True, exist_ok=True)
        run_git("init", "--quiet", "--bare", "--", str(mirror))


def fetch(git_dir: Path, url: str, specs: list[str], *, env: Mapping[str, str],
          allow_local: bool, prune: bool = False) -> None:
    """`git fetch` of `specs` from `url` into `git_dir` (the URL checked first); tags only
    as the specs name them."""
    checked_url(url, allow_local)
    run_git("fetch", "--quiet", *(("--prune",) if prune else ()), "--no-tags", "--", url,
            *specs, git_dir=git_dir, env=env, allow_local=allow_local)


def move_ref(git_dir: Path, ref: str, new: str, old: str | None) -> None:
    """Compare-and-swap `ref` from `old` (None: must not exist) to `new`."""
    run_git("update-ref", ref, new, old or ZERO, git_dir=git_dir)


def push(git_dir: Path, url: str, ref: str, *, env: Mapping[str, str],
         allow_local: bool) -> None:
    checked_url(url, allow_local)
    run_git("push", "--quiet", "--", url, f"{ref}:{ref}", git_dir=git_dir, env=env,
            allow_local=allow_local)


def commits_after(git_dir: Path, old: str | None, new: str, limit: int) -> list[str]:
    """Commits after `old` up to `new` (first parents), oldest first; just `new` when
    `old` is unknown or not an ancestor."""
    if not old or not is_ancestor(git_dir, old, new):
        return [new]
    out = run_git("rev-list", "--first-parent", f"--max-count={limit}", f"{old}..{new}",
                  git_dir=git_dir)
    return list(reversed(out.split()))


def commit_people(git_dir: Path, sha: str) -> tuple[str, str, str]:
    """(committer, author, subject) of a commit."""
    fmt = "%H%x00%cn <%ce>%x00%an <%ae>%x00%s"
    _, committer, author, subject = run_git(
        "log", "-1", f"--format={fmt}", sha, git_dir=git_dir).rstrip("\n").split("\x00", 3)
    return committer, author, subject


def read_seen(path: Path) -> dict[str, Any]:
    """The refs a poller has versioned already (ref -> sha)."""
    return json.loads(path.read_text()) if path.exists() else {}


def write_seen(path: Path, seen: Mapping[str, Any]) -> None:
    write_atomic(path, json.dumps(seen, indent=1, sort_keys=True))
