"""Following the HOME's upstream (`upstream:` in gitline.yml, any git URL).

Its branch is fetched on an interval and at once on a push webhook, then moved onto
config.git's watched branch (fast-forward; a rewritten upstream resets the branch and is
reported), then the loop is poked. With `push_state: true` the state branch is pushed back
to the upstream. What a fetched tip means is `sources.decide_follow`; the git work is
`store.remote`'s.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from controller.core import sources
from controller.core.clock import now_iso
from controller.core.remotes import sanitize_url
from controller.store import remote

log = logging.getLogger("gitline")


@dataclass
class UpstreamReport:
    url: str
    branch: str
    last_fetch: str = ""
    last_result: str = ""
    last_error: str = ""
    rewrites: list[str] = field(default_factory=list)  # "old..new at time", newest last

    def as_dict(self) -> dict[str, Any]:
        return {"url": self.url, "branch": self.branch, "lastFetch": self.last_fetch,
                "lastResult": self.last_result, "lastError": self.last_error,
                "rewrites": self.rewrites[-10:]}


class UpstreamFollower:
    """Moves config.git's watched branch to the upstream's; optionally pushes state back."""

    FETCH_REF = "refs/gitline/upstream"

    def __init__(self, repo_path: Path, url: str, *, branch: str, upstream_branch: str,
                 state_branch: str, push_state: bool, auth_env: Callable[[], dict[str, str]],
                 poke: Callable[[], None], allow_local: bool = False) -> None:
        self.repo = repo_path
        self.allow_local = allow_local
        self.url = url
        self.branch = branch
        self.upstream_branch = upstream_branch or branch
        self.state_branch = state_branch
        self.push_state = push_state
        self._auth_env = auth_env
        self._poke = poke
        self._lock = threading.Lock()
        self._pushed_state = ""
        self.report = UpstreamReport(sanitize_url(url), self.upstream_branch)

    def sync(self) -> str:
        """Fetch, move the branch, push state; returns the outcome (never raises)."""
        with self._lock:
            try:
                result = self._follow(self._auth_env())
                self.report.last_error = ""
            except remote.GitError as err:
                result = "error"
                self.report.last_error = str(err)
                log.warning("upstream %s: %s", self.report.url, err)
            self.report.last_fetch = now_iso()
            self.report.last_result = result
            return result

    def sync_state(self) -> None:
        """Push the state branch to the upstream if it moved since the last push."""
        if not self.push_state:
            return
        with self._lock:
            try:
                self._push_state(remote.list_refs(self.repo, "refs/heads/"), self._auth_env())
            except remote.GitError as err:
                self.report.last_error = str(err)
                log.warning("upstream %s: pushing %s: %s", self.report.url, self.state_branch,
                            err)

    def _follow(self, env: dict[str, str]) -> str:
        remote.fetch(self.repo, self.url, [f"+refs/heads/{self.upstream_branch}:{self.FETCH_REF}"],
                     env=env, allow_local=self.allow_local)
        refs = remote.list_refs(self.repo)
        tip = refs[self.FETCH_REF]
        local = refs.get(f"refs/heads/{self.branch}")
        decision = sources.decide_follow(
            local, tip,
            local_in_remote=bool(local) and remote.is_ancestor(self.repo, local or "", tip),
            remote_in_local=bool(local) and remote.is_ancestor(self.repo, tip, local or ""))
        if decision in ("fast-forward", "rewrite"):
            remote.move_ref(self.repo, f"refs/heads/{self.branch}", tip, local)
            if decision == "rewrite":
                note = f"{(local or '')[:7]}..{tip[:7]} at {now_iso()}"
                self.report.rewrites.append(note)
                log.warning("upstream %s was rewritten (force push): %s reset from %s to %s",
                            self.report.url, self.branch, (local or "")[:7], tip[:7])
            else:
                log.info("upstream %s: %s -> %s", self.report.url, self.branch, tip[:7])
            self._poke()
        if self.push_state:
            self._push_state(refs, env)
        return decision

    def _push_state(self, refs: dict[str, str], env: dict[str, str]) -> None:
        tip = refs.get(f"refs/heads/{self.state_branch}", "")
        if not tip or tip == self._pushed_state:
            return
        remote.push(self.repo, self.url, f"refs/heads/{self.state_branch}", env=env,
                    allow_local=self.allow_local)
        self._pushed_state = tip
        log.info("upstream %s: pushed %s at %s", self.report.url, self.state_branch, tip[:7])
