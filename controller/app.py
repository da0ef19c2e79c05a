"""Wiring: builds the controller's parts from Settings. The only module that imports every edge."""

from __future__ import annotations

import logging
import threading
from dataclasses import asdict, replace
from typing import Any

from controller.core import loader, model, planner
from controller.execution.executor import Executor
from controller.execution.local import LocalExecutor
from controller.notify.delivery import Deliverer
from controller.notify.listener import NoticeListener
from controller.reactor.loop import Loop
from controller.reactor.reconcile import Reconciler
from controller.reactor.requests import REQUESTS_DIR
from controller.reactor.timers import Timers
from controller.reactor.watcher import RefWatcher
from controller.secrets import load_secrets
from controller.secrets import lookup as lookup_secret
from controller.server.pushes import PushLog, attributed
from controller.settings import Settings
from controller.store.configrepo import MAX_COMMITS, CommitInfo, ConfigRepo
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


def make_executor(settings: Settings) -> Executor:
    """Local threads, or Celery workers (`executor: celery`; celery is imported only then)."""
    if settings.executor == "celery":
        from controller.execution.celery_executor import CeleryExecutor, safe_url

        log.info("gitline: runs go to Celery workers through %s (default queue %s)",
                 safe_url(settings.broker_url), settings.default_queue)
        return CeleryExecutor(settings.broker_url, default_queue=settings.default_queue,
                              lost_after=settings.worker_lost_seconds)
    return LocalExecutor(settings.work_root, workers=settings.workers)


class Controller:
    """The running controller: watcher -> loop -> reconcile passes -> executor."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.config, self.store = open_repos(settings)
        self.pushes = PushLog(settings.home)  # who pushed over HTTP, for runs' causes
        self.config = AttributedConfigRepo(settings.repo_path, settings.branch, self.pushes)
        self.executor = make_executor(settings)
        self.loop = Loop(self._run_pass, settings.poll_seconds)
        self.reconciler = Reconciler(
            self.config, self.store, self.executor, poke=self.loop.poke,
            job_env=settings.job_env(), secrets=lambda: load_secrets(settings.home),
            requests_dir=settings.home / REQUESTS_DIR,
            checkout=lambda res, version: self.repos.checkout(res, version))
        self._wire_network()
        self.watcher = RefWatcher(settings.repo_path, self.loop.poke,
                                  ignore_refs=(f"refs/heads/{settings.state_branch}",
                                               "refs/gitline/"))
        self.watcher.watch_dir(settings.home / REQUESTS_DIR, self.loop.poke)
        self.deliverer = Deliverer(secrets=lambda: load_secrets(settings.home),
                                   record=self.store.record_deliveries,
                                   enabled=settings.notifications_on)
        notices = NoticeListener(lambda: self.reconciler.workflow, self.deliverer.submit)
        self.reconciler.finished_listeners.append(notices)
        self.reconciler.started_listeners.append(notices.started)
        self.timers = Timers(add_version=self.reconciler.add_version,
                             latest_version=lambda n: self.store.read_snapshot().versions.get(n),
                             poke=self.loop.poke, default_catchup=settings.time_catchup)

    # --- the network side: git over HTTP, the API, webhooks, upstreams (issue #5) -------

    def _wire_network(self) -> None:
        from controller.reactor.pollers import (
            Pollers,
            RepoPoller,
            UpstreamFollower,
            git_auth_env,
        )

        s = self.settings
        secrets = lambda: load_secrets(s.home)  # noqa: E731
        self._read_lock = threading.Lock()  # one reader store shared by pollers and the API
        self._reader = GitStateStore(s.repo_path, s.state_branch)
        self.repos = RepoPoller(
            s.home / "cache", workflow=lambda: self.reconciler.workflow,
            latest=self._latest_version, add_version=self.reconciler.add_version,
            poke=self.loop.poke, secrets=secrets, default_interval=s.repo_poll_seconds,
            allow_local=s.allow_local_repos)
        upstream = None
        if s.upstream:
            upstream = UpstreamFollower(
                s.repo_path, s.upstream, branch=s.branch, upstream_branch=s.upstream_branch,
                state_branch=s.state_branch, push_state=s.push_state, poke=self.loop.poke,
                allow_local=s.allow_local_repos,
                auth_env=lambda: git_auth_env(
                    s.upstream, secrets().get(s.upstream_secret) if s.upstream_secret else None,
                    s.home / "cache" / "keys"))
        self.pollers = Pollers(upstream=upstream, upstream_seconds=s.upstream_poll_seconds,
                               repos=self.repos)
        self.http = None

    def _latest_version(self, name: str) -> model.Version | None:
        with self._read_lock:
            return self._reader.read_snapshot().versions.get(name)

    def _start_network(self) -> None:
        from controller.server import requestcheck
        from controller.server.httpd import HttpServer, ListenError, ServerLimits, parse_listen

        for noisy in ("apscheduler", "dulwich"):  # a line per poll or request otherwise
            logging.getLogger(noisy).setLevel(max(logging.WARNING, log.getEffectiveLevel()))
        self.pollers.start()
        try:
            address = parse_listen(self.settings.listen)
        except ListenError as err:
            log.error("gitline: %s; HTTP is off", err)
            return
        if address is None:
            return
        try:
            s = self.settings
            body = requestcheck.BodyLimits(
                request=s.max_request_body, fetch=s.max_fetch_body, payload=s.max_payload,
                anonymous_read=s.anonymous_read, allowed_hosts=requestcheck.allowed_hosts(
                    s.allowed_hosts, address[0], s.anonymous_read))
            limits = ServerLimits(threads=s.http_threads, connections=s.http_connections,
                                  timeout=s.http_timeout, body=body)
            self.http = HttpServer(self.http_app(), *address, limits=limits).start()
        except OSError as err:  # the controller still works without HTTP: say so loudly
            log.error("gitline: cannot listen on %s (%s); HTTP is off", self.settings.listen, err)
            return
        log.info("gitline: git, API and webhooks on %s/config.git", self.http.url)

    def _stop_network(self) -> None:
        self.pollers.stop()
        if self.http is not None:
            self.http.stop()

    def http_app(self) -> Any:
        """The WSGI app: token auth in front of git smart HTTP, the API and webhooks."""
        from controller.server.api import ApiApp
        from controller.server.auth import AuthFilter, TokenStore
        from controller.server.gitserver import GitApp
        from controller.server.replays import DELIVERIES_FILE, DeliveryLog

        s = self.settings
        api = ApiApp(_api_services(self), max_payload=s.max_payload,
                     deliveries=DeliveryLog(s.home / DELIVERIES_FILE))
        git = GitApp(s.repo_path, branch=s.branch, state_branch=s.state_branch,
                     on_push=self._pushed, before_push=self._pushing, fallback=api)
        return AuthFilter(git, TokenStore(s.home), anonymous_read=s.anonymous_read)

    def _pushing(self, user: str, updates: list[tuple[str, str, str]]) -> None:
        self.pushes.record(user, [new for _, new, _ in updates])

    def _pushed(self, user: str, updates: list[tuple[str, str, str]]) -> None:
        """post-receive: name the pusher of every pushed commit, then reconcile at once."""
        ref = f"refs/heads/{self.settings.branch}"
        config = ConfigRepo(self.settings.repo_path, self.settings.branch)  # this thread's own
        for old, new, name in updates:
            if name == ref and set(new) != {"0"}:
                commits, _ = config.commits_between(None if set(old) == {"0"} else old, new,
                                                    limit=1000)
                self.pushes.record(user, [c.sha for c in commits])
        log.info("gitline: %s pushed %s", user or "anonymous",
                 ", ".join(f"{n} {new[:7]}" for _, new, n in updates))
        self.loop.poke()

    def _run_pass(self) -> None:
        self.reconciler.run_pass()
        self.store.maintain()  # packs loose objects in the background when they pile up
        self.timers.sync(self.reconciler.workflow)  # schedules follow pushes

    def serve(self, stop: threading.Event) -> None:
        self.watcher.start()
        self.timers.start()
        self.deliverer.start()
        self._start_network()
        log.info("gitline: watching %s (branch %s), state on %s, %d workers",
                 self.settings.repo_path, self.settings.branch, self.settings.state_branch,
                 self.settings.workers)
        try:
            self.loop.run(stop)
        finally:
            self.watcher.stop()
            self.timers.stop()
            self.deliverer.stop()
            self._stop_network()
            self.executor.shutdown(wait=False)


class AttributedConfigRepo(ConfigRepo):
    """The config repository, whose commits name who pushed them over HTTP (if anyone)."""

    def __init__(self, repo_path: Any, branch: str, pushes: PushLog) -> None:
        super().__init__(repo_path, branch)
        self._pushes = pushes

    def commits_between(self, old: str | None, new: str, *,
                        limit: int = MAX_COMMITS) -> tuple[list[CommitInfo], bool]:
        commits, rewritten = super().commits_between(old, new, limit=limit)
        tip = self._pushes.pusher(new)
        return [replace(c, author=attributed(c.author, self._pushes.pusher(c.sha) or tip))
                for c in commits], rewritten


def _api_services(ctl: Controller) -> Any:
    """The API's callables, bound to this controller."""
    from controller.core import triggers
    from controller.server import api

    s = ctl.settings

    def history(name: str, limit: int) -> list[Any]:
        _, store = open_repos(s)
        return list(store.history(name, limit=limit))

    def runs(job: str, limit: int) -> list[dict]:
        entries = [e for e in history(job, limit) if e.run is not None]
        wf = ctl.reconciler.workflow
        if not entries and (wf is None or job not in wf.jobs):
            raise api.NotFound(f"no job {job}")
        return [{**_run_summary(e.run), "commit": e.commit, "when": e.when,
                 "startedAt": e.run.started_at, "params": e.run.params,
                 "message": e.run.message} for e in entries]

    def versions(name: str, limit: int) -> list[dict]:
        entries = [e for e in history(name, limit) if e.version is not None]
        wf = ctl.reconciler.workflow
        if not entries and (wf is None or name not in wf.resources):
            raise api.NotFound(f"no resource {name}")
        return [{"number": e.version.number, "versionName": e.version.name,
                 "values": e.version.values, "createdBy": e.version.created_by,
                 "author": e.version.author, "configCommit": e.version.config_commit,
                 "commit": e.commit, "when": e.when} for e in entries]

    def trigger(job: str, params: dict[str, str], user: str, message: str) -> str:
        wf = ctl.reconciler.workflow
        if triggers.trigger_job(f"triggers/{job}") != job or (wf is not None and
                                                              job not in wf.jobs):
            raise api.NotFound(f"no job {job}")
        text = "".join(f"{k}={v}\n" for k, v in params.items())
        config = ConfigRepo(s.repo_path, s.branch)
        sha = config.commit_file(f"triggers/{job}", f"# API trigger by {user}\n{text}".encode(),
                                 message, user, f"{user}@gitline")
        ctl.pushes.record(user, [sha])
        ctl.loop.poke()
        return sha

    def hook_resource(name: str) -> tuple[str, str]:
        wf = ctl.reconciler.workflow
        res = wf.resources.get(name) if wf else None
        if res is None:
            raise api.NotFound(f"no resource {name}")
        key = str(res.definition.get("secret") or res.integration or "")
        value = load_secrets(s.home).get(key) if key else None
        if isinstance(value, dict):
            value = next((value[f] for f in ("key", "token", "secret", "value") if f in value), "")
        return res.type, value or ""

    def add_hook_version(name: str, payload: Any) -> int:
        version = ctl.reconciler.add_version(name, {"payload": payload}, created_by="webhook")
        ctl.loop.poke()
        return version.number

    def git_hook_secret() -> str:
        name = s.webhook_secret
        secrets = load_secrets(s.home)
        return (lookup_secret(secrets, name) or lookup_secret(secrets, name, "key") or ""
                ) if name else ""

    def status() -> dict:
        return {**read_status(s), **ctl.pollers.status()}

    return api.Services(
        status=status, runs=runs, versions=versions,
        log=lambda job, run: open_repos(s)[1].read_log(job, run), trigger=trigger,
        hook_resource=hook_resource, add_hook_version=add_hook_version,
        git_hook_secret=git_hook_secret, git_pushed=ctl.pollers.pushed)


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
            "waiting": _active_reason(job, hist) if hist.active else waits.get(name),
        }
    return {
        "config": {"processed": snap.processed_commit, "good": snap.good_commit,
                   "problems": record.get("problems", []),
                   "triggerErrors": record.get("triggerErrors", [])},
        "resources": resources,
        "jobs": jobs,
    }


def _active_reason(job: model.Job, hist: model.JobHistory) -> str | None:
    """Why a job's queued or pending runs are not running yet."""
    pending = [r for r in hist.active if r.status == "pending_approval"]
    if pending:
        approvers = ", ".join(job.approval.approvers) if job.approval else ""
        return (f"run {pending[-1].number} is pending approval"
                + (f" by one of: {approvers}" if approvers else "")
                + f"; approve with a commit to approvals/{job.name}")
    running = [r for r in hist.active if r.status == "running"]
    queued = [r for r in hist.active if r.status == "queued"]
    if running and queued and job.trigger_mode == "serial":
        return (f"run {queued[0].number} is queued behind run {running[0].number} "
                "(triggerMode: serial)")
    if queued and not running:
        return f"run {queued[0].number} is queued for a free worker"
    return None


def _run_summary(run: model.Run) -> dict[str, Any]:
    return {"number": run.number, "status": run.status, "cause": str(run.cause),
            "queuedAt": run.queued_at, "finishedAt": run.finished_at,
            "exitCode": run.exit_code, "attempt": run.attempt, "message": run.message,
            "inputs": {i.name: asdict(i)["number"] for i in run.inputs}}
