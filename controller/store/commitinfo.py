"""One commit of the config repository as a page shows it: its message, who and when,
and the paths it changed against its first parent (the web view's commit page)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

import pygit2

MAX_PATHS = 200  # a page lists at most this many changed paths


@dataclass(frozen=True)
class CommitInfo:
    sha: str
    message: str
    author: str
    when: str  # ISO 8601, UTC
    parent: str  # "" for a root commit
    changed: tuple[tuple[str, str], ...]  # (A|M|D|R..., path), at most MAX_PATHS
    more: int  # changed paths not listed


def commit_info(repo: pygit2.Repository, sha: str) -> CommitInfo | None:
    """The commit `sha` (40 hex digits) of `repo`; None if there is no such commit."""
    try:
        commit = repo.get(sha)
    except (ValueError, KeyError):
        return None
    if not isinstance(commit, pygit2.Commit):
        return None
    parent = commit.parents[0] if commit.parents else None
    diff = repo.diff(parent.tree, commit.tree) if parent else commit.tree.diff_to_tree(swap=True)
    deltas = list(diff.deltas)
    changed = tuple((d.status_char(), d.new_file.path or d.old_file.path)
                    for d in deltas[:MAX_PATHS])
    when = datetime.fromtimestamp(commit.commit_time, UTC).isoformat().replace("+00:00", "Z")
    return CommitInfo(str(commit.id), commit.message, f"{commit.author.name} <"
                      f"{commit.author.email}>", when, str(parent.id) if parent else "",
                      changed, max(0, len(deltas) - MAX_PATHS))
