"""The web view's reads, bound to a running `Controller` (server/web/data.py's WebData).

The one place the pages meet the store, the config repository and the reactor: when
the service layer lands, this module points WebData at it and nothing else changes.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from controller.core import model
from controller.readview import open_repos, read_status, run_summary
from controller.server.web.data import Json, Push, RunDetail, WebData
from controller.store.pushlog import attributed

if TYPE_CHECKING:  # the controller is wired in app.py, which imports this module
    from controller.app import Controller
    from controller.server import api
    from controller.store.gitstate import GitStateStore

_FINDING = 1000  # how far back a run or its outputs are looked for


def _run_json(entry: Any) -> Json:
    run: model.Run = entry.run
    return {**run_summary(run), "commit": entry.commit, "when": entry.when,
            "startedAt": run.started_at, "params": run.params,
            "inputVersions": [{"name": i.name, "kind": i.kind, "number": i.number,
                               "versionName": i.version_name} for i in run.inputs]}


def _version_json(entry: Any) -> Json:
    v: model.Version = entry.version
    return {"number": v.number, "versionName": v.name, "values": v.values,
            "createdBy": v.created_by, "author": v.author, "configCommit": v.config_commit,
            "commit": entry.commit, "when": entry.when}


def web_data(ctl: Controller, actions: api.Services) -> WebData:
    """WebData for this controller; `actions` are the API's Services (the same checks)."""
    from controller.execution.workspace import job_folder

    s = ctl.settings

    def store() -> GitStateStore:
        return open_repos(s)[1]  # its own: the pages read from the listener's threads

    def workflow() -> model.Workflow:
        return ctl.reconciler.workflow or model.Workflow()

    def status() -> Json:
        config, state = open_repos(s)
        return {**read_status(s, config, state), "tip": state.read_snapshot().tip}

    def runs(job: str, limit: int) -> list[Json]:
        found = [_run_json(e) for e in store().history(job, limit) if e.run is not None]
        if not found and job not in workflow().jobs:
            raise LookupError(f"no job {job}")
        return found

    def run(job: str, number: int) -> RunDetail | None:
        st = store()
        entry = next((e for e in st.history(job, _FINDING)
                      if e.run is not None and e.run.number == number), None)
        if entry is None:
            return None
        wf = workflow()
        made = f"{job} run {number}"
        outputs = [{"resource": o.name, **_version_json(e)}
                   for o in (wf.jobs[job].outputs if job in wf.jobs else ())
                   for e in st.history(o.name, 50)
                   if e.version is not None and e.version.created_by == made]
        files = st.read_files(f"jobs/{job}/state", at=entry.commit) \
            if entry.run is not None and entry.run.status == "succeeded" else {}
        return RunDetail(_run_json(entry), outputs, {k: len(v) for k, v in sorted(files.items())})

    def run_status(job: str, number: int) -> str | None:
        snap = store().read_snapshot()
        hist = snap.jobs.get(job)
        if hist is None or any(r.number == number for r in hist.active):
            return None
        if hist.last is not None and hist.last.number == number:
            return hist.last.status
        found = next((e.run for e in store().history(job, _FINDING)
                      if e.run is not None and e.run.number == number), None)
        return found.status if found is not None else "unknown"

    def versions(name: str, limit: int) -> list[Json]:
        found = [_version_json(e) for e in store().history(name, limit)
                 if e.version is not None]
        if not found and name not in workflow().resources:
            raise LookupError(f"no resource {name}")
        return found

    def pushes(limit: int) -> list[Push]:
        config = open_repos(s)[0]  # its own: pygit2 objects are not shared across threads
        head = config.head()
        if not head:
            return []
        commits, _ = config.commits_between(None, head, limit=limit)
        return [Push(c.sha, attributed(c.author, ctl.pushes.pusher(c.sha)), c.message)
                for c in reversed(commits)]

    def live_log(job: str, number: int) -> Path:
        return Path(s.work_root) / job_folder(job) / f"{number}.log"

    return WebData(status=status, workflow=workflow, runs=runs, run=run,
                   run_status=run_status, versions=versions,
                   log=lambda job, number: store().read_log(job, number),
                   live_log=live_log, pushes=pushes, actions=actions)

