"""What the read-only commands and the API show: status, the workflow the controller runs.

Only the store and the core: `gitline status` must not pay for importing the
controller's edges (scheduler, HTTP server, executors). The CLI reads through
`git cat-file` (open_readers), the controller and its API through pygit2 (open_repos):
both give the same answers, and everything here takes either.
"""

from __future__ import annotations

from dataclasses import asdict
from typing import TYPE_CHECKING, Any

from controller.core import model
from controller.settings import Settings

if TYPE_CHECKING:
    from controller.store.catfile import CatFile
    from controller.store.configrepo import ConfigRepo
    from controller.store.gitstate import GitStateStore
    from controller.store.statereader import ConfigReader, StateReader

    Config = ConfigRepo | ConfigReader
    State = GitStateStore | StateReader


class HomeError(Exception):
    """HOME is not a Gitline home (run `gitline init HOME`)."""


def _check_home(settings: Settings) -> None:
    if not settings.repo_path.is_dir():
        home = settings.home
        raise HomeError(f"{home} is not a Gitline home: run `gitline init {home}`")


def open_repos(settings: Settings) -> tuple[ConfigRepo, GitStateStore]:
    """The config and state branches through pygit2: the controller's (it writes)."""
    from controller.store.configrepo import ConfigRepo
    from controller.store.gitstate import GitStateStore

    _check_home(settings)
    return (ConfigRepo(settings.repo_path, settings.branch),
            GitStateStore(settings.repo_path, settings.state_branch))


def open_readers(settings: Settings) -> tuple[ConfigReader, StateReader, CatFile]:
    """Both branches read-only through one `git cat-file` (close the CatFile after):
    a one-shot command does not pay for importing pygit2."""
    from controller.store.statereader import open_readers as open_both

    _check_home(settings)
    return open_both(settings.repo_path, settings.branch, settings.state_branch)


def running_workflow(config: Config, store: State,
                     snap: model.Snapshot | None = None) -> model.Workflow:
    """The workflow the controller runs: the last good config, else the config head
    (a home whose controller has not run yet)."""
    from controller.core import loader  # ruamel: only for the commands that need it

    snap = snap or store.read_snapshot()
    commit = snap.good_commit or config.head()
    if not commit:
        return model.Workflow()
    return loader.load_workflow(config.workflow_files(commit, loader.is_workflow_file))


def running_names(config: Config, store: State) -> tuple[set[str], set[str]]:
    """Job and resource names of the running workflow: as the controller recorded them in
    controller/config.yml, else (no controller has recorded them yet) from its YAML."""
    record = store.read_config_record()
    jobs, resources = record.get("jobs"), record.get("resources")
    if record.get("good") and isinstance(jobs, list) and isinstance(resources, list):
        return {str(n) for n in jobs}, {str(n) for n in resources}
    wf = running_workflow(config, store)
    return set(wf.jobs), set(wf.resources)


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


def refused_requests(home: Any) -> list[str]:
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


def read_status(settings: Settings, config: Config, store: State) -> dict[str, Any]:
    """Resources with their latest version, jobs with their last run and why they wait."""
    from controller.core import loader, planner

    snap = store.read_snapshot()
    record = store.read_config_record()
    wf = (loader.load_workflow(config.workflow_files(snap.good_commit, loader.is_workflow_file))
          if snap.good_commit else model.Workflow())
    waits = planner.plan_runs(wf, snap).waits
    resources = {}
    for name, res in sorted(wf.resources.items()):
        v = snap.versions.get(name)
        resources[name] = {
            "type": res.type,
            "version": v.number if v else None,
            "versionName": v.name if v else None,
            "createdBy": v.created_by if v else None,
            "inconsistent": wf.inconsistent.get(name),
        }
    jobs = {}
    for name, job in sorted(wf.jobs.items()):
        hist = snap.jobs.get(name, model.JobHistory())
        last = hist.last
        jobs[name] = {
            "type": job.type,
            "lastRun": run_summary(last) if last else None,
            "active": [run_summary(r) for r in hist.active],
            "lastSucceeded": hist.last_succeeded or None,
            "pins": [f"{i.name}@{i.version_name or i.version_number}" for i in job.inputs
                     if i.pinned],
            "waiting": _active_reason(job, hist, settings) if hist.active else waits.get(name),
        }
    return {
        "config": {"processed": snap.processed_commit, "good": snap.good_commit,
                   "problems": record.get("problems", []),
                   "triggerErrors": record.get("triggerErrors", []),
                   "refused": refused_triggers(record) + refused_requests(settings.home),
                   "waitingTriggers": [
                       f"{t.path} in {t.commit[:7]} by {t.author}: {t.error}; it runs once "
                       "that run has ended" for t in snap.waiting_triggers]},
        "resources": resources,
        "jobs": jobs,
    }


def _secrets_problem(settings: Settings) -> str:
    """Why no run can be built now (an unsafe secrets.yml), or ""."""
    from controller.secrets import SecretsError, load_secrets

    try:
        load_secrets(settings.home)
    except SecretsError as err:
        return str(err)
    return ""


def _active_reason(job: model.Job, hist: model.JobHistory,
                   settings: Settings) -> str | None:
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


def run_summary(run: model.Run) -> dict[str, Any]:
    return {"number": run.number, "status": run.status, "cause": str(run.cause),
            "queuedAt": run.queued_at, "finishedAt": run.finished_at,
            "exitCode": run.exit_code, "attempt": run.attempt, "message": run.message,
            "worker": run.worker,
            "inputs": {i.name: asdict(i)["number"] for i in run.inputs}}
