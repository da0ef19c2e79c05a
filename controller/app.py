"""Wiring: builds the controller's parts from Settings. The only module that imports every edge."""

from __future__ import annotations

import logging
import threading
import time
from typing import TYPE_CHECKING, Any

from controller.core import model
from controller.core.runspec import Outcome, RunSpec
from controller.execution.executor import Executor
from controller.execution.local import LocalExecutor, now_iso
from controller.execution.sandbox import Sandbox
from controller.execution.sandbox import find as find_sandbox
from controller.notify.commitstatus import StatusPoster
from controller.notify.delivery import Deliverer
from controller.notify.listener import NoticeListener
from controller.pushanswer import Answerer
from controller.reactor.identity import Identifier
from controller.reactor.loop import Loop
from controller.reactor.reconcile import Reconciler
from controller.reactor.requestfiles import REQUESTS_DIR
from controller.reactor.timers import Timers
from controller.reactor.watcher import RefWatcher
from controller.secrets import Secret, load_secrets
from controller.secrets import find as find_secret
from controller.server.observe import Metrics
from controller.service.health import readiness
from controller.service.repos import open_repos
from controller.settings import Settings, SettingsError
from controller.store.attributed import AttributedConfigRepo, record_pushed
from controller.store.configrepo import ConfigRepo
from controller.store.pushlog import PushLog, token_pusher
from controller.store.repoinit import install_hook
from controller.store.subscription import Subscription

if TYPE_CHECKING:  # imported when serving (startup cost)
    from controller.server.httpd import HttpServer

log = logging.getLogger("gitline")


def make_executor(settings: Settings) -> Executor:
    """Local threads, or Celery workers (`executor: celery`; celery is imported only then)."""
    if settings.executor == "celery":
        from controller.core.remotes import sanitize_url
        from controller.execution import sealing
        from controller.execution.celery_executor import CeleryExecutor

        key = sealing.home_key(settings.home)
        log.info("gitline: runs go to Celery workers through %s (default queue %s), sealed "
                 "with %s (give it to workers: gitline worker --key-file)",
                 sanitize_url(settings.broker_url), settings.default_queue,
                 settings.home / sealing.KEY_FILE)
        log.info("gitline: sandbox: each worker's (gitline worker --sandbox, default bwrap)")
        return CeleryExecutor(settings.broker_url, key=key, default_queue=settings.default_queue,
                              lost_after=settings.worker_lost_seconds,
                              live_logs=settings.work_root)
    return LocalExecutor(settings.work_root, workers=settings.workers, box=job_sandbox(settings))


def _say_unscoped_secrets(settings: Settings) -> None:
    """One line at start naming the secrets that any job may ask for (no scope)."""
    try:
        secrets = load_secrets(settings.home)
    except Exception:  # noqa: BLE001 - an unsafe file is said where a run needs it
        return
    unscoped = sorted(name for name, secret in secrets.items() if secret.scope.is_global)
    if unscoped:
        log.warning("gitline: secrets.yml: %d secret(s) reach any job or resource that names "
                    "them (no jobs:/resources: scope): %s", len(unscoped), ", ".join(unscoped))


def job_sandbox(settings: Settings) -> Sandbox:
    """The sandbox of local runs, checked to work here (SandboxError says why not)."""
    box = find_sandbox(settings.sandbox.strip().lower(), settings.sandbox_bwrap,
                       settings.sandbox_binds, hide=(str(settings.home),))
    log.info("gitline: sandbox: %s", box.describe())
    return box


class Controller:
    """The running controller: watcher -> loop -> reconcile passes -> executor."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.metrics = Metrics()
        self.last_pass = 0.0  # time.monotonic() of the last pass that ended, for /readyz
        self.config, self.store = open_repos(settings)
        self.pushes = PushLog(settings.home, settings.pushes_rotate_lines,
                              settings.pushes_rotated_kept)  # who pushed, for runs' causes
        self._services: Any = None  # the API's services (one kept status), made once
        self.config = AttributedConfigRepo(settings.repo_path, settings.branch, self.pushes)
        self.executor = make_executor(settings)
        self.loop = Loop(self._run_pass, settings.poll_seconds)
        self.identity = Identifier(settings.home, settings.repo_path, self.pushes,
                                   settings.local_user_map)
        install_hook(settings.repo_path, settings.branch, settings.state_branch,
                     upstream=bool(settings.upstream) and not settings.allow_push_with_upstream)
        # config.git and the other repositories (self.sources keeps them), as one workflow
        self.subscription = Subscription(self.config, main_name=settings.name)
        self.reconciler = Reconciler(
            self.config, self.store, self.executor, poke=self.loop.poke,
            job_env=settings.job_env(), secrets=lambda: load_secrets(settings.home),
            requests_dir=settings.home / REQUESTS_DIR, identity=self.identity,
            checkout=lambda res, version: self.repos.checkout(res, version),
            default_timeout_minutes=settings.default_timeout_minutes,
            subscription=self.subscription)
        self._wire_network()
        self.watcher = RefWatcher(settings.repo_path, self.loop.poke,
                                  ignore_refs=(f"refs/heads/{settings.state_branch}",
                                               "refs/gitline/"),
                                  fast_ref=f"refs/heads/{settings.branch}")
        self.watcher.watch_dir(settings.home / REQUESTS_DIR, self.loop.poke)
        self.deliverer = Deliverer(secrets=lambda: load_secrets(settings.home),
                                   record=self._record_deliveries,
                                   enabled=settings.notifications_on)
        notices = NoticeListener(lambda: self.reconciler.workflow, self.deliverer.submit)
        self.reconciler.finished_listeners.append(notices)
        self.reconciler.started_listeners.append(notices.started)
        self.statuses = StatusPoster(lambda: self.reconciler.workflow,
                                     secrets=lambda: load_secrets(settings.home),
                                     record=self._record_deliveries, web_url=settings.web_url,
                                     targets=self.sources.status_targets)
        self.reconciler.finished_listeners.append(self.statuses)
        self.reconciler.started_listeners.append(self.statuses.started)
        self.reconciler.finished_listeners.append(self._run_finished)
        self.reconciler.started_listeners.append(self._run_started)
        self.timers = Timers(add_version=self.add_version,
                             latest_version=self._latest_version,
                             poke=self.loop.poke, default_catchup=settings.time_catchup)

    # --- the network side: git over HTTP, the API, webhooks, upstreams (issue #5) -------

    def _wire_network(self) -> None:
        from controller.reactor.pollers import Pollers
        from controller.reactor.repopoller import RepoPoller
        from controller.reactor.upstream import UpstreamFollower
        from controller.store.remote import git_auth_env

        s = self.settings
        def secrets() -> dict[str, Secret]:
            return load_secrets(s.home)

        self.repos = RepoPoller(
            s.home / "cache", workflow=lambda: self.reconciler.workflow,
            latest=self._latest_version, add_version=self.add_version,
            poke=self.loop.poke, secrets=secrets, default_interval=s.repo_poll_seconds,
            allow_local=s.allow_local_repos)
        upstream = None
        if s.upstream:
            upstream = UpstreamFollower(
                s.repo_path, s.upstream, branch=s.branch, upstream_branch=s.upstream_branch,
                state_branch=s.state_branch, push_state=s.push_state, poke=self.loop.poke,
                allow_local=s.allow_local_repos,
                auth_env=lambda: git_auth_env(
                    s.upstream, find_secret(secrets(), s.upstream_secret),
                    s.home / "cache" / "keys"))
        self.pollers = Pollers(upstream=upstream, upstream_seconds=s.upstream_poll_seconds,
                               repos=self.repos)
        self._wire_sources()
        self.http: HttpServer | None = None
        self.answers: Any = None  # HOME/answers.sock, once serving
        self.answerer = Answerer(s.repo_path, branch=s.branch, state_branch=s.state_branch,
                                 settings=s, cache=self.reconciler.intake.files,
                                 store=self.store)

    def _wire_sources(self) -> None:
        """The other repositories of the subscription (issue #14), kept in step with
        gitline.yml: their readers, watchers, git server entries and followers."""
        from controller.reactor.sourceset import SourceSet
        from controller.reactor.upstream import UpstreamFollower
        from controller.store.remote import git_auth_env

        s = self.settings

        def follower(src: Any) -> UpstreamFollower:
            def auth() -> dict[str, str]:
                return git_auth_env(src.upstream, find_secret(load_secrets(s.home), src.secret),
                                    s.home / "cache" / "keys")
            return UpstreamFollower(
                s.source_path(src.name), src.upstream, branch=src.branch or s.branch,
                upstream_branch=src.upstream_branch, state_branch=s.state_branch,
                push_state=False, poke=self.loop.poke, allow_local=s.allow_local_repos,
                auth_env=auth)

        self.sources = SourceSet(
            s, self.subscription, self.loop.poke, follower=follower,
            on_follow=lambda src, f: self.pollers.add_source(
                src.name, f, src.poll_seconds or s.upstream_poll_seconds),
            on_unfollow=self.pollers.drop_source)

    def _latest_version(self, name: str) -> model.Version | None:
        return self.store.read_snapshot().versions.get(name)  # kept by the store: no read

    def _start_network(self) -> None:
        from controller.server import requestcheck
        from controller.server.httpd import HttpServer, ListenError, ServerLimits, parse_listen

        for noisy in ("apscheduler", "dulwich"):  # a line per poll or request otherwise
            logging.getLogger(noisy).setLevel(max(logging.WARNING, log.getEffectiveLevel()))
        self.pollers.start()
        self._start_answers()
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

    def _start_answers(self) -> None:
        """HOME/answers.sock: pushes by path are answered here, not by a new process."""
        from controller.server.answers import SOCKET_NAME, AnswerSocket

        threading.Thread(target=self.answerer.warm, name="gitline-warm", daemon=True).start()
        try:
            self.answers = AnswerSocket(self.settings.home / SOCKET_NAME,
                                        self._answer_hook).start()
        except OSError as err:  # the hook then plans by itself: slower, the same answer
            log.warning("gitline: cannot listen on %s (%s); pushes by path are answered "
                        "by the hook itself", self.settings.home / SOCKET_NAME, err)

    def _answer_hook(self, request: dict[str, Any]) -> dict[str, Any]:
        if request.get("ask") == "status":  # `gitline status`: what this controller holds
            return {"status": self._api_services().status()}
        if request.get("ask") == "sources":  # `gitline repo add`: take gitline.yml in now
            self.loop.poke()
            return {"taken": self.sources.taken_in(10.0), "sources": sorted(self.sources.git)}
        new, started = str(request["new"]), time.monotonic()
        lines, refuse = self.answerer(str(request["old"]), new,
                                      reject_invalid=self._reject_invalid(),
                                      objects=request.get("objects") or None,
                                      source=str(request.get("source") or ""))
        log.info("gitline: answered the push of %s by path in %.0f ms: %s", new[:7],
                 (time.monotonic() - started) * 1000,
                 "refused (reject_invalid)" if refuse else lines[0].removeprefix("gitline: "))
        return {"lines": lines, "refuse": refuse}

    def _reject_invalid(self) -> bool:
        try:  # read at each push, as the pre-receive hook's own answer does
            return Settings.load(self.settings.home).reject_invalid
        except SettingsError:
            return self.settings.reject_invalid

    def _stop_network(self) -> None:
        if self.answers is not None:
            self.answers.stop()
        self.pollers.stop()
        if self.http is not None:
            self.http.stop()

    def http_app(self) -> Any:
        """The WSGI app: the web view's pages, and token auth in front of git smart HTTP,
        the API and webhooks."""
        from controller.server.api import ApiApp
        from controller.server.auth import AuthFilter, TokenStore
        from controller.server.gitserver import GitApp
        from controller.server.observe import MetricsApp, Observe
        from controller.server.replays import DELIVERIES_FILE, DeliveryLog
        from controller.server.web.webapp import WebApp
        from controller.service.webdata import web_data

        s = self.settings
        api = ApiApp(self._api_services(), max_payload=s.max_payload,
                     deliveries=DeliveryLog(s.home / DELIVERIES_FILE))
        git = GitApp(s.repo_path, branch=s.branch, state_branch=s.state_branch,
                     on_push=self._pushed, before_push=self._pushing, landing=self._landing,
                     fallback=api,
                     answer=self._answer, upstream=bool(s.upstream),
                     allow_push_with_upstream=s.allow_push_with_upstream,
                     sources=self.sources.git, on_source_push=self._source_pushed)
        tokens = TokenStore(s.home)
        if tokens.legacy():
            log.warning("gitline: tokens from before scopes (%s) still work with read, push "
                        "and trigger; re-issue them: gitline token remove/add",
                        ", ".join(tokens.legacy()))
        guarded = AuthFilter(MetricsApp(git, self.metrics), tokens,
                             anonymous_read=s.anonymous_read)
        data = web_data(s, lambda: self.reconciler.workflow, self.pushes.pusher, api.services,
                        self.store)
        web = WebApp(data, guarded, principal=tokens.principal,
                     anonymous_read=s.anonymous_read, max_streams=max(1, s.http_threads // 2))
        api.follow_log = web.streams.open  # one bound on followed logs, pages and API alike
        return Observe(web, metrics=self.metrics, ready=self.readiness)

    def _api_services(self) -> Any:
        """The API's callables: the service layer, bound to this controller's parts (one
        set, shared by the HTTP API and `gitline status` through HOME/answers.sock)."""
        if self._services is None:
            self._services = self._bind_services()
        return self._services

    def _bind_services(self) -> Any:
        from controller.service.apibind import Running, api_services

        services = api_services(Running(
            self.settings, workflow=lambda: self.reconciler.workflow, poke=self.loop.poke,
            record_pusher=self.pushes.record, poller_status=self.pollers.status,
            git_pushed=self.pollers.pushed, add_version=self.add_version, store=self.store))
        offers = getattr(self.executor, "offers", None)  # a Celery executor's big inputs
        if offers is not None:
            services.blob = offers.get
        return services

    def _pushing(self, principal: Any, updates: list[tuple[str, str, str]]) -> None:
        self.pushes.record(token_pusher(principal), [new for _, new, _ in updates])

    def _answer(self, principal: Any, old: str, new: str,
                source: str = "") -> tuple[list[str], bool]:
        """The lines that answer a push over HTTP, and whether it is refused (the hook's);
        `source`: the push is to that source of the subscription."""
        from controller.core.approvals import Identity

        who = Identity(principal.name, principal.email, "token") \
            if principal.name and principal.may("approve") else None
        return self.answerer(old, new, reject_invalid=self._reject_invalid(), identity=who,
                             source=source)

    def _landing(self, principal: Any, updates: list[tuple[str, str, str]]) -> None:
        """update, once a push of the config branch is accepted and before its ref moves:
        name the pusher of every commit it brings (not beside the pass its move starts)."""
        record_pushed(ConfigRepo(self.settings.repo_path, self.settings.branch),  # this thread's
                      self.pushes, token_pusher(principal), updates)

    def _pushed(self, principal: Any, updates: list[tuple[str, str, str]]) -> None:
        """post-receive: the push landed; reconcile at once."""
        user = principal.name
        log.info("gitline: %s pushed %s", user or "anonymous",
                 ", ".join(f"{n} {new[:7]}" for _, new, n in updates))
        self.loop.poke()

    def _source_pushed(self, principal: Any, updates: list[tuple[str, str, str]]) -> None:
        """A push to another source of the subscription: reconcile at once."""
        log.info("gitline: %s pushed %s", principal.name or "anonymous",
                 ", ".join(f"{n} {new[:7]}" for _, new, n in updates))
        self.loop.poke()

    def _run_pass(self) -> None:
        began = time.monotonic()
        self.sources.refresh()  # gitline.yml's sources changed (`gitline repo add`)
        self.answerer.settings = self.sources.current  # pushes are answered with them
        self.reconciler.run_pass()
        self.store.maintain()  # packs loose objects in the background when they pile up
        self.timers.sync(self.reconciler.workflow)  # schedules follow pushes
        self.last_pass = time.monotonic()
        snap = self.store.read_snapshot()  # cached by the store: the pass just read it
        active = [r for h in snap.jobs.values() for r in h.active]
        self.metrics.pass_done(self.last_pass - began,
                               queued=sum(r.status != "running" for r in active),
                               running=sum(r.status == "running" for r in active),
                               config_loads=snap.processed_commit == snap.good_commit)

    # --- what the metrics and /readyz are told --------------------------------------------

    def add_version(self, resource: str, values: dict[str, Any], **kw: Any) -> model.Version:
        """A version from outside a run (webhook, timer, polled repository), counted."""
        version = self.reconciler.add_version(resource, values, **kw)
        self.metrics.version_added()
        return version

    def _run_started(self, spec: RunSpec) -> None:
        self.metrics.run_started(spec.job.name, spec.run.queued_at, now_iso())

    def _run_finished(self, spec: RunSpec, outcome: Outcome) -> None:
        self.metrics.run_finished(spec.job.name, outcome.status, outcome.started_at,
                                  outcome.finished_at, len(outcome.outputs))

    def _record_deliveries(self, job: str, run: int, results: list[dict[str, Any]]) -> None:
        self.metrics.delivered(results)
        self.store.record_deliveries(job, run, results)

    def readiness(self) -> dict[str, Any]:
        """/readyz: watching, a recent pass, a writable state branch (and why not)."""
        return readiness(self.settings, watching=self.watcher.alive, last_pass=self.last_pass)

    def serve(self, stop: threading.Event) -> None:
        self.watcher.start()
        self.sources.start()
        self.timers.start()
        self.deliverer.start()
        self.statuses.start()
        self._start_network()
        log.info("gitline: watching %s (branch %s), state on %s, %d workers",
                 self.settings.repo_path, self.settings.branch, self.settings.state_branch,
                 self.settings.workers)
        _say_unscoped_secrets(self.settings)
        try:
            self.loop.run(stop)
        finally:
            self.watcher.stop()
            self.sources.stop()
            self.timers.stop()
            self.deliverer.stop()
            self.statuses.stop()
            self._stop_network()
            self.executor.shutdown(wait=False)
