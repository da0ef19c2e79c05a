"""What a config push asks for, before any run is planned: the reactor and the push answer
(`core/pushplan`) both take it from here, so a preview says what a pass will record.

Two decisions: which workflow runs after the push (the pushed one, or the last good one
when the pushed one does not load) with the versions it makes, and which trigger and
approval files the pushed commits hold. Pure: blobs come through the `read` callable the
edge passes in; who made an approval commit is the edge's to add.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Mapping
from dataclasses import dataclass, replace
from typing import Protocol

from controller.core import approvals, model, planner, triggers, versions

# (commit, path) -> the file's bytes, None when absent; ValueError when not a regular file
ReadBlob = Callable[[str, str], bytes | None]


class PushedCommit(Protocol):
    """A commit of the config branch as the store reports it (configrepo.CommitInfo)."""

    @property
    def sha(self) -> str: ...
    @property
    def author(self) -> str: ...
    @property
    def changed_paths(self) -> tuple[str, ...]: ...


@dataclass(frozen=True)
class Taken:
    """The workflow that runs after a push, and the versions its definitions make."""

    workflow: model.Workflow | None  # None: nothing has ever loaded
    commit: str  # the config commit `workflow` was loaded from
    kept: bool  # the pushed workflow does not load: `workflow` is the last good one
    versions: tuple[model.Version, ...] = ()


def take_config(pushed: model.Workflow, head: str, good: tuple[str, model.Workflow] | None,
                snap: model.Snapshot, *, author: str = "",
                tracked_trees: Mapping[str, str] | None = None,
                source_commits: Mapping[str, str] | None = None) -> Taken:
    """The workflow to run after `head` is pushed and its new versions.

    `good` is the last good (commit, workflow); `tracked_trees` the tree ids of the paths
    that gitRepo resources on this repository track, at the commit that runs.
    """
    if pushed.fatal:
        if good is None:
            return Taken(None, "", kept=True)
        commit, workflow, kept = good[0], good[1], True
    else:
        commit, workflow, kept = head, pushed, False
    new = versions.plan_versions(workflow, snap, commit=commit, author=author,
                                 tracked_trees=tracked_trees, source_commits=source_commits)
    return Taken(workflow, commit, kept, tuple(new))


def with_versions(snap: model.Snapshot, new: Iterable[model.Version]) -> model.Snapshot:
    """The snapshot once `new` are recorded (what the planner sees next)."""
    latest = {**snap.versions, **{v.resource: v for v in new}}
    return model.Snapshot(latest, snap.jobs, snap.processed_commit, snap.good_commit, snap.tip)


def file_requests(
    commits: Iterable[PushedCommit], read: ReadBlob,
    done: Collection[tuple[str, str]] = (),
) -> tuple[list[model.TriggerRequest], list[approvals.ApprovalRequest]]:
    """The trigger and approval files the commits add or change, oldest first.

    `done` holds (job, commit) of trigger runs already recorded: never asked for twice.
    A deleted file asks for nothing; a bad one is a request with its error.
    """
    asked: list[model.TriggerRequest] = []
    decisions: list[approvals.ApprovalRequest] = []
    for c in commits:
        for path in c.changed_paths:
            if path.startswith(approvals.APPROVAL_DIR + "/"):
                decisions.extend(_approval(c, path, read))
                continue
            job = triggers.trigger_job(path)
            if job is None and path.startswith(triggers.TRIGGER_DIR + "/"):
                asked.append(model.TriggerRequest(
                    path.split("/", 1)[1], c.sha, c.author, path,
                    error=f"{path} is not a trigger file: use triggers/<job> for a job name"))
            elif job is not None and (job, c.sha) not in done:
                asked.extend(_trigger(job, c, path, read))
    return asked, decisions


def _trigger(job: str, c: PushedCommit, path: str, read: ReadBlob) -> list[model.TriggerRequest]:
    try:
        data = read(c.sha, path)
    except ValueError as err:  # a symlink or a folder where a file belongs
        return [model.TriggerRequest(job, c.sha, c.author, path, error=str(err))]
    if data is None:  # deleted: nothing to run
        return []
    params, error = triggers.parse_params(data, path)
    return [model.TriggerRequest(job, c.sha, c.author, path, params, error)]


def _approval(c: PushedCommit, path: str, read: ReadBlob) -> list[approvals.ApprovalRequest]:
    job = approvals.approval_job(path)
    if job is None:
        return [approvals.ApprovalRequest(path.split("/", 1)[1], c.sha, c.author, path,
                                          error=f"{path} is not an approval file: use "
                                                "approvals/<job>")]
    try:
        data = read(c.sha, path)
    except ValueError as err:
        return [approvals.ApprovalRequest(job, c.sha, c.author, path, error=str(err))]
    if data is None:
        return []
    decision, reason, error = approvals.parse_decision(data)
    return [approvals.ApprovalRequest(job, c.sha, c.author, path, decision, reason, error)]


def trigger_runs_done(snap: model.Snapshot) -> set[tuple[str, str]]:
    """(job, commit) of every trigger run the state branch already holds."""
    return {(r.job, r.cause.commit) for h in snap.jobs.values()
            for r in (*h.active, *([h.last] if h.last else [])) if r.cause.kind == "trigger"}


def pending_approval(job: model.Job | None, name: str, hist: model.JobHistory,
                     started: Collection[tuple[str, int]] = ()) -> tuple[model.Run | None, str]:
    """The run an approval of job `name` decides, or None and why there is none.

    `started`: (job, run) already handed to an executor (a cancel in flight)."""
    if job is None or job.approval is None:
        return None, f"job {name!r} does not require approval"
    pending = [r for r in hist.active if r.status == "pending_approval"
               and (name, r.number) not in started]
    if not pending:
        return None, f"no run of {name} is pending approval"
    return pending[-1], ""


@dataclass(frozen=True)
class WaitingTriggers:
    """What becomes of the trigger files that waited for an input job's run."""

    runs: tuple[planner.PlannedRun, ...] = ()  # their input job's run ended: they run now
    refused: tuple[model.TriggerRequest, ...] = ()  # they never can (error says why)
    waiting: tuple[model.TriggerRequest, ...] = ()  # still waiting (error: for which run)
    changed: bool = False  # the record of waiting triggers must be written again


def retry_waiting(wf: model.Workflow, snap: model.Snapshot) -> WaitingTriggers:
    """Each waiting trigger file runs once the run it waited for has ended (with the
    newest inputs), is refused if it never can, or keeps waiting. Only the triggers are
    planned: the pass plans the other jobs once, after."""
    before = snap.waiting_triggers
    if not before:
        return WaitingTriggers()
    done = trigger_runs_done(snap)
    pending = [replace(t, error="") for t in before if (t.job, t.commit) not in done]
    plan = planner.plan_triggers(wf, snap, pending)
    moved = [(t.job, t.commit) for t in plan.waiting] != [(t.job, t.commit) for t in before]
    return WaitingTriggers(plan.runs, plan.rejected, plan.waiting,
                           changed=moved or bool(plan.rejected))
