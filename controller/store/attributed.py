"""The config repository as the controller reads it: each commit names who pushed it over
HTTP (HOME/pushes.jsonl), if anyone, beside its git author."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from controller.store.configrepo import MAX_COMMITS, CommitInfo, ConfigRepo
from controller.store.pushlog import Pusher, PushLog, attributed


class AttributedConfigRepo(ConfigRepo):
    """The config repository, whose commits name who pushed them over HTTP (if anyone)."""

    def __init__(self, repo_path: Any, branch: str, pushes: PushLog) -> None:
        super().__init__(repo_path, branch)
        self._pushes = pushes

    def commits_between(self, old: str | None, new: str, *,
                        limit: int = MAX_COMMITS) -> tuple[list[CommitInfo], bool]:
        commits, rewritten = super().commits_between(old, new, limit=limit)
        tip = self._pushes.pusher(new)
        return [replace(c, author=attributed(c.author, self._pushes.pusher(c.sha) or tip))
                for c in commits], rewritten


def record_pushed(config: ConfigRepo, pushes: PushLog, pusher: Pusher,
                  updates: list[tuple[str, str, str]]) -> None:
    """Name `pusher` as the pusher of every commit a push (old, new, ref) brought to the
    config branch (a deletion brings none; at most 1000 per ref)."""
    ref = f"refs/heads/{config.branch}"
    for old, new, name in updates:
        if name == ref and set(new) != {"0"}:
            commits, _ = config.commits_between(None if set(old) == {"0"} else old, new,
                                                limit=1000)
            pushes.record(pusher, [c.sha for c in commits])
