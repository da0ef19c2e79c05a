"""Where a leaked secret would show: everything the state branch ever held."""

from __future__ import annotations

from pathlib import Path

from tests.harness.commands import run


def state_blobs(repo: Path) -> str:
    """Every blob of every commit on the state branch, and every commit message."""
    git = ["git", "--git-dir", str(repo)]
    seen: set[str] = set()
    texts = [run(*git, "log", "--format=%B", "state").stdout]
    for commit in run(*git, "rev-list", "state").stdout.split():
        for line in run(*git, "ls-tree", "-r", commit).stdout.splitlines():
            sha = line.split()[2]
            if sha not in seen:
                seen.add(sha)
                texts.append(run(*git, "cat-file", "-p", sha).stdout)
    return "\n".join(texts)
