"""A job's runs and a resource's versions, newest first, from the state branch."""

from __future__ import annotations

from collections.abc import Collection, Iterable
from typing import Protocol

from controller.core import model
from controller.core.errors import Absent, NotFound
from controller.service.views import RunView, VersionView
from controller.store.statestore import HistoryEntry


class History(Protocol):
    def history(self, name: str, limit: int = ...) -> Iterable[HistoryEntry]: ...


def entries(store: History, name: str, limit: int) -> list[HistoryEntry]:
    """The newest `limit` commits of a job's or a resource's history."""
    return list(store.history(name, limit=limit))


def runs(store: History, job: str, limit: int, jobs: Collection[str]) -> list[RunView]:
    """The newest `limit` runs of `job`; NotFound if it has none and is not in `jobs`."""
    found = [RunView(e.run, e.commit, e.when) for e in entries(store, job, limit)
             if e.run is not None]
    if not found and job not in jobs:
        raise NotFound(f"no job {job}")
    return found


def versions(store: History, name: str, limit: int,
             resources: Collection[str]) -> list[VersionView]:
    """The newest `limit` versions of resource `name`; NotFound as for runs."""
    found = [VersionView(e.version, e.commit, e.when) for e in entries(store, name, limit)
             if e.version is not None]
    if not found and name not in resources:
        raise NotFound(f"no resource {name}")
    return found


def find_run(store: History, job: str, number: int, limit: int = 100_000) -> RunView:
    """The newest record of `job` run `number`; Absent if it has none."""
    for e in store.history(job, limit=limit):
        if e.run is not None and e.run.number == number:
            return RunView(e.run, e.commit, e.when)
    raise Absent(f"{job} has no run {number}")


def run_detail(store: History, wf: model.Workflow, job: str, number: int,
               scan: int = 200) -> RunView:
    """`job` run `number` with the versions it made (among the newest `scan` of each of
    the job's outputs)."""
    view = find_run(store, job, number)
    made = f"{job} run {number}"
    outputs = tuple(
        VersionView(e.version, e.commit, e.when)
        for out in (wf.jobs[job].outputs if job in wf.jobs else ())
        for e in store.history(out.name, limit=scan)
        if e.version is not None and e.version.created_by == made)
    return RunView(view.run, view.commit, view.when, outputs)
