"""A controller's pass without processes or a state branch on disk: the real config
repository (a bare repo in a temporary folder), the in-memory StateStore and an executor
that holds the runs it is given until the test ends them. The `line` fixture is in
conftest.py; a second controller over the same state is `make_line`."""

from __future__ import annotations

import textwrap
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pygit2

from controller.core import approvals, model
from controller.core import runspec as rs
from controller.reactor.reconcile import Reconciler
from controller.store.configrepo import ConfigRepo
from controller.store.memstore import MemoryStateStore

Started = Callable[[rs.RunSpec, str], None]
Done = Callable[[rs.RunSpec, rs.Outcome], None]


@dataclass
class HeldExecutor:
    """Holds each run it is given; the test starts and ends it. A run cancelled before it
    started (hooks only) ends at once, cancelled with its reason, as the real ones do."""

    held: dict[tuple[str, int], tuple[rs.RunSpec, Started, Done]] = field(default_factory=dict)
    given: list[rs.RunSpec] = field(default_factory=list)
    outlives_its_controller: bool = False  # as Celery workers do; local runs do not

    def adopt(self, spec: rs.RunSpec, on_started: Started, on_done: Done) -> bool:
        key = (spec.run.job, spec.run.number)
        if not self.outlives_its_controller or key not in self.held:
            return False
        self.held[key] = (spec, on_started, on_done)
        return True

    def submit(self, spec: rs.RunSpec, on_started: Started, on_done: Done) -> None:
        self.given.append(spec)
        if spec.cancel_reason:
            on_done(spec, rs.Outcome("cancelled", None, "hooks ran", "t", "t",
                                     message=spec.cancel_reason))
            return
        self.held[(spec.run.job, spec.run.number)] = (spec, on_started, on_done)

    def cancel(self, job: str, number: int) -> bool:
        return False

    def shutdown(self, wait: bool = True) -> None:
        pass

    def start(self, job: str, number: int) -> None:
        spec, on_started, _ = self.held[(job, number)]
        on_started(spec, "2026-12-06T10:00:01Z")

    def end(self, job: str, number: int, status: str = "succeeded", *,
            outputs: tuple[rs.OutputUpdate, ...] = ()) -> None:
        spec, _, on_done = self.held.pop((job, number))
        on_done(spec, rs.Outcome(status, 0 if status == "succeeded" else 1,  # type: ignore[arg-type]
                                 f"{job} {status}", "t0", "t1", outputs=outputs))


class Trusting:
    """Authenticates every approval commit as its author (the edges' job in production)."""

    def identify(self, commit: str) -> tuple[approvals.Identity | None, str]:
        return approvals.Identity("ada", "ada@example.com", via="token"), ""


@dataclass
class Line:
    """One controller over a config repository: push files, run passes, read what the
    user sees (runs by number and status, versions)."""

    config: ConfigRepo
    store: MemoryStateStore
    executor: HeldExecutor
    now: list[str]
    reconciler: Reconciler

    def push(self, path: str, text: str, message: str = "push") -> str:
        sha = self.config.commit_file(path, textwrap.dedent(text).encode(), message,
                                      "Ada Lovelace", "ada@example.com")
        self.reconciler.run_pass()
        return sha

    def run_pass(self) -> None:
        self.reconciler.run_pass()

    def runs(self, job: str) -> list[str]:
        """`run N status` for every run of `job`, oldest first (as `gitline status` lists)."""
        found = [e.run for e in self.store.history(job, limit=1000) if e.run is not None]
        return [f"run {r.number} {r.status}" for r in sorted(found, key=lambda r: r.number)]

    def run(self, job: str, number: int) -> model.Run:
        return next(e.run for e in self.store.history(job, limit=1000)
                    if e.run is not None and e.run.number == number)

    def version(self, resource: str) -> model.Version | None:
        return self.store.read_snapshot().versions.get(resource)


def make_line(tmp_path: Path, store: MemoryStateStore | None = None,
              executor: HeldExecutor | None = None) -> Line:
    repo = tmp_path / "config.git"
    if not repo.exists():
        pygit2.init_repository(str(repo), bare=True)
    config = ConfigRepo(repo, "main")
    store = store or MemoryStateStore()
    executor = executor or HeldExecutor()
    now = ["2026-12-06T10:00:00.000Z"]
    reconciler = Reconciler(config, store, executor, clock=lambda: now[0],
                            identity=Trusting())  # type: ignore[arg-type]
    return Line(config, store, executor, now, reconciler)
