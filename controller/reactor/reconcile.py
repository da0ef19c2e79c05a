"""One reconcile pass: read the config and the state branch, record what changed, run jobs.

The order is what makes a crash harmless: every decision (a version, a queued run with
its cause and exact inputs) is committed to the state branch before anything acts on it,
and every step is level-triggered, so a pass after a kill -9 redoes nothing that was
recorded and finds everything that was not. This module decides nothing itself: the core
decides (`planner`, `lifecycle`, `runend`), the store records, the executor runs. A pass
is ordered sub-steps, each of one job, sharing one `Recorder`:

  recover (once) -> outcomes -> intake (config, approvals) -> asks -> waiting triggers
  -> expiry -> plan -> orphans -> submit -> record the config push as processed
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from pathlib import Path

from controller.core import lifecycle, model, planner, replan
from controller.core import runspec as rs
from controller.core.clock import now_precise
from controller.execution import executor as ex
from controller.reactor.asks import Asks
from controller.reactor.identity import Identifier
from controller.reactor.intake import Intake
from controller.reactor.outcomes import Outcomes, Reports
from controller.reactor.ports import ConfigSource
from controller.reactor.recorder import Loaded, Recorder
from controller.reactor.specs import Checkout, SpecBuilder
from controller.reactor.submit import Submitter
from controller.secrets import Secret
from controller.store.statestore import StateStore
from controller.store.subscription import Subscription

# How long a pass that handed runs to an executor that starts them at once (the local one:
# `wait_spawned`) waits for the first one's process before its next commit: a commit holds
# the interpreter (pygit2 writes the object and the ref with the GIL held: py-spy --gil,
# bench section 1) and would delay the run's workspace and process by as much.
START_WAIT_SECONDS = 0.05

log = logging.getLogger("gitline")


class Reconciler:
    """Runs the pass in the loop thread. Executors report back through `on_started` and
    `on_done` (any thread); timers, webhooks and pollers add versions (`add_version`)."""

    def __init__(
        self,
        config: ConfigSource,
        store: StateStore,
        executor: ex.Executor,
        *,
        poke: Callable[[], None] = lambda: None,
        clock: Callable[[], str] = now_precise,
        job_env: dict[str, str] | None = None,
        secrets: Callable[[], Mapping[str, Secret]] = dict,
        checkout: Checkout | None = None,
        requests_dir: Path | None = None,
        identity: Identifier | None = None,
        default_timeout_minutes: float = 60.0,
        subscription: Subscription | None = None,
    ) -> None:
        self.config = config
        self.store = store
        self.executor = executor
        self.specs = SpecBuilder(config, store, dict(job_env or {}), secrets, checkout,
                                 default_timeout_minutes)
        self.reports = Reports(poke)
        self.recorder = Recorder(store, executor, self.specs, clock,
                                 self.reports.on_started, self.reports.on_done)
        self.outcomes = Outcomes(self.recorder, self.reports)
        self.sub = subscription or Subscription(config)  # config.git and the other sources
        self.specs.sources = self.sub.sources
        self.intake = Intake(config, self.recorder, identity, self.sub)
        self._memo: replan.PlanMemo | None = None  # the last pass's plan: the next decides less
        self.asks = Asks(requests_dir, self.recorder, config, identity, poke)
        self.submitter = Submitter(self.recorder)
        # Timers, webhooks and pollers add versions from their threads, then poke.
        self.add_version = self.recorder.add_version
        # Called in the loop thread as a run's start / final record is committed.
        self.started_listeners = self.outcomes.started_listeners
        self.finished_listeners = self.outcomes.finished_listeners
        self._recovered = False

    # --- executor callbacks (any thread) ----------------------------------------------

    def on_started(self, spec: rs.RunSpec, started_at: str) -> None:
        self.reports.on_started(spec, started_at)

    def on_done(self, spec: rs.RunSpec, outcome: rs.Outcome) -> None:
        self.reports.on_done(spec, outcome)

    # --- the pass -----------------------------------------------------------------------

    def run_pass(self) -> None:
        if not self._recovered:
            self._recover()
        self.outcomes.record()
        head = self.config.head()
        if head is None:  # nothing pushed yet (or the branch is gone): nothing to do
            return
        record_config = self._take_config(head)
        wf = self.workflow
        if wf is not None:
            self.asks.handle(wf)
            self.intake.retry_waiting(wf)
            self._expire(wf)
            self._plan(wf)
            handed = set(self.recorder.submitted)
            self.submitter.submit(wf, self.store.read_snapshot())
            self._await_a_start(self.recorder.submitted - handed)
        # Recorded after submitting, so a triggered run starts one commit sooner. A crash
        # before it re-processes the push: versions are idempotent and trigger runs are
        # recognised by their commit, so nothing is recorded twice.
        record_config()

    def _await_a_start(self, handed: set[tuple[str, int]]) -> None:
        """Let the first run handed over in this pass reach its process (the local
        executor's `wait_spawned`) before the pass commits again."""
        wait = getattr(self.executor, "wait_spawned", None)
        if handed and wait is not None:
            wait(*min(handed), START_WAIT_SECONDS)

    def _take_config(self, head: str) -> Callable[[], object]:
        """A new push is taken in (`intake.process`); returns how to record it processed."""
        rec = self.recorder
        snap = self.store.read_snapshot()
        sources = {n: c for n, c in self.sub.heads().items() if c}
        if head != snap.processed_commit or sources != snap.processed_sources:
            return self.intake.process(head, snap, sources)
        if rec.good is None and snap.good_commit:  # after a restart
            self.intake.good_sources = dict(snap.good_sources)
            rec.good = Loaded(snap.good_commit, self.workflow_at(snap.good_commit))
        return lambda: None

    def _expire(self, wf: model.Workflow) -> None:
        rec = self.recorder
        for cancel in lifecycle.expire_approvals(wf, self.store.read_snapshot(),
                                                 now=rec.clock(), started=rec.submitted):
            rec.apply(cancel)

    def _plan(self, wf: model.Workflow) -> None:
        """Queue the runs that are due, then cancel the runs of jobs that left."""
        rec = self.recorder
        snap = self.store.read_snapshot()
        plan = planner.plan_runs(wf, snap, previous=self._memo)
        self._memo = plan.memo
        snap = rec.queue_all(plan.runs, snap)  # one commit
        for orphan in lifecycle.cancel_orphans(wf, snap, now=rec.clock(),
                                               started=rec.submitted):
            rec.apply(orphan)

    def _recover(self) -> None:
        """Runs left `running` by a previous controller process go on where an executor
        can still follow them (`adopt`); the others were interrupted."""
        snap = self.store.read_snapshot()
        followed = self._adopt(snap)
        for t in lifecycle.recover(snap, now=self.recorder.clock(), followed=followed):
            self.recorder.apply(t)
        self._recovered = True

    def _adopt(self, snap: model.Snapshot) -> set[tuple[str, int]]:
        """The running runs the executor follows again, each built from its own record
        and the workflow of its config commit."""
        rec, followed = self.recorder, set()
        workflows: dict[str, model.Workflow] = {}
        for name, hist in snap.jobs.items():
            for run in hist.active:
                if run.status != "running":
                    continue
                try:
                    if run.config_commit not in workflows:  # with the sources it ran with
                        workflows[run.config_commit] = self.intake.workflow_at(
                            run.config_commit, snap.good_sources)
                    wf = workflows[run.config_commit]
                    job = wf.jobs.get(name)
                    if job is None or not rec.follow(rec.specs.build(wf, job, run, snap)):
                        continue
                except Exception as err:  # nothing provable: it is run again, as before
                    log.warning("%s run %d: cannot ask the executor whether it still goes "
                                "on (%s); it will run again", name, run.number, err)
                    continue
                followed.add((name, run.number))
                log.info("%s run %d: still going on %s; followed again", name, run.number,
                         run.worker or "its worker")
        return followed

    # --- what the wiring reads and calls ---------------------------------------------

    @property
    def workflow(self) -> model.Workflow | None:
        return self.recorder.good.workflow if self.recorder.good else None

    def workflow_at(self, commit: str) -> model.Workflow:
        return self.intake.workflow_at(commit)
