"""A job's history (newest run, newest success, runs in flight) and how one run changes it.

One rule for the planner (a run it is about to queue), the store (a run it just wrote)
and the store's reader (a job's folder on the state branch): the newest run is the one
with the highest number, a finished run leaves the active set, a success moves
`last_succeeded` forward only. Pure: records in, records out.
"""

from __future__ import annotations

from collections.abc import Iterable

from controller.core import model


def from_records(active: Iterable[model.Run], newest: model.Run | None,
                 last_succeeded: int) -> model.JobHistory:
    """A job's history from its records: runs in flight, the newest recorded run and the
    number of its newest success (jobs/<name>/active/, run.yml and job.yml)."""
    runs = sorted(active, key=lambda r: r.number)
    if runs and (newest is None or runs[-1].number > newest.number):
        newest = runs[-1]
    return model.JobHistory(last=newest, last_succeeded=last_succeeded, active=tuple(runs))


def after_run(hist: model.JobHistory, run: model.Run) -> model.JobHistory:
    """The history once `run` (new, or a new state of one in flight) is recorded."""
    newest = run if hist.last is None or run.number >= hist.last.number else hist.last
    active = [r for r in hist.active if r.number != run.number]
    if run.status not in model.FINISHED:
        active.append(run)
    succeeded = hist.last_succeeded
    if run.status == "succeeded" and run.number > succeeded:
        succeeded = run.number
    return from_records(active, newest, succeeded)


def with_run(snap: model.Snapshot, run: model.Run) -> model.Snapshot:
    """The snapshot once `run` is recorded (so one pass never plans a run twice)."""
    hist = snap.jobs.get(run.job, model.JobHistory())
    return model.Snapshot(snap.versions, {**snap.jobs, run.job: after_run(hist, run)},
                          snap.processed_commit, snap.good_commit, snap.tip,
                          snap.waiting_triggers)
