"""The HTTP API's `Services`, bound to a running controller: reads answer from its store,
asks go through service/actions.py with the same checks as the CLI, webhooks make
versions through the controller. app.py hands the result to server/api.py, so the
server never imports this layer."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from controller.core import model, planner, replan
from controller.core.errors import NotFound
from controller.core.sources import Push
from controller.reactor.requestfiles import DONE_DIR, REQUESTS_DIR
from controller.secrets import find as find_secret
from controller.secrets import load_secrets
from controller.secrets import lookup as lookup_secret
from controller.server import api
from controller.service import actions, history, notices
from controller.service.repos import open_config
from controller.service.status import read_status
from controller.settings import Settings
from controller.store.pushlog import Pusher, token_pusher

if TYPE_CHECKING:
    from controller.store.gitstate import GitStateStore

API_WAIT_SECONDS = 5.0  # how long a cancel or replay call waits for the loop's answer


@dataclass(frozen=True)
class Running:
    """What the API needs of the running controller, wired by app.py."""

    settings: Settings
    workflow: Callable[[], model.Workflow | None]  # the running one (None before a load)
    poke: Callable[[], None]  # a reconcile pass soon
    record_pusher: Callable[[Pusher, list[str]], None]  # who made these commits
    poller_status: Callable[[], dict[str, Any]]
    git_pushed: Callable[[Push], list[str]]  # a git webhook: what it fetches
    add_version: Callable[..., model.Version]  # resource, values, created_by=...
    # The controller's own state store: its snapshot follows every write, so the API
    # reads it rather than keeping a second copy of the state (RSS at 5,000 jobs).
    store: GitStateStore


def _actor(principal: Any) -> actions.Actor:
    """A token's principal (server/auth.py) as the actor of an ask."""
    return actions.Actor(principal.name, principal.email, "token")


class _Bound:
    """The API's callables over one controller."""

    def __init__(self, ctl: Running) -> None:
        self.ctl = ctl
        self.s = ctl.settings
        self.requests = actions.Requests(self.s.home, API_WAIT_SECONDS,
                                         controller_running=lambda: True, poke=ctl.poke)
        # GET /api/status: answered from the running workflow and one kept store, and
        # worked out again only when the state branch, the workflow or the refused
        # requests changed (a status poll every second costs nothing at 5,000 jobs)
        self._status_lock = threading.Lock()
        self._status_config: Any = None
        self._status_kept: tuple[tuple[object, ...], dict[str, Any]] | None = None
        self._status_memo: replan.PlanMemo | None = None

    def _running(self) -> model.Workflow:
        return self.ctl.workflow() or model.Workflow()

    def status(self) -> dict[str, Any]:
        with self._status_lock:
            if self._status_config is None:
                self._status_config = open_config(self.s)
            config, store = self._status_config, self.ctl.store
            wf = self.ctl.workflow()
            key = (store.tip(), id(wf), _mtime(self.s.home / REQUESTS_DIR / DONE_DIR))
            if self._status_kept is None or self._status_kept[0] != key:
                self._status_kept = (key, read_status(self.s, config, store, wf,
                                                      self._waits(wf, store)).to_json())
            body = self._status_kept[1]
        return {**body, **self.ctl.poller_status()}

    def _waits(self, wf: model.Workflow | None, store: Any) -> dict[str, str] | None:
        """Why each job waits, planned from the previous status's plan (5,000 jobs: the
        few below what changed are decided again)."""
        if wf is None:
            return None
        plan = planner.plan_runs(wf, store.read_snapshot(), previous=self._status_memo)
        self._status_memo = plan.memo
        return plan.waits

    def runs(self, job: str, limit: int) -> list[dict[str, Any]]:
        found = history.runs(self.ctl.store, job, limit, self._running().jobs)
        return [r.to_json() for r in found]

    def versions(self, name: str, limit: int) -> list[dict[str, Any]]:
        found = history.versions(self.ctl.store, name, limit,
                                 self._running().resources)
        return [v.to_json() for v in found]

    def log(self, job: str, run: int | None) -> str | None:
        return self.ctl.store.read_log(job, run)

    def notices(self, job: str, run: int) -> list[dict[str, Any]]:
        store = self.ctl.store
        history.runs(store, job, 1, self._running().jobs)  # NotFound: no such job
        history.find_run(store, job, run)  # Absent: no such run
        return notices.run_notices(store, job, run)

    def trigger(self, job: str, params: dict[str, str], user: str, message: str) -> str:
        wf = self.ctl.workflow()
        sha = actions.trigger(self.s, None if wf is None else wf.jobs, job, params,
                              actions.Actor(user, f"{user}@gitline", "api"), message=message,
                              note=f"API trigger by {user}")
        self.ctl.record_pusher(Pusher(user, "api"), [sha])
        self.ctl.poke()
        return sha

    def approve(self, job: str, decision: str, reason: str, principal: Any) -> str:
        sha = actions.commit_decision(
            self.s, self._running(), self.ctl.store.read_snapshot(), job, decision,
            reason, _actor(principal),
            before_update=lambda sha: self.ctl.record_pusher(token_pusher(principal), [sha]))
        self.ctl.poke()
        return sha

    def cancel(self, job: str, user: str) -> dict[str, Any]:
        who = actions.Actor(user, "", "token")
        return self.requests.cancel(self._running().jobs, job, who).to_json()

    def replay(self, job: str, run: int, user: str) -> dict[str, Any]:
        who = actions.Actor(user, "", "token")
        return self.requests.replay(self._running().jobs, self.ctl.store, job, run,
                                    who).to_json()

    def hook_resource(self, name: str) -> tuple[str, str]:
        res = self._running().resources.get(name)
        if res is None:
            raise NotFound(f"no resource {name}")
        key = str(res.definition.get("secret") or res.integration or "")
        secret = find_secret(load_secrets(self.s.home), key)
        value = secret and (secret.value or next(
            (secret.fields[f] for f in ("key", "token", "secret", "value") if f in secret.fields),
            ""))
        return res.type, value or ""

    def add_hook_version(self, name: str, payload: Any) -> int:
        version = self.ctl.add_version(name, {"payload": payload}, created_by="webhook")
        self.ctl.poke()
        return version.number

    def git_hook_secret(self) -> str:
        name = self.s.webhook_secret
        secrets = load_secrets(self.s.home)
        return (lookup_secret(secrets, name) or lookup_secret(secrets, name, "key") or ""
                ) if name else ""


def _mtime(path: Path) -> int:
    try:
        return path.stat().st_mtime_ns
    except OSError:
        return 0


def api_services(ctl: Running) -> api.Services:
    """The API's callables, bound to this controller."""
    b = _Bound(ctl)
    return api.Services(
        status=b.status, runs=b.runs, versions=b.versions, log=b.log, trigger=b.trigger,
        approve=b.approve, cancel=b.cancel, replay=b.replay, hook_resource=b.hook_resource,
        add_hook_version=b.add_hook_version, git_hook_secret=b.git_hook_secret,
        git_pushed=ctl.git_pushed, notices=b.notices)


