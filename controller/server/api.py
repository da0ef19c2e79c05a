"""The JSON API and webhook receivers (dulwich's fallback app): HTTP in, handed calls out.

Turns requests into calls on `Services` (callables app.py wires to the service layer,
controller/service/apibind.py) and their results or refusals (core/errors.py) into
JSON. It decides only HTTP matters: routes, status codes, size limits. Authentication
happened in front (auth.AuthFilter sets `gitline.user`); webhooks are checked here with
their own secrets.
See docs/api.md.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from http import HTTPStatus
from pathlib import Path
from typing import Any

from controller.core import model
from controller.core.errors import Invalid, NotFound, Refused
from controller.core.sources import Push
from controller.server import replays, webhooks
from controller.server.auth import PRINCIPAL_KEY, USER_KEY
from controller.server.replays import DeliveryLog
from controller.server.requestcheck import printable

log = logging.getLogger("gitline")

Environ = dict[str, Any]


@dataclass
class Services:
    """What the API may do; each a callable so the API stays free of git and threads."""

    status: Callable[[], dict[str, Any]]
    runs: Callable[[str, int], list[dict[str, Any]]]  # job, limit; NotFound if no such job
    versions: Callable[[str, int], list[dict[str, Any]]]  # resource, limit
    log: Callable[[str, int | None], str | None]  # job, run (None: newest)
    trigger: Callable[[str, dict[str, str], str, str], str]  # job, params, user, message
    # job, decision (approve|reject), reason, the token's Principal -> approval commit sha
    approve: Callable[[str, str, str, Any], str]
    # The controller's answer to a request: {"state": done|waiting|no controller,
    # "message", ...}; Refused when it refuses
    cancel: Callable[[str, str], dict[str, Any]]  # job, user
    replay: Callable[[str, int, str], dict[str, Any]]  # job, run, user
    # A webhook resource's type and secret: (type, secret); NotFound if no such resource.
    hook_resource: Callable[[str], tuple[str, str]]
    add_hook_version: Callable[[str, Any], int]  # resource, payload -> version number
    git_hook_secret: Callable[[], str]
    git_pushed: Callable[[Push], list[str]]  # -> names of what it fetches
    # blob id -> an input file of a run in flight on a worker (None: not offered)
    blob: Callable[[str], bytes | None] = lambda _oid: None
    # job, run -> what its notifications and commit statuses did; NotFound / Absent
    notices: Callable[[str, int], list[dict[str, Any]]] = lambda job, run: []


class Stream(Exception):
    """Ends a request with a stream of Server-Sent Events (a followed log)."""

    def __init__(self, events: Iterable[bytes]) -> None:
        super().__init__("stream")
        self.events = events


class Reply(Exception):
    """Ends a request with this status and JSON body."""

    def __init__(self, status: int, body: Any) -> None:
        super().__init__(status)
        self.status = status
        self.body = body


@dataclass(frozen=True)
class Blob:
    """A body sent as it is (application/octet-stream)."""

    data: bytes


def _error(status: int, message: str) -> Reply:
    return Reply(status, {"error": message})


_ROUTES: list[tuple[str, re.Pattern[str], str]] = [
    ("GET", re.compile(r"^/api/?$"), "index"),
    ("GET", re.compile(r"^/api/status$"), "get_status"),
    ("GET", re.compile(r"^/api/jobs/(?P<job>[^/]+)/runs$"), "get_runs"),
    ("GET", re.compile(r"^/api/jobs/(?P<job>[^/]+)/log$"), "get_log"),
    ("GET", re.compile(r"^/api/jobs/(?P<job>[^/]+)/runs/(?P<run>[0-9]+)/log$"), "get_log"),
    ("GET", re.compile(r"^/api/jobs/(?P<job>[^/]+)/runs/(?P<run>[0-9]+)/notices$"),
     "get_notices"),
    ("POST", re.compile(r"^/api/jobs/(?P<job>[^/]+)/trigger$"), "post_trigger"),
    ("POST", re.compile(r"^/api/jobs/(?P<job>[^/]+)/approve$"), "post_approve"),
    ("POST", re.compile(r"^/api/jobs/(?P<job>[^/]+)/reject$"), "post_reject"),
    ("POST", re.compile(r"^/api/jobs/(?P<job>[^/]+)/cancel$"), "post_cancel"),
    ("POST", re.compile(r"^/api/jobs/(?P<job>[^/]+)/runs/(?P<run>[0-9]+)/replay$"),
     "post_replay"),
    ("GET", re.compile(r"^/api/openapi\.yaml$"), "get_openapi"),
    ("GET", re.compile(r"^/api/resources/(?P<name>[^/]+)/versions$"), "get_versions"),
    ("GET", re.compile(r"^/api/objects/(?P<oid>[0-9a-f]{40})$"), "get_object"),
    ("POST", re.compile(r"^/hooks/git$"), "post_git_hook"),
    ("POST", re.compile(r"^/hooks/(?P<name>[^/]+)$"), "post_resource_hook"),
]


class ApiApp:
    """WSGI app for /api/... and /hooks/...; 404 JSON for anything else."""

    def __init__(self, services: Services, *, max_payload: int = webhooks.MAX_PAYLOAD,
                 deliveries: DeliveryLog | None = None) -> None:
        self.services = services
        # job, run, offset -> SSE events of its log as it grows; None while no stream slot is
        # free. Set by the wiring (the web view's LogStreams), else following is refused.
        self.follow_log: Callable[[str, int, int], Iterable[bytes] | None] | None = None
        self.max_payload = max_payload
        self.deliveries = deliveries  # signed deliveries seen before (None: not checked)

    def __call__(self, environ: Environ, start_response: Callable[..., Any]) -> Iterable[bytes]:
        try:
            status, body = self._dispatch(environ)
        except Stream as stream:
            start_response("200 OK", [("Content-Type", "text/event-stream"),
                                      ("Cache-Control", "no-store"), ("X-Accel-Buffering", "no")])
            return stream.events
        except Reply as reply:
            status, body = reply.status, reply.body
        except (NotFound, Invalid, Refused) as err:  # the service layer's refusals
            status, body = _status_of(err), {"error": str(err) or "not found"}
        except Exception:
            log.exception("API %s %s failed", printable(environ.get("REQUEST_METHOD", "")),
                          printable(environ.get("PATH_INFO", "")))
            status, body = 500, {"error": "internal error; see the controller log"}
        if isinstance(body, Blob):
            data, ctype = body.data, "application/octet-stream"
        elif isinstance(body, bytes):  # the OpenAPI description
            data, ctype = body, "application/yaml"
        elif isinstance(body, str):
            data, ctype = body.encode(), "text/plain; charset=utf-8"
        else:
            data, ctype = _json(body), "application/json"
        start_response(f"{status} {HTTPStatus(status).phrase}",
                       [("Content-Type", ctype), ("Content-Length", str(len(data)))])
        return [data]

    def _dispatch(self, environ: Environ) -> tuple[int, Any]:
        method = environ.get("REQUEST_METHOD", "GET")
        path = environ.get("PATH_INFO", "")
        allowed = []
        for route_method, pattern, handler in _ROUTES:
            m = pattern.fullmatch(path)
            if m is None:
                continue
            if route_method != method:
                allowed.append(route_method)
                continue
            names = m.groupdict()
            for key, value in names.items():
                if key != "run" and not model.is_safe_name(value):
                    raise Invalid(f"invalid {key} name {printable(value)!r}: letters, digits, "
                                  "_ . - only")
            answer: tuple[int, Any] = getattr(self, handler)(environ, **names)
            return answer
        if allowed:
            raise _error(405, f"{method} {path}: use {', '.join(allowed)}")
        raise _error(404, f"no such endpoint: {method} {path} (see GET /api)")

    # --- reading ------------------------------------------------------------------------

    def index(self, environ: Environ) -> tuple[int, Any]:
        return 200, {"endpoints": [f"{m} {p.pattern.strip('^$')}" for m, p, _ in _ROUTES],
                     "user": environ.get(USER_KEY, "")}

    def get_status(self, environ: Environ) -> tuple[int, Any]:
        return 200, self.services.status()

    def get_runs(self, environ: Environ, job: str) -> tuple[int, Any]:
        return 200, {"job": job, "runs": self.services.runs(job, _limit(environ))}

    def get_notices(self, environ: Environ, job: str, run: str) -> tuple[int, Any]:
        return 200, {"job": job, "run": int(run),
                     "notices": self.services.notices(job, int(run))}

    def get_versions(self, environ: Environ, name: str) -> tuple[int, Any]:
        return 200, {"resource": name, "versions": self.services.versions(name, _limit(environ))}

    def get_log(self, environ: Environ, job: str, run: str | None = None) -> tuple[int, Any]:
        query = _query(environ)
        if query.get("follow", "0") not in ("", "0", "false"):
            self._follow(job, run, query.get("offset", "0"))
        text = self.services.log(job, int(run) if run else None)
        if text is None:
            raise NotFound(f"no log for {job}" + (f" run {run}" if run else ""))
        return 200, text

    def _follow(self, job: str, run: str | None, offset: str) -> None:
        """Raise the Stream of a run's log, live while it runs, then `end` with its status."""
        if run is None:
            raise Invalid(f"follow names a run: /api/jobs/{job}/runs/<n>/log?follow=1")
        if self.follow_log is None:
            raise _error(501, "this server does not stream logs")
        self.services.runs(job, 1)  # NotFound for a job that does not exist
        try:
            start = max(0, int(offset or 0))
        except ValueError as err:
            raise Invalid(f"offset must be a number, not {printable(offset)!r}") from err
        events = self.follow_log(job, int(run), start)
        if events is None:
            raise _error(503, "too many logs are followed at once; retry shortly")
        raise Stream(events)

    def get_object(self, environ: Environ, oid: str) -> tuple[int, Any]:
        """An input file too big for a task message, to a worker token (auth.py), only
        while a run that refers to it is in flight (execution/bigfiles.py)."""
        data = self.services.blob(oid)
        if data is None:
            raise _error(404, f"object {oid} is not an input of a run in flight")
        return 200, Blob(data)

    def get_openapi(self, environ: Environ) -> tuple[int, Any]:
        return 200, openapi_text()

    # --- writing ------------------------------------------------------------------------

    def post_approve(self, environ: Environ, job: str, decision: str = "approve"
                     ) -> tuple[int, Any]:
        data = self._object(environ)
        reason = str(data.get("reason") or data.get("message") or "")
        principal = environ.get(PRINCIPAL_KEY)
        sha = self.services.approve(job, decision, reason, principal)
        return 202, {"job": job, "decision": decision, "commit": sha,
                     "path": f"approvals/{job}"}

    def post_reject(self, environ: Environ, job: str) -> tuple[int, Any]:
        return self.post_approve(environ, job, "reject")

    def post_cancel(self, environ: Environ, job: str) -> tuple[int, Any]:
        return _answered(job, self.services.cancel(job, _user(environ)))

    def post_replay(self, environ: Environ, job: str, run: str) -> tuple[int, Any]:
        return _answered(job, self.services.replay(job, int(run), _user(environ)))

    def post_trigger(self, environ: Environ, job: str) -> tuple[int, Any]:
        body = self._body(environ)
        data = webhooks.parse_json(body) if body.strip() else {}
        if not isinstance(data, dict):
            raise Invalid("the body must be a JSON object: {\"params\": {...}}")
        params = data.get("params") or {}
        if not isinstance(params, dict) or not all(
                isinstance(k, str) and k.isidentifier() for k in params):
            raise Invalid("params must map variable names to values")
        user = environ.get(USER_KEY, "") or "anonymous"
        message = str(data.get("message") or f"trigger {job} (API, {user})")
        sha = self.services.trigger(job, {k: str(v) for k, v in params.items()}, user, message)
        return 202, {"job": job, "commit": sha, "path": f"triggers/{job}"}

    def post_resource_hook(self, environ: Environ, name: str) -> tuple[int, Any]:
        rtype, secret = self.services.hook_resource(name)
        if rtype != "webhook":
            raise NotFound(f"{name} is not a webhook resource")
        if not secret:
            raise _error(403, f"{name} has no secret key configured; it accepts no calls")
        body = self._body(environ)
        how = webhooks.resource_hook_auth(_headers(environ), body, secret)
        if not how:
            raise _error(401, "missing or wrong webhook key or signature")
        try:
            payload = webhooks.parse_json(body)
        except webhooks.PayloadError as err:
            raise Invalid(str(err)) from err
        with self._once(name, body, signed=how == "signature"):
            number = self.services.add_hook_version(name, payload)
        return 202, {"resource": name, "version": number}

    @contextmanager
    def _once(self, where: str, body: bytes, *, signed: bool) -> Iterator[None]:
        """409 for a signed delivery seen before; forgets this one if handling it fails."""
        if not signed or self.deliveries is None:
            yield
            return
        key = replays.delivery_key(where, body)
        seen = self.deliveries.first_time(key)
        if seen is not None:
            when = datetime.fromtimestamp(seen, UTC).isoformat(timespec="seconds")
            raise _error(409, f"this signed delivery was received already ({when}); "
                              "a replay makes no new version")
        try:
            yield
        except BaseException:
            self.deliveries.forget(key)
            raise

    def post_git_hook(self, environ: Environ) -> tuple[int, Any]:
        secret = self.services.git_hook_secret()
        if not secret:
            raise _error(403, "git webhooks are off: set webhook_secret in gitline.yml")
        body = self._body(environ)
        headers = _headers(environ)
        if not webhooks.git_provider(headers):
            raise Invalid("not a GitHub, GitLab or Gitea push webhook")
        if not webhooks.verify_git_hook(headers, body, secret):
            raise _error(401, "missing or wrong webhook signature or token")
        event = headers.get("x-github-event") or headers.get("x-gitea-event") or \
            headers.get("x-gitlab-event", "")
        if event.lower() in ("ping",):
            return 200, {"pong": True}
        try:
            push = webhooks.parse_push(headers, webhooks.parse_json(body))
        except webhooks.PayloadError as err:
            raise Invalid(str(err)) from err
        with self._once("git", body, signed=webhooks.git_provider(headers) != "gitlab"):
            fetching = self.services.git_pushed(push)
        return 202, {"fetching": fetching}

    def _object(self, environ: Environ) -> dict[str, Any]:
        """The body as a JSON object ({} when empty)."""
        body = self._body(environ)
        try:
            data = webhooks.parse_json(body) if body.strip() else {}
        except webhooks.PayloadError as err:
            raise Invalid(str(err)) from err
        if not isinstance(data, dict):
            raise Invalid("the body must be a JSON object")
        return data

    def _body(self, environ: Environ) -> bytes:
        try:
            length = int(environ.get("CONTENT_LENGTH") or 0)
        except ValueError:
            length = 0
        if length > self.max_payload:
            raise _error(413, f"payload too large: {length} bytes (limit {self.max_payload})")
        stream = environ.get("wsgi.input")
        if not length or stream is None:
            return b""  # no Content-Length: reading would wait for a body that never ends
        data: bytes = stream.read(length)
        return data


def _user(environ: Environ) -> str:
    return environ.get(USER_KEY, "") or "anonymous"


_STATES = {"done": 200, "waiting": 202, "no controller": 202}


def _answered(job: str, answer: dict[str, Any]) -> tuple[int, Any]:
    """A request's answer: 200 done, 202 not answered yet, 409 refused by the controller."""
    state = answer.get("state", "")
    if state == "refused":
        raise Refused(answer.get("message", "refused"))
    return _STATES.get(state, 202), {"job": job, **answer}


def _status_of(err: Exception) -> int:
    """core/errors.py's refusals as HTTP statuses: the one place they are mapped."""
    return 404 if isinstance(err, NotFound) else 400 if isinstance(err, Invalid) else 409


def openapi_text() -> bytes:
    """docs/openapi.yaml, shipped inside the package (docs/ links to it)."""
    return (Path(__file__).with_name("openapi.yaml")).read_bytes()


def _headers(environ: Environ) -> dict[str, str]:
    out = {k[5:].replace("_", "-").lower(): v for k, v in environ.items()
           if k.startswith("HTTP_")}
    if environ.get("CONTENT_TYPE"):
        out["content-type"] = environ["CONTENT_TYPE"]
    return out


def _json(body: Any) -> bytes:
    """JSON indented for people reading it with curl, unless large: the indenting encoder
    is pure Python, four times slower than the compact one (100 ms for a 5,000-job
    status)."""
    text = json.dumps(body)
    if len(text) < 256 * 1024:
        text = json.dumps(body, indent=2)
    return (text + "\n").encode()


def _query(environ: Environ) -> dict[str, str]:
    """The query string's parameters (the first value of each)."""
    from urllib.parse import parse_qs

    return {k: v[0] for k, v in parse_qs(environ.get("QUERY_STRING", ""),
                                         keep_blank_values=True).items()}


def _limit(environ: Environ) -> int:
    raw = _query(environ).get("limit", "20")
    try:
        return max(1, min(int(raw), 1000))
    except ValueError as err:
        raise Invalid(f"limit must be a number, not {raw!r}") from err
