"""One reconcile pass: read the config and the state branch, record what changed, run jobs.

The order is what makes a crash harmless: every decision (a version, a queued run with
its cause and exact inputs) is committed to the state branch before anything acts on it,
and every step is level-triggered, so a pass after a kill -9 redoes nothing that was
recorded and finds everything that was not. This module decides nothing itself: the core
decides, the store records, the executor runs.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

from controller.core import approvals, intake, loader, model, planner, secretscope
from controller.core import runspec as rs
from controller.execution import executor as ex
from controller.reactor import requests
from controller.reactor.identity import Identifier
from controller.reactor.specs import Checkout, SpecBuilder
from controller.secrets import Secret, SecretsError, scopes
from controller.store.configrepo import CommitInfo, ConfigRepo
from controller.store.gitstate import GitStateStore

log = logging.getLogger("gitline")


def _parse_time(text: str) -> datetime:
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return datetime.now(UTC)


def utcnow() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


@dataclass
class _Loaded:
    commit: str
    workflow: model.Workflow


class Reconciler:
    """Owns the only writer of the state branch; executors report back through a queue."""

    def __init__(
        self,
        config: ConfigRepo,
        store: GitStateStore,
        executor: ex.Executor,
        *,
        poke: Callable[[], None] = lambda: None,
        clock: Callable[[], str] = utcnow,
        job_env: dict[str, str] | None = None,
        secrets: Callable[[], Mapping[str, Secret]] = dict,
        checkout: Checkout | None = None,
        requests_dir: Path | None = None,
        identity: Identifier | None = None,
        default_timeout_minutes: float = 60.0,
    ) -> None:
        self._requests_dir = requests_dir
        self._identity = identity  # None: no approval can be authenticated (all refused)
        self.specs = SpecBuilder(config, store, dict(job_env or {}), secrets, checkout,
                                 default_timeout_minutes)
        self._version_lock = threading.Lock()
        # Called in the loop thread after a run's final record is committed (notifications).
        self.finished_listeners: list[Callable[[rs.RunSpec, rs.Outcome], None]] = []
        # Called in the loop thread once a run's start is committed (on_start notifications).
        self.started_listeners: list[Callable[[rs.RunSpec], None]] = []
        self.config = config
        self.store = store
        self.executor = executor
        self._poke = poke
        self._clock = clock
        self._events: queue.Queue[tuple] = queue.Queue()
        self._submitted: set[tuple[str, int]] = set()
        self._unbuildable: dict[tuple[str, int], str] = {}  # run -> why it cannot be built
        self._cache: dict[str, model.Workflow] = {}
        self._good: _Loaded | None = None
        self._recovered = False

    # --- executor callbacks (any thread) ----------------------------------------------

    def on_started(self, spec: rs.RunSpec, started_at: str) -> None:
        self._events.put(("started", spec, started_at))
        self._poke()

    def on_done(self, spec: rs.RunSpec, outcome: rs.Outcome) -> None:
        self._events.put(("done", spec, outcome))
        self._poke()

    # --- the pass -----------------------------------------------------------------------

    def run_pass(self) -> None:
        if not self._recovered:
            self._recover()
        self._drain_events()
        head = self.config.head()
        if head is None:
            return
        snap = self.store.read_snapshot()
        record_config: Callable[[], object] = lambda: None  # noqa: E731
        if head != snap.processed_commit:
            record_config = self._process_config(head, snap)
        elif self._good is None and snap.good_commit:
            self._good = _Loaded(snap.good_commit, self.workflow_at(snap.good_commit))
        if self._good is None:
            record_config()
            return
        wf = self._good.workflow
        self._handle_requests(wf)
        self._retry_waiting(wf)
        snap = self.store.read_snapshot()
        self._expire_approvals(wf, snap)
        snap = self.store.read_snapshot()
        for p in planner.plan_runs(wf, snap).runs:
            snap = self._queue(p, snap)
        self._cancel_orphans(wf, snap)
        self._submit(wf, self.store.read_snapshot())
        # Recorded after submitting, so a triggered run starts one commit sooner. A crash
        # before it re-processes the push: versions are idempotent and trigger runs are
        # recognised by their commit, so nothing is recorded twice.
        record_config()

    def _scopes(self) -> dict[str, secretscope.Scope] | None:
        """Who may use each secret; None (unchecked) when secrets.yml cannot be read: no
        run is built then, and the reason is shown where the run waits."""
        try:
            return scopes(self.specs.secrets())
        except SecretsError:
            return None

    @property
    def workflow(self) -> model.Workflow | None:
        return self._good.workflow if self._good else None

    def workflow_at(self, commit: str) -> model.Workflow:
        if commit not in self._cache:
            files = self.config.workflow_files(commit, loader.is_workflow_file)
            # keep one: memory stays flat
            self._cache = {commit: loader.load_workflow(files, scopes=self._scopes())}
        return self._cache[commit]

    def _process_config(self, head: str, snap: model.Snapshot) -> Callable[[], object]:
        """Versions and trigger runs of the push up to `head`; returns how to record it."""
        loaded = self.workflow_at(head)
        commits, rewritten = self.config.commits_between(snap.processed_commit or None, head)
        if rewritten:
            log.warning("config branch was rewritten (force push); only %s is processed", head[:7])
        author = commits[-1].author if commits else ""
        last_good = (snap.good_commit, self.workflow_at(snap.good_commit)) \
            if loaded.fatal and snap.good_commit else None
        if loaded.fatal:
            log.error("config %s does not load%s:\n%s", head[:7],
                      f"; keeping {snap.good_commit[:7]}" if last_good else "",
                      "\n".join(map(str, loaded.errors)))
        for p in loaded.problems:
            level = {"error": logging.ERROR, "warning": logging.WARNING}.get(p.severity)
            log.log(level or logging.INFO, "%s", p)
        with self._version_lock:
            taken = intake.take_config(loaded, head, last_good, self.store.read_snapshot(),
                                       author=author, tracked_trees=self._tracked(loaded, head,
                                                                                  last_good))
            for v in taken.versions:
                self.store.append_version(v)
        for v in taken.versions:
            log.info("%s: version %d%s", v.resource, v.number,
                     f" ({v.name[:12]})" if v.name else "")
        good = _Loaded(taken.commit, taken.workflow) if taken.workflow is not None else None
        self._good = good
        # The snapshot after the versions above: a trigger in the same push as the first
        # definition of its job's input must see that input's version.
        snap = self.store.read_snapshot()
        rejected, waiting = self._process_triggers(snap, commits, good)
        waits = (*snap.waiting_triggers, *waiting) if waiting else None
        return lambda: self.store.record_config(
            processed=head, good=good.commit if good else "", problems=loaded.problems,
            triggers=rejected, waiting=waits, names=good.workflow if good else None,
        )

    def _tracked(self, loaded: model.Workflow, head: str,
                 last_good: tuple[str, model.Workflow] | None) -> dict[str, str]:
        """Tree ids of the paths gitRepo resources on this repository track."""
        commit, wf = last_good if last_good else (head, loaded)
        return {r.name: self.config.tree_id(commit, r.tracks_path) or ""
                for r in wf.resources.values() if r.tracks_path is not None}

    def _process_triggers(
        self, snap: model.Snapshot, commits: list[CommitInfo], good: _Loaded | None
    ) -> tuple[tuple[model.TriggerRequest, ...], tuple[model.TriggerRequest, ...]]:
        """Queue the runs of the push's trigger files and apply its approval files;
        returns (refused, waiting for an input job's run in flight)."""
        known = intake.trigger_runs_done(snap) | {(t.job, t.commit)
                                                  for t in snap.waiting_triggers}
        requests, asked = intake.file_requests(commits, self.config.read_blob, known)
        decisions = [self._identified(d) for d in asked]
        if good is None:
            return tuple(replace(r, error=r.error or "the workflow does not load")
                         for r in requests), ()
        plan = planner.plan_runs(good.workflow, snap, triggers=requests)
        for p in plan.runs:
            if p.cause.kind == "trigger":
                snap = self._queue(p, snap)
        rejected = list(plan.rejected)
        for d in decisions:
            error = d.error or self._decide(good.workflow, d)
            if error:
                rejected.append(model.TriggerRequest(d.job, d.commit, d.author, d.path,
                                                     error=error))
        for r in rejected:
            log.error("%s in %s by %s: %s", r.path, r.commit[:7], r.author, r.error)
        for r in plan.waiting:
            log.info("%s in %s by %s waits: %s", r.path, r.commit[:7], r.author, r.error)
        return tuple(rejected), plan.waiting

    def _retry_waiting(self, wf: model.Workflow) -> None:
        """Trigger files that waited for an input job's run: each runs once that run has
        ended (the newest inputs), or is refused if it never can."""
        snap = self.store.read_snapshot()
        before = snap.waiting_triggers
        if not before:
            return
        done = intake.trigger_runs_done(snap)
        pending = tuple(t for t in snap.waiting_triggers if (t.job, t.commit) not in done)
        plan = planner.plan_runs(wf, snap, triggers=[replace(t, error="") for t in pending])
        for p in plan.runs:
            if p.cause.kind == "trigger":
                snap = self._queue(p, snap)
        for r in plan.rejected:
            log.error("%s in %s by %s: %s", r.path, r.commit[:7], r.author, r.error)

        def keys(ts: tuple[model.TriggerRequest, ...]) -> list[tuple[str, str]]:
            return [(t.job, t.commit) for t in ts]
        if keys(plan.waiting) != keys(before) or plan.rejected:
            self.store.record_waiting(plan.waiting, plan.rejected)

    def _identified(self, d: approvals.ApprovalRequest) -> approvals.ApprovalRequest:
        """The request with who made its commit, as far as the controller can prove it."""
        if d.error:
            return d
        who, why = self._identity.identify(d.commit) if self._identity else (
            None, "this controller authenticates no approvals")
        return replace(d, identity=who, unauthenticated=why)

    def _decide(self, wf: model.Workflow, d: approvals.ApprovalRequest) -> str:
        """Apply one approval commit to the job's pending run; an error message if none."""
        hist = self.store.read_snapshot().jobs.get(d.job, model.JobHistory())
        run, none = intake.pending_approval(wf.jobs.get(d.job), d.job, hist, self._submitted)
        if run is None:
            return none
        job = wf.jobs[d.job]
        assert job.approval is not None  # pending_approval found a gated job
        why_not = approvals.judge(job.approval, d, _parse_time(run.queued_at).timestamp())
        verb = "approved" if d.decision == "approve" else "rejected"
        what = f"{verb} by {d.by} in {d.commit[:7]}" + (
            f": {d.reason}" if d.reason else "")
        if why_not:
            self.store.record_run(
                replace(run, message=f"{d.decision} refused in {d.commit[:7]}: {why_not}"),
                subject=f"{d.job}: run {run.number} {d.decision} by {d.by} refused")
            return why_not
        if d.decision == "approve":
            self.store.record_run(replace(run, status="queued", message=what),
                                  subject=f"{d.job}: run {run.number} approved by {d.by}")
            log.info("%s: run %d %s", d.job, run.number, what)
        else:
            self._cancel_unstarted(wf, run, what)
        return ""

    # --- recording ----------------------------------------------------------------------

    def _queue(self, p: planner.PlannedRun, snap: model.Snapshot,
               baseline: tuple[model.InputVersion, ...] | None = None) -> model.Snapshot:
        wf = self._good.workflow if self._good else model.Workflow()
        job = wf.jobs.get(p.job)
        gated = job is not None and job.approval is not None
        run = model.Run(
            p.job, planner.next_run_number(snap, p.job),
            "pending_approval" if gated else "queued", p.cause, p.inputs,
            p.params, config_commit=self._good.commit if self._good else "",
            queued_at=self._clock(), baseline=baseline,
        )
        if gated:  # a newer due run supersedes one still waiting for approval
            for old in snap.jobs.get(p.job, model.JobHistory()).active:
                if old.status == "pending_approval" and (p.job, old.number) not in self._submitted:
                    self._cancel_unstarted(wf, old, f"superseded by run {run.number}")
        self.store.record_run(run)
        log.info("%s: run %d %s (%s)", run.job, run.number, run.status.replace("_", " "),
                 run.cause)
        return planner.with_run(snap, run)

    def _cancel_unstarted(self, wf: model.Workflow, run: model.Run, reason: str) -> None:
        """Cancel a run that never started: its on_cancel and always hooks still run."""
        job = wf.jobs.get(run.job)
        if job is None:
            self.store.record_run(replace(run, status="cancelled", finished_at=self._clock(),
                                          message=reason))
            return
        self._submitted.add((run.job, run.number))
        spec = self.specs.build(wf, job, run, self.store.read_snapshot())
        spec = replace(spec, cancel_reason=reason)
        log.info("%s: run %d cancelled: %s", run.job, run.number, reason)
        self.executor.submit(spec, self.on_started, self.on_done)

    def _expire_approvals(self, wf: model.Workflow, snap: model.Snapshot) -> None:
        now = _parse_time(self._clock())
        for name, hist in snap.jobs.items():
            job = wf.jobs.get(name)
            minutes = job.approval.timeout_minutes if job and job.approval else None
            if minutes is None:
                continue
            for run in hist.active:
                if (run.status == "pending_approval" and (name, run.number) not in self._submitted
                        and now - _parse_time(run.queued_at) > timedelta(minutes=minutes)):
                    self._cancel_unstarted(wf, run, f"approval timed out after {minutes:g} minutes")

    def _handle_requests(self, wf: model.Workflow) -> None:
        """Cancel, replay and approve requests from the CLI or the API (HOME/requests)."""
        if self._requests_dir is None:
            return
        for path, req in requests.read_requests(self._requests_dir):
            result = ({"error": req["error"]} if req.get("error")
                      else self._handle_request(wf, req))
            if result.get("error"):
                log.error("request %s: %s", path.name, result["error"])
            else:
                log.info("request %s: %s", path.name, result["message"])
            requests.write_result(path, {
                "action": str(req.get("action", "")), "job": str(req.get("job", "")),
                "run": req.get("run"), "by": str(req.get("by", "")), "at": self._clock(),
                **result})
            path.unlink(missing_ok=True)

    def _handle_request(self, wf: model.Workflow, req: dict) -> dict:
        """What one request did: {"message", and "cancelled" or "queued"} or {"error"}."""
        job, by = str(req.get("job", "")), str(req.get("by", "someone"))
        hist = self.store.read_snapshot().jobs.get(job)
        if job not in wf.jobs:
            return {"error": f"no job named {job!r}"}
        if req.get("action") == "approve":
            return self._approve_request(job, req)
        if req.get("action") == "cancel":
            cancelled = []
            for run in (hist.active if hist else ()):
                if self.executor.cancel(job, run.number):
                    cancelled.append(run.number)
                elif (job, run.number) not in self._submitted:
                    self._cancel_unstarted(wf, run, f"cancelled by {by}")
                    cancelled.append(run.number)
            message = (f"cancelled {job} run{'s' if len(cancelled) > 1 else ''} "
                       + ", ".join(map(str, cancelled)) if cancelled
                       else f"{job} had no queued or running run to cancel")
            return {"message": message, "cancelled": cancelled}
        try:
            number = int(req.get("run", 0))
        except (TypeError, ValueError):
            return {"error": f"run {req.get('run')!r} is not a run number"}
        old = next((e.run for e in self.store.history(job, limit=100_000)
                    if e.run is not None and e.run.number == number), None)
        if old is None:
            return {"error": f"{job} has no run {number} to replay"}
        cause = model.Cause("replay", f"run {number} of {job}", author=by)
        snap = self.store.read_snapshot()
        last = snap.jobs[job].last if job in snap.jobs else None
        baseline = (last.inputs if last.baseline is None else last.baseline) if last else ()
        new = planner.next_run_number(snap, job)
        self._queue(planner.PlannedRun(job, cause, old.inputs, dict(old.params)), snap,
                    baseline=baseline)
        return {"message": f"queued {job} run {new}, a replay of run {number}", "queued": new}

    def _approve_request(self, job: str, req: dict) -> dict:
        """`gitline approve`: commit approvals/<job> for the request file's owner.

        The owner (uid of the file, which only the kernel sets) is the identity; the
        commit is vouched for in the push log, so the pass that reads it knows who made
        it. A hand-made commit with the same content and author has no such record.
        """
        if self._identity is None:
            return {"error": "this controller authenticates no approvals"}
        who, why = self._identity.local_user(req.get("_uid"))
        if who is None:
            return {"error": f"approval request refused: {why}"}
        decision = "reject" if req.get("decision") == "reject" else "approve"
        body = approvals.decision_text(decision, str(req.get("reason") or ""), who)
        sha = self.config.commit_file(f"approvals/{job}", body, f"{decision} {job}",
                                      who.name, who.email or f"{who.name}@localhost")
        self._identity.vouch(sha, who)
        self._poke()
        return {"message": f"committed approvals/{job} ({decision}) as {sha[:7]} for {who}; "
                           "the controller checks it against the approvers next"}

    def _recover(self) -> None:
        """Runs left `running` by a previous controller process were interrupted.

        Each gets its re-run queued (same inputs and params; it had passed any approval)
        *before* it is marked interrupted: a crash in between leaves the re-run queued and
        the run still `running`, and the next recovery only marks it. Queuing here rather
        than leaving it to the planner matters when newer runs of the job are already
        queued: the planner only re-runs an interrupted run that is the job's newest, so a
        trigger's run would otherwise be lost.
        """
        for name, hist in self.store.read_snapshot().jobs.items():
            for run in hist.active:
                if run.status != "running":
                    continue
                cause = model.Cause("retry", f"run {run.number} was interrupted")
                if not any(r.cause == cause for r in hist.active):
                    snap = self.store.read_snapshot()
                    self.store.record_run(model.Run(
                        name, planner.next_run_number(snap, name), "queued", cause, run.inputs,
                        run.params, config_commit=run.config_commit, queued_at=self._clock(),
                        attempt=run.attempt, baseline=run.baseline))
                self.store.record_run(replace(
                    run, status="interrupted", finished_at=self._clock(),
                    message="the controller stopped while this run was in progress"))
                log.warning("%s: run %d interrupted; it will run again", run.job, run.number)
        self._recovered = True

    def _cancel_orphans(self, wf: model.Workflow, snap: model.Snapshot) -> None:
        for name, hist in snap.jobs.items():
            if name in wf.jobs:
                continue
            for run in hist.active:
                if (name, run.number) not in self._submitted:
                    self.store.record_run(replace(
                        run, status="cancelled", finished_at=self._clock(),
                        message="the job was removed from the workflow"))

    def _drain_events(self) -> None:
        while True:
            try:
                kind, spec, data = self._events.get_nowait()
            except queue.Empty:
                return
            if kind == "started":
                running = replace(spec.run, status="running", started_at=data)
                self.store.record_run(running)
                for listener in self.started_listeners:
                    try:
                        listener(replace(spec, run=running))
                    except Exception:  # a listener (notifications) never breaks the loop
                        log.exception("%s: run %d: a started-run listener failed",
                                      running.job, running.number)
            else:
                try:
                    self._record_outcome(spec, data)
                except (ValueError, TypeError) as err:  # what the state branch refuses
                    self._record_unrecordable(spec, data, err)

    def _record_unrecordable(self, spec: rs.RunSpec, outcome: rs.Outcome,
                             err: Exception) -> None:
        """The run ends failed with the reason; its log is kept, what was refused is not."""
        reason = f"outcome could not be recorded: {err}"
        log.error("%s: run %d: %s", spec.run.job, spec.run.number, reason)
        final = replace(spec.run, status="failed", started_at=outcome.started_at,
                        finished_at=outcome.finished_at, exit_code=outcome.exit_code,
                        message="; ".join(m for m in (spec.run.message, reason) if m))
        self.store.record_run(final, log=outcome.log)
        self._submitted.discard((spec.run.job, spec.run.number))

    def _record_outcome(self, spec: rs.RunSpec, outcome: rs.Outcome) -> None:
        run = spec.run
        for update in outcome.outputs:
            self._record_output(spec, update, outcome.status)
        if outcome.status == "succeeded":
            self._replicate(spec, {u.resource for u in outcome.outputs})
        final = replace(
            run, status=outcome.status, started_at=outcome.started_at,
            finished_at=outcome.finished_at, exit_code=outcome.exit_code,
            message="; ".join(m for m in (run.message, outcome.message, _truncated(outcome)) if m),
            notifications=outcome.notifications,
        )
        if outcome.status in ("failed", "timed_out") and run.attempt <= spec.job.retries \
                and not spec.cancel_reason:
            self._retry(final, outcome, spec.job.retries)
            return
        keep_state = outcome.status == "succeeded" or bool(outcome.state_files)
        self.store.record_run(final, log=outcome.log,
                              state_files=outcome.state_files if keep_state else None)
        self._submitted.discard((run.job, run.number))
        log.info("%s: run %d %s", run.job, run.number, outcome.status.replace("_", " "))
        for listener in self.finished_listeners:
            try:
                listener(replace(spec, run=final), outcome)
            except Exception:  # a listener (notifications) never breaks the loop
                log.exception("%s: run %d: a finished-run listener failed", run.job, run.number)

    def _retry(self, final: model.Run, outcome: rs.Outcome, retries: int) -> None:
        """Record the failed attempt (with its log) and queue the next one of the same run.

        The record keeps the failed attempt's worker until the next attempt starts."""
        what = outcome.status.replace("_", " ")
        again = replace(final, status="queued", attempt=final.attempt + 1,
                        message=f"attempt {final.attempt} {what}: {outcome.message}; "
                                f"retrying ({final.attempt + 1} of {retries + 1})")
        self.store.record_run(again, log=outcome.log, subject=(
            f"{final.job}: run {final.number} attempt {final.attempt} {what}, retrying"))
        self._submitted.discard((final.job, final.number))
        log.info("%s: run %d attempt %d %s; retrying", final.job, final.number, final.attempt,
                 what)

    def _replicate(self, spec: rs.RunSpec, written: set[str]) -> None:
        """`OUT: x, replicate: y`: x gets a copy of input y's version, unless the run wrote x."""
        for out in spec.outputs:
            src = next((i for i in spec.inputs if i.name == out.replicate), None)
            if out.name in written or src is None or src.version is None:
                continue
            self.add_version(out.name, dict(src.version.values), name=src.version.name,
                             created_by=f"{spec.run.job} run {spec.run.number}",
                             config_commit=spec.run.config_commit)

    def _record_output(self, spec: rs.RunSpec, update: rs.OutputUpdate, status: str) -> None:
        out = next((o for o in spec.outputs if o.name == update.resource), None)
        if out is None:
            log.warning("%s: run %d wrote %s, which is not one of its OUTs; ignored",
                        spec.run.job, spec.run.number, update.resource)
            return
        if not spec.job.publishes(out.name, status):
            return
        self.add_version(
            update.resource, update.values, replace_values=update.replace,
            name=update.version_name, created_by=f"{spec.run.job} run {spec.run.number}",
            config_commit=spec.run.config_commit, files=update.files)

    def add_version(
        self,
        resource: str,
        values: dict,
        *,
        created_by: str,
        name: str = "",
        replace_values: bool = True,
        config_commit: str = "",
        author: str = "",
        files: dict[str, bytes] | None = None,
    ) -> model.Version:
        """Append the next version of `resource`; safe from any thread (timers, webhooks).

        The caller pokes the loop afterwards so that dependent jobs are planned.
        """
        with self._version_lock:
            latest = self.store.read_snapshot().versions.get(resource)
            merged = dict(values) if replace_values or latest is None else {
                **latest.values, **values}
            version = model.Version(
                resource=resource,
                number=(latest.number if latest else 0) + 1,
                name=name or str(merged.get("versionName", "")),
                values=merged,
                created_by=created_by,
                config_commit=config_commit or (latest.config_commit if latest else ""),
                author=author,
                digest=latest.digest if latest else "",  # the definition it belongs to
                files=files,
            )
            self.store.append_version(version)
        log.info("%s: version %d from %s", resource, version.number, created_by)
        return version

    # --- submitting ---------------------------------------------------------------------

    def _submit(self, wf: model.Workflow, snap: model.Snapshot) -> None:
        for name, hist in snap.jobs.items():
            job = wf.jobs.get(name)
            if job is None:
                continue
            for run in planner.runnable_now(job, hist):
                key = (name, run.number)
                if key in self._submitted:
                    continue
                try:
                    spec = self.specs.build(wf, job, run, snap)
                except SecretsError as err:  # waits, queued; built again on a later pass
                    if self._unbuildable.get(key) != str(err):
                        log.error("%s run %d waits: %s", name, run.number, err)
                    self._unbuildable[key] = str(err)
                    continue
                self._unbuildable.pop(key, None)
                self._submitted.add(key)
                self.executor.submit(spec, self.on_started, self.on_done)


def _truncated(outcome: rs.Outcome) -> str:
    """The run record says when its log.txt is only the head and tail of the output."""
    return "log truncated (only its first and last parts are kept)" if outcome.log_truncated \
        else ""
