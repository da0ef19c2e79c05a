"""Wiring: builds the controller's parts from Settings. The only module that imports every edge."""

from __future__ import annotations

import logging
import threading
from dataclasses import asdict
from typing import Any

from controller.core import loader, model, planner
from controller.execution.local import LocalExecutor
from controller.notify.delivery import Deliverer
from controller.notify.listener import NoticeListener
from controller.reactor.loop import Loop
from controller.reactor.reconcile import Reconciler
from controller.reactor.timers import Timers
from controller.reactor.requests import REQUESTS_DIR
from controller.reactor.watcher import RefWatcher
from controller.secrets import load_secrets
from controller.settings import Settings
from controller.store.configrepo import ConfigRepo
from controller.store.gitstate import GitStateStore

log = logging.getLogger("gitline")


class HomeError(Exception):
    """HOME is not a Gitline home (run `gitline init HOME`)."""


def open_repos(settings: Settings) -> tuple[ConfigRepo, GitStateStore]:
    if not settings.repo_path.is_dir():
        home = settings.home
        raise HomeError(f"{home} is not a Gitline home: run `gitline init {home}`")
    return (ConfigRepo(settings.repo_path, settings.branch),
            GitStateStore(settings.repo_path, settings.state_branch))


class Controller:
    """The running controller: watcher -> loop -> reconcile passes -> executor."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.config, self.store = open_repos(settings)
        self.executor = LocalExecutor(settings.work_root, workers=settings.workers)
        self.loop = Loop(self._run_pass, settings.poll_seconds)
        self.reconciler = Reconciler(
            self.config, self.store, self.executor, poke=self.loop.poke,
            job_env=settings.job_env(), secrets=lambda: load_secrets(settings.home),
            requests_dir=settings.home / REQUESTS_DIR)
        self.watcher = RefWatcher(settings.repo_path, self.loop.poke,
                                  ignore_refs=(f"refs/heads/{settings.state_branch}",))
        self.watcher.watch_dir(settings.home / REQUESTS_DIR, self.loop.poke)
        self.deliverer = Deliverer(secrets=lambda: load_secrets(settings.home),
                                   record=self.store.record_deliveries,
                                   enabled=settings.notifications_on)
        self.reconciler.finished_listeners.append(
            NoticeListener(lambda: self.reconciler.workflow, self.deliverer.submit))
        self.timers = Timers(add_version=self.reconciler.add_version,
                             latest_version=lambda n: self.store.read_snapshot().versions.get(n),
                             poke=self.loop.poke, default_catchup=settings.time_catchup)

    def _run_pass(self) -> None:
        self.reconciler.run_pass()
        self.timers.sync(self.reconciler.workflow)  # schedules follow pushes

    def serve(self, stop: threading.Event) -> None:
        self.watcher.start()
        self.timers.start()
        self.deliverer.start()
        log.info("gitline: watching %s (branch %s), state on %s, %d workers",
                 self.settings.repo_path, self.settings.branch, self.settings.state_branch,
                 self.settings.workers)
        try:
            self.loop.run(stop)
        finally:
            self.watcher.stop()
            self.timers.stop()
            self.deliverer.stop()
            self.executor.shutdown(wait=False)


def read_status(settings: Settings) -> dict[str, Any]:
    """Resources with their latest version, jobs with their last run and why they wait."""
    config, store = open_repos(settings)
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
            "lastRun": _run_summary(last) if last else None,
            "active": [_run_summary(r) for r in hist.active],
            "lastSucceeded": hist.last_succeeded or None,
            "pins": [f"{i.name}@{i.version_name or i.version_number}" for i in job.inputs
                     if i.pinned],
            "waiting": None if hist.active else waits.get(name),
        }
    return {
        "config": {"processed": snap.processed_commit, "good": snap.good_commit,
                   "problems": record.get("problems", []),
                   "triggerErrors": record.get("triggerErrors", [])},
        "resources": resources,
        "jobs": jobs,
    }


def _run_summary(run: model.Run) -> dict[str, Any]:
    return {"number": run.number, "status": run.status, "cause": str(run.cause),
            "queuedAt": run.queued_at, "finishedAt": run.finished_at,
            "exitCode": run.exit_code, "attempt": run.attempt, "message": run.message,
            "inputs": {i.name: asdict(i)["number"] for i in run.inputs}}
