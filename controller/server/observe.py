"""Health and metrics over HTTP, for load balancers and Prometheus.

- `/healthz`: the process answers (no token). `/readyz`: it watches the repository, its
  last reconcile pass is recent and the state branch is writable (no token; 503 with the
  reason otherwise). Both are JSON and cheap: they read what the controller already holds.
- `/metrics`: the Prometheus text format of `Metrics` (a registry of its own, not the
  process-global one), behind the token filter like any GET (scope `read`).

`Metrics` is fed by the wiring (app.py) from the reconciler's run listeners, the pass
loop and the notice deliverer; this module knows none of them.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping
from datetime import datetime
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

Environ = dict[str, Any]
App = Callable[[Environ, Callable[..., Any]], Iterable[bytes]]

# run durations and waits run from seconds to hours; passes from milliseconds to seconds
_RUN_BUCKETS = (1, 5, 15, 30, 60, 120, 300, 600, 1800, 3600, 7200, float("inf"))
_PASS_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, float("inf"))


def _seconds_between(start: str, end: str) -> float | None:
    try:
        a = datetime.fromisoformat(start.replace("Z", "+00:00"))
        b = datetime.fromisoformat(end.replace("Z", "+00:00"))
    except (AttributeError, ValueError):
        return None
    return max(0.0, (b - a).total_seconds())


class Metrics:
    """What `/metrics` shows; every method is cheap and safe from any thread."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.runs_started = Counter("gitline_runs_started", "Runs that started, by job.",
                                    ["job"], registry=r)
        self.runs_finished = Counter("gitline_runs_finished",
                                     "Runs that ended, by job and status.",
                                     ["job", "status"], registry=r)
        self.run_seconds = Histogram("gitline_run_duration_seconds",
                                     "How long runs took, start to end, by job.", ["job"],
                                     buckets=_RUN_BUCKETS, registry=r)
        self.wait_seconds = Histogram("gitline_run_wait_seconds",
                                      "From a run's queueing (the push, trigger or version "
                                      "that caused it) to its start.",
                                      buckets=_RUN_BUCKETS, registry=r)
        self.versions = Counter("gitline_versions_written",
                                "Resource versions written by runs (outputs) and by the "
                                "controller (webhooks, timers, polled repositories).",
                                ["source"], registry=r)
        self.pass_seconds = Histogram("gitline_reconcile_pass_seconds",
                                      "How long one reconcile pass took.",
                                      buckets=_PASS_BUCKETS, registry=r)
        self.queued = Gauge("gitline_runs_queued", "Runs queued or waiting for approval.",
                            registry=r)
        self.running = Gauge("gitline_runs_running", "Runs running now.", registry=r)
        self.config_good = Gauge("gitline_config_loads",
                                 "1 when the newest pushed workflow loads, 0 when the last "
                                 "good one keeps running because it does not.", registry=r)
        self.notices = Counter("gitline_notifications", "Notices by result (delivered, "
                               "failed, skipped).", ["result"], registry=r)
        self.requests = Counter("gitline_http_requests", "HTTP requests by kind and status.",
                                ["kind", "code"], registry=r)

    # --- fed by the wiring

    def run_started(self, job: str, queued_at: str, started_at: str) -> None:
        self.runs_started.labels(job).inc()
        waited = _seconds_between(queued_at, started_at)
        if waited is not None:
            self.wait_seconds.observe(waited)

    def run_finished(self, job: str, status: str, started_at: str, finished_at: str,
                     outputs: int) -> None:
        self.runs_finished.labels(job, status).inc()
        took = _seconds_between(started_at, finished_at)
        if took is not None:
            self.run_seconds.labels(job).observe(took)
        if outputs:
            self.versions.labels("run").inc(outputs)

    def version_added(self) -> None:
        self.versions.labels("controller").inc()

    def pass_done(self, seconds: float, *, queued: int, running: int, config_loads: bool) -> None:
        self.pass_seconds.observe(seconds)
        self.queued.set(queued)
        self.running.set(running)
        self.config_good.set(1 if config_loads else 0)

    def delivered(self, results: Iterable[Mapping[str, Any]]) -> None:
        for result in results:
            self.notices.labels(str(result.get("status", "unknown"))).inc()

    def render(self) -> bytes:
        return generate_latest(self.registry)


def request_kind(path: str, query: str = "") -> str:
    """A request's kind for the metrics: few values, never the path itself."""
    if path in ("/healthz", "/readyz"):
        return "health"
    if path == "/metrics":
        return "metrics"
    if path.startswith("/hooks/"):
        return "webhook"
    if path.startswith("/api/"):
        return "api"
    if path.endswith(("/info/refs", "/git-upload-pack", "/git-receive-pack")) or \
            "service=git-" in query:
        return "git"
    return "other"


class Observe:
    """WSGI filter in front of everything (the token filter included): answers /healthz
    and /readyz itself, and counts every request by kind and status."""

    def __init__(self, app: App, *, metrics: Metrics,
                 ready: Callable[[], dict[str, Any]]) -> None:
        self.app = app
        self.metrics = metrics
        self.ready = ready

    def __call__(self, environ: Environ, start_response: Callable[..., Any]) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        kind = request_kind(path, environ.get("QUERY_STRING", ""))

        def counted(status: str, headers: list[tuple[str, str]], *rest: Any) -> Any:
            self.metrics.requests.labels(kind, status.split(" ", 1)[0]).inc()
            return start_response(status, headers, *rest)

        if environ.get("REQUEST_METHOD") in ("GET", "HEAD") and path == "/healthz":
            return _json(counted, "200 OK", {"status": "alive"})
        if environ.get("REQUEST_METHOD") in ("GET", "HEAD") and path == "/readyz":
            report = self.ready()
            ok = all(v is True for k, v in report.items() if k != "reasons")
            return _json(counted, "200 OK" if ok else "503 Service Unavailable",
                         {"status": "ready" if ok else "not ready", **report})
        return self.app(environ, counted)


class MetricsApp:
    """WSGI filter behind the token filter: `/metrics` in Prometheus' text format."""

    def __init__(self, app: App, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics

    def __call__(self, environ: Environ, start_response: Callable[..., Any]) -> Iterable[bytes]:
        if environ.get("PATH_INFO") == "/metrics" and \
                environ.get("REQUEST_METHOD") in ("GET", "HEAD"):
            body = self.metrics.render()
            start_response("200 OK", [("Content-Type", CONTENT_TYPE_LATEST),
                                      ("Content-Length", str(len(body)))])
            return [body]
        return self.app(environ, start_response)


def _json(start_response: Callable[..., Any], status: str, body: dict[str, Any]) -> list[bytes]:
    data = (json.dumps(body, sort_keys=True) + "\n").encode()
    start_response(status, [("Content-Type", "application/json"),
                            ("Content-Length", str(len(data)))])
    return [data]
