"""Status: resources with their latest version, jobs with their newest run and why they
wait, and the config's state, read from the two branches (either reader)."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from controller.core import model
from controller.service.views import (
    ConfigState,
    JobSummary,
    ResourceSummary,
    RunView,
    StatusView,
    problem_view,
)
from controller.settings import Settings

if TYPE_CHECKING:
    from controller.service.repos import Config, State


def read_status(settings: Settings, config: Config, store: State,
                workflow: model.Workflow | None = None,
                waits: Mapping[str, str] | None = None) -> StatusView:
    """Status as the state branch records it, against the last good workflow: `workflow`
    when the caller holds it (the running controller), else loaded from its commit.
    `waits`: why each job waits, when the caller planned it (incrementally)."""
    from controller.core import planner
    from controller.store import subscription

    snap = store.read_snapshot()
    record = store.read_config_record()
    wf = workflow if workflow is not None else (
        subscription.load(settings, config, snap.good_commit, snap.good_sources)
        if snap.good_commit else model.Workflow())
    waits = planner.plan_runs(wf, snap).waits if waits is None else waits
    resources = {name: ResourceSummary(name, res.type, snap.versions.get(name),
                                       wf.inconsistent.get(name))
                 for name, res in sorted(wf.resources.items())}
    jobs = {}
    for name, job in sorted(wf.jobs.items()):
        hist = snap.jobs.get(name, model.JobHistory())
        jobs[name] = JobSummary(
            name, job.type, RunView(hist.last) if hist.last else None,
            tuple(RunView(r) for r in hist.active), hist.last_succeeded,
            tuple(f"{i.name}@{i.version_name or i.version_number}" for i in job.inputs
                  if i.pinned),
            active_reason(job, hist, settings) if hist.active else waits.get(name))
    return StatusView(config_state(snap, record, settings.home), resources, jobs)


def config_state(snap: model.Snapshot, record: dict[str, Any], home: Path) -> ConfigState:
    """The last processed and last good config commits, problems and refusals."""
    return ConfigState(
        snap.processed_commit, snap.good_commit,
        tuple(problem_view(str(p)) for p in record.get("problems", [])),
        tuple(record.get("triggerErrors", [])),
        tuple(refused_triggers(record) + refused_requests(home)),
        tuple(f"{t.path} in {t.commit[:7]} by {t.author}: {t.error}; it runs once that run "
              "has ended" for t in snap.waiting_triggers),
        dict(snap.processed_sources), dict(snap.good_sources))


def refused_triggers(record: dict[str, Any]) -> list[str]:
    """controller/config.yml's triggerErrors, in words."""
    out = []
    for t in record.get("triggerErrors") or []:
        if isinstance(t, dict):
            out.append(f"{t.get('path')} in {str(t.get('commit', ''))[:7]} by {t.get('author')}"
                       f": {t.get('error')}")
        else:
            out.append(str(t))
    return out


def refused_requests(home: Path) -> list[str]:
    """The cancel and replay requests the controller refused, in words."""
    from controller.reactor.requestfiles import refused

    out = []
    for r in refused(home):
        what = f"{r.get('action') or 'request'} of {r.get('job') or '?'}"
        if r.get("action") == "replay" and r.get("run") is not None:
            what += f" run {r['run']}"
        by = f" by {r['by']}" if r.get("by") else ""
        out.append(f"{what}{by} at {r.get('at', '?')}: {r['error']}")
    return out


def _secrets_problem(settings: Settings) -> str:
    """Why no run can be built now (an unsafe secrets.yml), or ""."""
    from controller.secrets import SecretsError, load_secrets

    try:
        load_secrets(settings.home)
    except SecretsError as err:
        return str(err)
    return ""


def active_reason(job: model.Job, hist: model.JobHistory, settings: Settings) -> str | None:
    """Why a job's queued or pending runs are not running yet."""
    pending = [r for r in hist.active if r.status == "pending_approval"]
    if pending:
        approvers = ", ".join(job.approval.approvers) if job.approval else ""
        return ("approve with `gitline approve " + job.name + "` or a commit to approvals/"
                + job.name + (f" (by one of: {approvers})" if approvers else ""))
    running = [r for r in hist.active if r.status == "running"]
    queued = [r for r in hist.active if r.status == "queued"]
    if running and queued and job.trigger_mode == "serial":
        return (f"run {queued[0].number} is queued behind run {running[0].number} "
                "(triggerMode: serial)")
    if queued and not running:
        problem = _secrets_problem(settings)
        if problem:
            return f"run {queued[0].number} waits: {problem}"
        if settings.executor == "celery":  # the queue a worker must serve for it to start
            queue = job.node_pool.strip() or settings.default_queue
            return (f"run {queued[0].number} is queued for a free worker of Celery queue "
                    f"'{queue}' (`gitline worker --queues {queue}`)")
        return f"run {queued[0].number} is queued for a free worker"
    return None
