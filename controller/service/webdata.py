"""The web view's reads (server/web/data.py's WebData), bound to a running controller.

The one place the pages meet the service layer (controller/service/), the same reads the
CLI and the API make, from the controller's own state store (it takes a lock around each
read, so the listener's threads share it) and the API's kept status: an open page polls
every 1.5 s, which must not build the state or load the workflow again.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from controller.core import model
from controller.server.web.data import Json, Push, RunDetail, WebData
from controller.service import history, notices
from controller.service.repos import open_config
from controller.service.views import RunView
from controller.store.pushlog import attributed

if TYPE_CHECKING:
    from controller.server import api
    from controller.settings import Settings
    from controller.store.gitstate import GitStateStore

_FINDING = 1000  # how far back a run or its outputs are looked for


def _run_json(view: RunView) -> Json:
    return {**view.to_json(), "inputVersions": [
        {"name": i.name, "kind": i.kind, "number": i.number, "versionName": i.version_name}
        for i in view.run.inputs]}


def web_data(s: Settings, running: Callable[[], model.Workflow | None],
             pusher: Callable[[str], str | None], actions: api.Services,
             state: GitStateStore) -> WebData:
    """WebData for the controller of `s`: `running` is its workflow, `pusher` who pushed a
    commit, `actions` the API's Services (the same checks and the same kept status),
    `state` the controller's own store (locked; its snapshot follows every write)."""
    from controller.execution.workspace import job_folder

    def workflow() -> model.Workflow:
        return running() or model.Workflow()

    def runs(job: str, limit: int) -> list[Json]:
        return [_run_json(v) for v in history.runs(state, job, limit, workflow().jobs)]

    def run(job: str, number: int) -> RunDetail | None:
        try:
            view = history.run_detail(state, workflow(), job, number, scan=50)
        except LookupError:
            return None
        outputs = [{"resource": v.version.resource, **v.to_json()} for v in view.outputs]
        files = state.read_files(f"jobs/{job}/state", at=view.commit) \
            if view.run.status == "succeeded" else {}
        try:
            sent: list[Json] | None = notices.run_notices(state, job, number)
        except LookupError:  # only in the record's history
            sent = None
        return RunDetail(_run_json(view), outputs, {k: len(v) for k, v in sorted(files.items())},
                         sent, notices.older_hint(job))

    def run_status(job: str, number: int) -> str | None:
        snap = state.read_snapshot()
        hist = snap.jobs.get(job)
        if hist is None or any(r.number == number for r in hist.active):
            return None
        if hist.last is not None and hist.last.number == number:
            return hist.last.status
        try:
            return history.find_run(state, job, number, limit=_FINDING).run.status
        except LookupError:
            return "unknown"

    def versions(name: str, limit: int) -> list[Json]:
        return [v.to_json() for v in history.versions(state, name, limit,
                                                      workflow().resources)]

    def pushes(limit: int) -> list[Push]:
        config = open_config(s)  # its own: pygit2 objects are not shared across threads
        head = config.head()
        if not head:
            return []
        commits, _ = config.commits_between(None, head, limit=limit)
        return [Push(c.sha, attributed(c.author, pusher(c.sha)), c.message)
                for c in reversed(commits)]

    def commit(sha: str) -> Json | None:
        info = state.commit_info(sha)
        return None if info is None else {
            "sha": info.sha, "message": info.message, "author": info.author,
            "when": info.when, "parent": info.parent,
            "changed": [{"status": st, "path": p} for st, p in info.changed],
            "more": info.more}

    def live_log(job: str, number: int) -> Path:
        return Path(s.work_root) / job_folder(job) / f"{number}.log"

    return WebData(status=actions.status, tip=state.tip, workflow=workflow, runs=runs, run=run,
                   run_status=run_status, versions=versions,
                   log=lambda job, number: state.read_log(job, number),
                   live_log=live_log, pushes=pushes, commit=commit, actions=actions)

