"""A sub-step of a pass: what executors reported since the last one. A run started (its
record says running, on_start listeners hear of it) or ended (the versions it publishes,
then its final record or its next attempt, then the finished-run listeners).

Executors report from any thread; the reports wait in a queue of typed events until the
loop thread records them, so the state branch is written by the pass alone. What a run's
end records is the core's decision (`runend.end_run`).
"""

from __future__ import annotations

import logging
import queue
import time
from collections.abc import Callable
from dataclasses import dataclass, replace

from controller.core import runend
from controller.core import runspec as rs
from controller.reactor.recorder import Recorder
from controller.reactor.runbatch import RunBatch
from controller.store.statestore import RunRecord

log = logging.getLogger("gitline")

# The shortest time between two recordings of the executors' reports (Outcomes.record).
RECORD_PACE_SECONDS = 0.05


@dataclass(frozen=True)
class RunStarted:
    spec: rs.RunSpec
    at: str  # ISO 8601 UTC, the executor's clock


@dataclass(frozen=True)
class RunEnded:
    spec: rs.RunSpec
    outcome: rs.Outcome


Event = RunStarted | RunEnded


class Reports:
    """The executors' reports, kept in order until the pass records them."""

    def __init__(self, poke: Callable[[], None]) -> None:
        self._poke = poke
        self._events: queue.Queue[Event] = queue.Queue()

    def on_started(self, spec: rs.RunSpec, started_at: str) -> None:
        self._events.put(RunStarted(spec, started_at))
        self._poke()

    def on_done(self, spec: rs.RunSpec, outcome: rs.Outcome) -> None:
        self._events.put(RunEnded(spec, outcome))
        self._poke()

    def pending(self) -> bool:
        return not self._events.empty()

    def take(self) -> Event | None:
        try:
            return self._events.get_nowait()
        except queue.Empty:
            return None


class Outcomes:
    def __init__(self, recorder: Recorder, reports: Reports, *,
                 pace: float = RECORD_PACE_SECONDS,
                 clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        self.recorder = recorder
        self.reports = reports
        self.pace = pace
        self._clock, self._sleep = clock, sleep
        self._recorded_at = float("-inf")  # clock() at the last recording of reports
        # Called in the loop thread after a run's final record is committed (notifications).
        self.finished_listeners: list[Callable[[rs.RunSpec, rs.Outcome], None]] = []
        # Called in the loop thread once a run's start is committed (on_start notifications).
        self.started_listeners: list[Callable[[rs.RunSpec], None]] = []

    def record(self) -> None:
        """Record every report received so far, in order; the starts and ends of different
        jobs share a commit (runbatch.py), and what follows a record waits for it.

        Reports are recorded at most every `pace` seconds: a burst of short runs then
        costs a few large commits rather than one or two small ones per pass (each commit
        rewrites jobs/, ~35 KB for 1,000 jobs, and holds the interpreter while it does).
        A report after a quiet moment is recorded at once."""
        if not self.reports.pending():
            return
        wait = self._recorded_at + self.pace - self._clock()
        if wait > 0:  # the interpreter is the executor's meanwhile: runs start and end
            self._sleep(wait)
        batch = RunBatch(self.recorder.store)
        while (event := self.reports.take()) is not None:
            if isinstance(event, RunStarted):
                self._started(batch, event.spec, event.at)
            else:
                self._ended(batch, event.spec, event.outcome)
        batch.flush()
        self._recorded_at = self._clock()

    def _started(self, batch: RunBatch, spec: rs.RunSpec, at: str) -> None:
        running = replace(spec.run, status="running", started_at=at)

        def after() -> None:
            for listener in self.started_listeners:
                try:
                    listener(replace(spec, run=running))
                except Exception:  # a listener (notifications) never breaks the loop
                    log.exception("%s: run %d: a started-run listener failed",
                                  running.job, running.number)

        batch.add(RunRecord(running), after=after)

    def _ended(self, batch: RunBatch, spec: rs.RunSpec, outcome: rs.Outcome) -> None:
        run = spec.run
        try:
            ending = runend.end_run(spec, outcome)
        except (ValueError, TypeError) as err:  # what the state branch refuses
            self._unrecordable(batch, spec, outcome, err)
            return
        for name in ending.not_outputs:
            log.warning("%s: run %d wrote %s, which is not one of its OUTs; ignored",
                        run.job, run.number, name)
        if ending.publish:
            batch.flush()  # the records before come first; the versions before the end
        try:
            for p in ending.publish:
                self.recorder.add_version(
                    p.resource, p.values, replace_values=p.replace_values, name=p.name,
                    created_by=p.created_by, config_commit=p.config_commit, files=p.files)
        except (ValueError, TypeError) as err:
            self._unrecordable(batch, spec, outcome, err)
            return
        if isinstance(ending.end, runend.Retry):
            self._retry(batch, spec, ending.end, outcome)
            return
        end = ending.end

        def after() -> None:
            self.recorder.submitted.discard((run.job, run.number))
            log.info("%s: run %d %s", run.job, run.number, outcome.status.replace("_", " "))
            for listener in self.finished_listeners:
                try:
                    listener(replace(spec, run=end.run), outcome)
                except Exception:  # a listener (notifications) never breaks the loop
                    log.exception("%s: run %d: a finished-run listener failed",
                                  run.job, run.number)

        batch.add(RunRecord(end.run, log=outcome.log,
                            state_files=outcome.state_files if end.keep_state else None),
                  after=after,
                  refused=lambda err: self._unrecordable(batch, spec, outcome, err))

    def _unrecordable(self, batch: RunBatch, spec: rs.RunSpec, outcome: rs.Outcome,
                      err: Exception) -> None:
        """The outcome could not be recorded: the run ends with the reason, alone."""
        log.error("%s: run %d: outcome could not be recorded: %s",
                  spec.run.job, spec.run.number, err)
        batch.flush()  # this job's earlier record (its start) first
        end = runend.unrecordable(spec, outcome, str(err))
        self.recorder.store.record_run(
            end.run, log=outcome.log, state_files=outcome.state_files if end.keep_state else None)
        self.recorder.submitted.discard((spec.run.job, spec.run.number))

    def _retry(self, batch: RunBatch, spec: rs.RunSpec, retry: runend.Retry,
               outcome: rs.Outcome) -> None:
        """Record the failed attempt (with its log) as the run queued again."""
        run = retry.run

        def after() -> None:
            self.recorder.submitted.discard((run.job, run.number))
            log.info("%s: run %d attempt %d %s; retrying", run.job, run.number,
                     run.attempt - 1, outcome.status.replace("_", " "))

        batch.add(RunRecord(run, log=outcome.log, subject=retry.subject), after=after,
                  refused=lambda err: self._unrecordable(batch, spec, outcome, err))
