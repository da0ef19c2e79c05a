"""A run's life before it ends: queued or gated for approval, approved, refused, superseded,
expired, interrupted and queued again, cancelled as an orphan, replayed.

Pure functions of (the workflow, a snapshot, `now`) that return transitions, typed values
the reactor applies in order (it records them on the state branch or hands a cancel to the
executor) and `WhyNot` when there is nothing to do and the asker must be told why. `now`
is the edge's ISO 8601 UTC time; `started` holds the (job, run) already handed to an
executor, which only the executor may end from then on.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from controller.core import approvals, history, intake, model, planner

Started = Collection[tuple[str, int]]


@dataclass(frozen=True)
class WhyNot:
    """Nothing to do; `reason` says why, in words for the user who asked."""

    reason: str

    def __str__(self) -> str:
        return self.reason


@dataclass(frozen=True)
class Queue:
    """Record a new run, ready to start (`queued`)."""

    run: model.Run


@dataclass(frozen=True)
class Gate:
    """Record a new run of a job that requires approval: it waits (`pending_approval`)."""

    run: model.Run


@dataclass(frozen=True)
class Cancel:
    """Cancel a run that never started (superseded, rejected, its approval timed out, or
    asked): its on_cancel and always hooks still run, so the executor gets it."""

    run: model.Run
    reason: str


@dataclass(frozen=True)
class Approve:
    """Record a pending run as queued: an approver allowed it."""

    run: model.Run
    subject: str


@dataclass(frozen=True)
class Refuse:
    """Record on a pending run why an approval commit does not count; it keeps waiting."""

    run: model.Run
    subject: str
    why: str


@dataclass(frozen=True)
class Interrupt:
    """A run the previous controller left `running`: queue its re-run (None: already
    queued by an earlier recovery), then record it `interrupted`, in that order."""

    rerun: model.Run | None
    run: model.Run


@dataclass(frozen=True)
class CancelOrphan:
    """Record as cancelled a run whose job left the workflow (no hooks: no job to run)."""

    run: model.Run


Transition = Queue | Gate | Cancel | Approve | Refuse | Interrupt | CancelOrphan


def parse_time(text: str, now: str) -> datetime:
    """An ISO 8601 time of a record; `now` when it cannot be read (never expires early)."""
    for candidate in (text, now):
        try:
            return datetime.fromisoformat(candidate.replace("Z", "+00:00"))
        except ValueError:
            continue
    return datetime.min


def queue_run(wf: model.Workflow, snap: model.Snapshot, planned: planner.PlannedRun, *,
              config_commit: str, now: str, started: Started = ()) -> list[Transition]:
    """A planned run recorded: queued, or gated when its job requires approval, in which
    case it supersedes the job's runs still waiting for approval (cancelled first)."""
    job = wf.jobs.get(planned.job)
    gated = job is not None and job.approval is not None
    run = model.Run(
        planned.job, planner.next_run_number(snap, planned.job),
        "pending_approval" if gated else "queued", planned.cause, planned.inputs,
        dict(planned.params), config_commit=config_commit, queued_at=now,
        attempt=planned.attempt, baseline=planned.baseline)
    if not gated:
        return [Queue(run)]
    older: list[Transition] = [
        Cancel(old, f"superseded by run {run.number}")
        for old in snap.jobs.get(planned.job, model.JobHistory()).active
        if old.status == "pending_approval" and (planned.job, old.number) not in started]
    return [*older, Gate(run)]


def decide_approval(wf: model.Workflow, snap: model.Snapshot,
                    request: approvals.ApprovalRequest, *, now: str,
                    started: Started = ()) -> Approve | Refuse | Cancel | WhyNot:
    """What an authenticated approval commit does to its job's pending run: approves it,
    rejects it (cancelled), is refused (recorded on the run) or finds no run to decide."""
    hist = snap.jobs.get(request.job, model.JobHistory())
    run, none = intake.pending_approval(wf.jobs.get(request.job), request.job, hist, started)
    if run is None:
        return WhyNot(none)
    approval = wf.jobs[request.job].approval
    assert approval is not None  # pending_approval found a gated job
    why_not = approvals.why_refused(approval, request, parse_time(run.queued_at, now).timestamp())
    d = request
    if why_not:
        return Refuse(replace(run, message=f"{d.decision} refused in {d.commit[:7]}: {why_not}"),
                      f"{d.job}: run {run.number} {d.decision} by {d.by} refused", why_not)
    verb = "approved" if d.decision == "approve" else "rejected"
    what = f"{verb} by {d.by} in {d.commit[:7]}" + (f": {d.reason}" if d.reason else "")
    if d.decision == "approve":
        return Approve(replace(run, status="queued", message=what),
                       f"{d.job}: run {run.number} approved by {d.by}")
    return Cancel(run, what)


def expire_approvals(wf: model.Workflow, snap: model.Snapshot, *, now: str,
                     started: Started = ()) -> list[Cancel]:
    """Runs that waited for approval longer than their job's approval timeout."""
    at = parse_time(now, now)
    expired = []
    for name, hist in snap.jobs.items():
        job = wf.jobs.get(name)
        minutes = job.approval.timeout_minutes if job and job.approval else None
        if minutes is None:
            continue
        expired += [Cancel(run, f"approval timed out after {minutes:g} minutes")
                    for run in hist.active
                    if run.status == "pending_approval" and (name, run.number) not in started
                    and at - parse_time(run.queued_at, now) > timedelta(minutes=minutes)]
    return expired


def recover(snap: model.Snapshot, *, now: str) -> list[Interrupt]:
    """Runs left `running` by a previous controller process were interrupted.

    Each gets its re-run queued (`planner.rerun_of`) *before* it is marked interrupted: a
    crash in between leaves the re-run queued and the run still `running`, and the next
    recovery only marks it. Queuing here rather than leaving it to the planner matters
    when newer runs of the job are already queued: the planner only re-runs an
    interrupted run that is the job's newest, so a trigger's run would otherwise be lost.
    """
    found = []
    for name, hist in snap.jobs.items():
        for run in hist.active:
            if run.status != "running":
                continue
            planned = planner.rerun_of(run)
            rerun = None
            if not any(r.cause == planned.cause for r in hist.active):
                rerun = model.Run(
                    name, planner.next_run_number(snap, name), "queued", planned.cause,
                    planned.inputs, planned.params, config_commit=run.config_commit,
                    queued_at=now, attempt=planned.attempt, baseline=planned.baseline)
                snap = history.with_run(snap, rerun)
            found.append(Interrupt(rerun, replace(
                run, status="interrupted", finished_at=now,
                message="the controller stopped while this run was in progress")))
    return found


def cancel_orphans(wf: model.Workflow, snap: model.Snapshot, *, now: str,
                   started: Started = ()) -> list[CancelOrphan]:
    """Runs not yet started of jobs no longer in the workflow."""
    return [CancelOrphan(replace(run, status="cancelled", finished_at=now,
                                 message="the job was removed from the workflow"))
            for name, hist in snap.jobs.items() if name not in wf.jobs
            for run in hist.active if (name, run.number) not in started]


def plan_replay(snap: model.Snapshot, job: str, old: model.Run | None, *, number: int,
                by: str) -> planner.PlannedRun | WhyNot:
    """A replay of run `number` (`old`, None when there is no such run): the same inputs
    and params, compared afterwards against the baseline of the job's newest run, so
    versions newer than the replayed ones still count as unprocessed."""
    if old is None:
        return WhyNot(f"{job} has no run {number} to replay")
    last = snap.jobs[job].last if job in snap.jobs else None
    baseline = (last.inputs if last.baseline is None else last.baseline) if last else ()
    return planner.PlannedRun(job, model.Cause("replay", f"run {number} of {job}", author=by),
                              old.inputs, dict(old.params), baseline=baseline)
