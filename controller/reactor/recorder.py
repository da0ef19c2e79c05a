"""Applies the core's transitions: records each on the state branch, or hands a run that
never started to the executor to be cancelled (its on_cancel and always hooks run).

Shared by the sub-steps of a pass (intake, asks, outcomes, submit). Decides nothing: the
core's `lifecycle` and `runend` say what happens; this says it to the store and the
executor, and logs it. It remembers which runs an executor holds (`submitted`): those
only the executor ends.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from typing import Any, assert_never

from controller.core import history, lifecycle, model, planner, versions
from controller.core import runspec as rs
from controller.execution import executor as ex
from controller.reactor.runbatch import RunBatch
from controller.reactor.specs import SpecBuilder
from controller.store.statestore import RunRecord, StateStore

log = logging.getLogger("gitline")

OnStarted = Callable[[rs.RunSpec, str], None]
OnDone = Callable[[rs.RunSpec, rs.Outcome], None]


@dataclass(frozen=True)
class Loaded:
    """The workflow that runs, and the config commit it was loaded from."""

    commit: str
    workflow: model.Workflow


class Recorder:
    def __init__(self, store: StateStore, executor: ex.Executor, specs: SpecBuilder,
                 clock: Callable[[], str], on_started: OnStarted,
                 on_done: OnDone) -> None:
        self.store = store
        self.executor = executor
        self.specs = specs
        self.clock = clock
        self.submitted: set[tuple[str, int]] = set()  # (job, run) an executor holds
        self.good: Loaded | None = None  # the workflow that runs, once one ever loaded
        # One numbering of versions at a time: the pass, timers, webhooks, pollers.
        self.version_lock = threading.Lock()
        self._on_started = on_started
        self._on_done = on_done
        self._batch: RunBatch | None = None  # while queue_all collects queued records

    @property
    def workflow(self) -> model.Workflow:
        return self.good.workflow if self.good else model.Workflow()

    def hand_over(self, spec: rs.RunSpec) -> None:
        """Give a run to the executor: from now on only it ends the run."""
        self.submitted.add((spec.run.job, spec.run.number))
        self.executor.submit(spec, self._on_started, self._on_done)

    def follow(self, spec: rs.RunSpec) -> bool:
        """Have the executor follow a run an earlier process handed over; False if it
        cannot (the run is then interrupted and runs again)."""
        if not self.executor.adopt(spec, self._on_started, self._on_done):
            return False
        self.submitted.add((spec.run.job, spec.run.number))
        return True

    def queue_all(self, planned: Iterable[planner.PlannedRun],
                  snap: model.Snapshot) -> model.Snapshot:
        """`queue` each planned run; the queued (and gated) records of different jobs
        share one commit (runbatch.py), written before this returns."""
        self._batch = RunBatch(self.store)
        try:
            for p in planned:
                snap = self.queue(p, snap)
        finally:
            batch, self._batch = self._batch, None
            batch.flush()
        return snap

    def queue(self, planned: planner.PlannedRun, snap: model.Snapshot) -> model.Snapshot:
        """Record a planned run (queued or gated); the snapshot as it is afterwards."""
        wf = self.workflow
        for t in lifecycle.queue_run(wf, snap, planned, now=self.clock(),
                                     config_commit=self.good.commit if self.good else "",
                                     started=self.submitted):
            self.apply(t)
            if isinstance(t, lifecycle.Queue | lifecycle.Gate):
                snap = history.with_run(snap, t.run)
        return snap

    def apply(self, t: lifecycle.Transition) -> None:
        """Record one transition (or hand a cancel to the executor)."""
        if isinstance(t, lifecycle.Queue | lifecycle.Gate):
            run = t.run

            def said() -> None:
                log.info("%s: run %d %s (%s)", run.job, run.number,
                         run.status.replace("_", " "), run.cause)

            if self._batch is not None:
                self._batch.add(RunRecord(run), after=said)
            else:
                self.store.record_run(run)
                said()
            return
        if self._batch is not None:  # anything else acts on what is recorded so far
            self._batch.flush()
        if isinstance(t, lifecycle.Cancel):
            self.cancel_unstarted(t.run, t.reason)
        elif isinstance(t, lifecycle.Approve):
            self.store.record_run(t.run, subject=t.subject)
            log.info("%s: run %d %s", t.run.job, t.run.number, t.run.message)
        elif isinstance(t, lifecycle.Refuse):
            self.store.record_run(t.run, subject=t.subject)
        elif isinstance(t, lifecycle.Interrupt):
            if t.rerun is not None:  # first: a crash in between leaves the run `running`
                self.store.record_run(t.rerun)
            self.store.record_run(t.run)
            log.warning("%s: run %d interrupted; it will run again", t.run.job, t.run.number)
        elif isinstance(t, lifecycle.CancelOrphan):
            self.store.record_run(t.run)
        else:
            assert_never(t)  # mypy: every transition is applied

    def cancel_unstarted(self, run: model.Run, reason: str) -> None:
        """Cancel a run that never started: its on_cancel and always hooks still run."""
        wf = self.workflow
        job = wf.jobs.get(run.job)
        if job is None:
            self.store.record_run(replace(run, status="cancelled", finished_at=self.clock(),
                                          message=reason))
            return
        self.submitted.add((run.job, run.number))
        spec = self.specs.build(wf, job, run, self.store.read_snapshot())
        log.info("%s: run %d cancelled: %s", run.job, run.number, reason)
        self.hand_over(replace(spec, cancel_reason=reason))

    def add_version(
        self,
        resource: str,
        values: dict[str, Any],
        *,
        created_by: str,
        name: str = "",
        replace_values: bool = True,
        config_commit: str = "",
        author: str = "",
        files: dict[str, bytes] | None = None,
    ) -> model.Version:
        """Append the next version of `resource` (`versions.next_version`); safe from any
        thread (timers, webhooks, pollers). The caller pokes the loop afterwards so that
        dependent jobs are planned."""
        with self.version_lock:
            latest = self.store.read_snapshot().versions.get(resource)
            version = versions.next_version(
                latest, resource, values, created_by=created_by, name=name,
                replace_values=replace_values, config_commit=config_commit, author=author,
                files=files)
            self.store.append_version(version)
        log.info("%s: version %d from %s", resource, version.number, created_by)
        return version
