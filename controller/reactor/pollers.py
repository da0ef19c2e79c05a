"""When to follow other repositories: apscheduler jobs for the upstream (reactor/upstream.py)
and for each external gitRepo resource (reactor/repopoller.py), and push webhooks that
make them fetch at once. Scheduling only: what a fetch means is decided in
`core/sources.py`, and the git work is `store/remote.py`'s.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from controller.core import sources
from controller.core.remotes import sanitize_url
from controller.reactor.repopoller import RepoPoller
from controller.reactor.upstream import UpstreamFollower


class Pollers:
    """apscheduler jobs: the upstream on its interval, each external gitRepo on its own."""

    SYNC_SECONDS = 3.0
    STATE_PUSH_SECONDS = 5.0  # the state branch reaches the upstream this soon

    def __init__(self, *, upstream: UpstreamFollower | None, upstream_seconds: float,
                 repos: RepoPoller) -> None:
        from apscheduler.schedulers.background import BackgroundScheduler

        self.upstream = upstream
        self.repos = repos
        # followed sources of the subscription: name -> (follower, seconds between fetches)
        self.sources: dict[str, tuple[UpstreamFollower, float]] = {}
        self._started = False
        self._scheduler = BackgroundScheduler(
            daemon=True, job_defaults={"coalesce": True, "max_instances": 1,
                                       "misfire_grace_time": None})
        self._upstream_seconds = upstream_seconds

    def start(self) -> None:
        now = datetime.now(UTC)
        if self.upstream is not None:
            self._scheduler.add_job(self.upstream.sync, "interval", id="upstream",
                                    seconds=self._upstream_seconds, next_run_time=now)
            if self.upstream.push_state:
                self._scheduler.add_job(self.upstream.sync_state, "interval", id="state",
                                        seconds=self.STATE_PUSH_SECONDS)
        self._scheduler.add_job(self._sync_jobs, "interval", id="repos",
                                seconds=self.SYNC_SECONDS, next_run_time=now)
        for name in self.sources:
            self._follow_source(name)
        self._scheduler.start()
        self._started = True

    def add_source(self, name: str, follower: UpstreamFollower, seconds: float) -> None:
        """Follow source `name`'s upstream every `seconds` (and on its push webhooks)."""
        self.sources[name] = (follower, seconds)
        if self._started:
            self._follow_source(name)

    def drop_source(self, name: str) -> None:
        if self.sources.pop(name, None) is not None and self._started:
            for job in self._scheduler.get_jobs():
                if job.id == f"source:{name}":
                    job.remove()

    def _follow_source(self, name: str) -> None:
        follower, seconds = self.sources[name]
        self._scheduler.add_job(follower.sync, "interval", id=f"source:{name}",
                                seconds=seconds, next_run_time=datetime.now(UTC),
                                replace_existing=True)

    def stop(self) -> None:
        self._scheduler.shutdown(wait=False)

    def _sync_jobs(self) -> None:
        """Add, retime or drop one interval job per external gitRepo of the workflow."""
        wanted = {name: self.repos.interval(res)
                  for name, (res, _) in self.repos.resources().items()}
        for job in self._scheduler.get_jobs():
            if job.id.startswith("repo:"):
                name = job.id[5:]
                seconds = getattr(job.trigger, "interval", None)
                if name not in wanted or (seconds and seconds.total_seconds() != wanted[name]):
                    job.remove()
        current = {j.id for j in self._scheduler.get_jobs()}
        for name, seconds in wanted.items():
            if f"repo:{name}" not in current:
                self._scheduler.add_job(self.repos.poll, "interval", args=[name],
                                        id=f"repo:{name}", seconds=seconds,
                                        next_run_time=datetime.now(UTC))

    def pushed(self, push: sources.Push) -> list[str]:
        """A push webhook: fetch whatever it concerns at once; returns what."""
        names = []
        if self.upstream is not None and sources.push_matches(push, self.upstream.url):
            names.append("upstream")
            self._scheduler.add_job(self.upstream.sync, id="now:upstream",
                                    replace_existing=True)
        for source, (follower, _) in list(self.sources.items()):
            if sources.push_matches(push, follower.url):
                names.append(f"source {source}")
                self._scheduler.add_job(follower.sync, id=f"now:source:{source}",
                                        replace_existing=True)
        for name in self.repos.matching(push):
            names.append(name)
            self._scheduler.add_job(self.repos.poll, args=[name], kwargs={"force": True},
                                    id=f"now:{name}", replace_existing=True)
        return names

    def status(self) -> dict[str, Any]:
        return {
            "upstream": self.upstream.report.as_dict() if self.upstream else None,
            "sources": {n: f.report.as_dict() for n, (f, _) in sorted(self.sources.items())},
            "repositories": {n: {"url": sanitize_url(s.url), "intervalSeconds": s.interval,
                                 "failures": s.failures, "lastError": s.last_error}
                             for n, s in sorted(self.repos.followed.items())},
        }
