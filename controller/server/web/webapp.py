"""The web view's WSGI app, in front of the token filter: pages for browsers, the rest
(git, /api, /hooks, /metrics) passed on untouched.

Who a browser is comes from its session cookie (session.py), never from a token in a
header; without one, pages are read as anonymous when `anonymous_read` is on, else the
browser is sent to /login. Every POST needs the session's CSRF token (403 without it).
An action needs the scope the same API call needs (auth.required_scope) and goes through
the API's own callables, with the signed-in token's name and principal, as the API does.
"""

from __future__ import annotations

import json
import logging
import re
import secrets
from collections.abc import Callable, Iterable
from http import HTTPStatus
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, quote

import jinja2

from controller.core import model
from controller.core.errors import Invalid, ServiceError
from controller.server.auth import ANONYMOUS, Principal, required_scope
from controller.server.web import linegraph, views
from controller.server.web.data import WebData
from controller.server.web.livelog import LogStreams
from controller.server.web.script import SCRIPT
from controller.server.web.session import Session, Sessions, csrf_ok, set_cookie

log = logging.getLogger("gitline.web")

Environ = dict[str, Any]
StartResponse = Callable[..., Any]
App = Callable[[Environ, StartResponse], Iterable[bytes]]
MAX_FORM = 64 * 1024
_NAME = r"(?P<name>[^/]+)"
_PAGES = re.compile(r"^/(|config|login|logout|web/tip|(jobs|resources|commits)/.*)$")
_ACTIONS = {"trigger": "trigger", "approve": "approve", "cancel": "cancel"}
_ROUTES: list[tuple[str, re.Pattern[str], str]] = [
    ("GET", re.compile(r"^/$"), "line"),
    ("GET", re.compile(r"^/config$"), "config"),
    ("GET", re.compile(r"^/web/tip$"), "tip"),
    ("GET", re.compile(r"^/login$"), "login_form"),
    ("POST", re.compile(r"^/login$"), "login"),
    ("POST", re.compile(r"^/logout$"), "logout"),
    ("GET", re.compile(rf"^/jobs/{_NAME}$"), "job"),
    ("GET", re.compile(rf"^/jobs/{_NAME}/runs/(?P<number>[0-9]+)$"), "run"),
    ("GET", re.compile(rf"^/jobs/{_NAME}/runs/(?P<number>[0-9]+)/log/stream$"), "stream"),
    ("POST", re.compile(rf"^/jobs/{_NAME}/(?P<action>trigger|approve|cancel)$"), "act"),
    ("POST", re.compile(rf"^/jobs/{_NAME}/runs/(?P<number>[0-9]+)/replay$"), "replay"),
    ("GET", re.compile(rf"^/resources/{_NAME}$"), "resource"),
    ("GET", re.compile(r"^/commits/(?P<sha>[0-9a-f]{40})$"), "commit"),
]


class Page(Exception):
    """Ends a request with this status and a short page (or a redirect with `location`)."""

    def __init__(self, status: int, message: str = "", location: str = "") -> None:
        super().__init__(message)
        self.status, self.message, self.location = status, message, location


class Request:
    """One request: its environ, session, principal, and the headers to add."""

    def __init__(self, environ: Environ, session: Session | None,
                 principal: Principal | None) -> None:
        self.environ = environ
        self.session = session
        self.principal = principal
        self.headers: list[tuple[str, str]] = []
        self.nonce = secrets.token_urlsafe(12)
        self._form: dict[str, str] | None = None
        self.tip = ""  # the state tip before the page read anything (its data-tip)

    @property
    def path(self) -> str:
        return str(self.environ.get("PATH_INFO", ""))

    def form(self) -> dict[str, str]:
        if self._form is None:
            try:
                length = int(self.environ.get("CONTENT_LENGTH") or 0)
            except ValueError:
                length = 0
            if length > MAX_FORM:
                raise Page(413, f"form too large ({length} bytes)")
            stream = self.environ.get("wsgi.input")
            body = stream.read(length) if length and stream is not None else b""
            parsed = parse_qs(body.decode("utf-8", "replace"), keep_blank_values=True)
            self._form = {k: v[0] for k, v in parsed.items()}
        return self._form

    def query(self, key: str) -> str:
        return parse_qs(str(self.environ.get("QUERY_STRING", ""))).get(key, [""])[0]


def is_page(path: str) -> bool:
    """True for the web view's paths (never /api, /hooks, git, /metrics, /healthz)."""
    return bool(_PAGES.match(path))


class WebApp:
    """Pages on their paths, `fallback` (the token filter and what it guards) elsewhere."""

    def __init__(self, data: WebData, fallback: App, *,
                 principal: Callable[[str], Principal | None], anonymous_read: bool = False,
                 max_streams: int = 4) -> None:
        self.data = data
        self.fallback = fallback
        self.sessions = Sessions(principal)
        self.anonymous_read = anonymous_read
        self.streams = LogStreams(data, max_streams)
        self.svgs = linegraph.SvgCache()
        self.templates = jinja2.Environment(
            loader=jinja2.FileSystemLoader(Path(__file__).with_name("templates")),
            autoescape=True, undefined=jinja2.StrictUndefined)

    def __call__(self, environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        if not is_page(str(environ.get("PATH_INFO", ""))):
            return self.fallback(environ, start_response)
        session = self.sessions.get(environ)
        req = Request(environ, session, self.sessions.principal(session))
        # read first: a change after it makes the page's data-tip stale, so it refreshes;
        # only for who may read the line (a signed-out page names no state commit)
        req.tip = self._tip() if self._may_see(req) else ""
        try:
            return self._dispatch(req, start_response)
        except Page as page:
            if page.location:
                return self._respond(req, start_response, page.status, b"",
                                     [("Location", page.location)])
            return self._html(req, start_response, "message.html", {
                "title": HTTPStatus(page.status).phrase, "message": page.message},
                status=page.status)

    # --- plumbing --------------------------------------------------------------------------

    def _dispatch(self, req: Request, start_response: StartResponse) -> Iterable[bytes]:
        method = str(req.environ.get("REQUEST_METHOD", "GET"))
        method = "GET" if method == "HEAD" else method
        for route_method, pattern, handler in _ROUTES:
            m = pattern.match(req.path)
            if m is None:
                continue
            if route_method != method:
                continue
            args = m.groupdict()
            if "name" in args and not model.is_safe_name(args["name"]):
                raise Page(404, "no such job or resource")
            if method == "POST" and not csrf_ok(req.session, req.form().get("csrf", "")):
                raise Page(403, "this form is stale or was not sent by this site "
                                "(missing or wrong CSRF token): reload the page and retry")
            result: Iterable[bytes] = getattr(self, handler)(req, start_response, **args)
            return result
        raise Page(404 if method == "GET" else 405, f"no page {req.path}")

    def _may_see(self, req: Request) -> bool:
        if req.principal is None:
            return self.anonymous_read
        return req.principal.may("read")

    def _reader(self, req: Request) -> Principal:
        """Who reads this page: the signed-in token, or anonymous if allowed; else /login."""
        if self._may_see(req):
            return req.principal or ANONYMOUS
        if req.principal is not None:
            raise Page(403, f"token {req.principal.name} lacks the read scope")
        raise Page(303, location="/login?next=" + quote(req.path, safe="/"))

    def _respond(self, req: Request, start_response: StartResponse, status: int,
                 body: bytes, headers: list[tuple[str, str]]) -> list[bytes]:
        start_response(f"{status} {HTTPStatus(status).phrase}", [
            *headers, *req.headers, ("Content-Length", str(len(body))),
            ("Cache-Control", "no-store"), ("X-Content-Type-Options", "nosniff"),
            ("X-Frame-Options", "DENY"), ("Referrer-Policy", "same-origin")])
        return [body]

    def _html(self, req: Request, start_response: StartResponse, template: str,
              values: dict[str, Any], status: int = 200) -> list[bytes]:
        session = req.session
        if session is None and template == "login.html":
            session = self._visitor(req)  # the login form needs a CSRF token; pages do not
        flash = ("", False)
        if session is not None:
            flash, session.flash = session.flash, ("", False)
        page = self.templates.get_template(template).render(
            **values, principal=req.principal, csrf=session.csrf if session else "",
            nonce=req.nonce,
            tip=req.tip, colours=linegraph.COLOURS, script=SCRIPT,
            flash=flash[0], flash_error=flash[1])
        csp = (f"default-src 'none'; script-src 'nonce-{req.nonce}'; "
               f"style-src 'nonce-{req.nonce}' 'unsafe-inline'; img-src 'self' data:; "
               "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; "
               "base-uri 'none'")
        return self._respond(req, start_response, status, page.encode(), [
            ("Content-Type", "text/html; charset=utf-8"), ("Content-Security-Policy", csp)])

    def _visitor(self, req: Request) -> Session:
        """A session for a browser without one: it carries the login form's CSRF token."""
        req.session = self.sessions.new()
        req.headers.append(set_cookie(req.session))
        return req.session

    def _tip(self) -> str:
        try:
            return self.data.tip()
        except Exception:  # noqa: BLE001 - the footer must never break a page
            return ""

    def _say(self, req: Request, text: str, error: bool = False) -> None:
        if req.session is not None:
            req.session.flash = (text, error)

    # --- pages -----------------------------------------------------------------------------

    def line(self, req: Request, start_response: StartResponse) -> list[bytes]:
        self._reader(req)
        return self._html(req, start_response, "line.html", views.line(self.data, self.svgs))

    def config(self, req: Request, start_response: StartResponse) -> list[bytes]:
        self._reader(req)
        return self._html(req, start_response, "config.html", views.config(self.data))

    def _may_read(self, req: Request) -> None:
        """For what a script fetches: 401/403, never a redirect to /login."""
        if req.principal is None and not self.anonymous_read:
            raise Page(401, "sign in")
        if req.principal is not None and not req.principal.may("read"):
            raise Page(403, f"token {req.principal.name} lacks the read scope")

    def tip(self, req: Request, start_response: StartResponse) -> list[bytes]:
        self._may_read(req)
        body = json.dumps({"tip": req.tip}).encode()
        return self._respond(req, start_response, 200, body,
                             [("Content-Type", "application/json")])

    def job(self, req: Request, start_response: StartResponse, name: str) -> list[bytes]:
        who = self._reader(req)
        try:
            values = views.job(self.data, name)
        except LookupError as err:
            raise Page(404, str(err.args[0]) if err.args else f"no job {name}") from err
        signed_in = req.principal is not None
        values.update(
            may_trigger=signed_in and who.may("trigger"),
            may_approve=signed_in and who.may("approve") and values["approvable"],
            signed_in=signed_in)
        return self._html(req, start_response, "job.html", values)

    def run(self, req: Request, start_response: StartResponse, name: str,
            number: str) -> list[bytes]:
        self._reader(req)
        values = views.run(self.data, name, int(number))
        if values is None:
            raise Page(404, f"{name} has no run {number}")
        return self._html(req, start_response, "run.html", values)

    def resource(self, req: Request, start_response: StartResponse, name: str) -> list[bytes]:
        self._reader(req)
        try:
            values = views.resource(self.data, name)
        except LookupError as err:
            raise Page(404, str(err.args[0]) if err.args else f"no resource {name}") from err
        return self._html(req, start_response, "resource.html", values)

    def commit(self, req: Request, start_response: StartResponse, sha: str) -> list[bytes]:
        self._reader(req)
        found = self.data.commit(sha)
        if found is None:
            raise Page(404, f"no commit {sha}")
        subject, _, body = found["message"].partition("\n")
        return self._html(req, start_response, "commit.html", {
            "title": f"Commit {sha[:12]}", "c": found, "subject": subject,
            "body": body.strip()})

    def stream(self, req: Request, start_response: StartResponse, name: str,
               number: str) -> Iterable[bytes]:
        self._may_read(req)
        if not self.streams.try_open():
            raise Page(503, "too many logs are followed at once; the page retries")
        try:
            offset = int(req.query("offset") or 0)
        except ValueError:
            offset = 0
        start_response("200 OK", [("Content-Type", "text/event-stream"),
                                  ("Cache-Control", "no-store"),
                                  ("X-Accel-Buffering", "no")])
        return self.streams.stream(name, int(number), offset)

    # --- signing in ------------------------------------------------------------------------

    def login_form(self, req: Request, start_response: StartResponse) -> list[bytes]:
        return self._html(req, start_response, "login.html",
                          {"title": "Sign in", "next": _local(req.query("next"))})

    def login(self, req: Request, start_response: StartResponse) -> list[bytes]:
        form = req.form()
        token = form.get("token", "").strip()
        principal = self.sessions.principal(Session("", "", token)) if token else None
        if principal is None:
            self._say(req, "That token is not valid (or was removed).", error=True)
            raise Page(303, location="/login?next=" + quote(_local(form.get("next", ""))))
        if req.session is not None:
            self.sessions.end(req.session)  # a new id once signed in (no session fixation)
        req.session = self.sessions.new(token)
        req.headers.append(set_cookie(req.session))
        self._say(req, f"Signed in as {principal.name}.")
        log.info("gitline: %s signed in to the web view", principal.name)
        raise Page(303, location=_local(form.get("next", "")))

    def logout(self, req: Request, start_response: StartResponse) -> list[bytes]:
        if req.session is not None:
            self.sessions.end(req.session)
            req.headers.append(set_cookie(req.session, clear=True))
        raise Page(303, location="/")

    # --- acting, as the API does -------------------------------------------------------------

    def _actor(self, req: Request, api_path: str) -> Principal:
        """The signed-in principal if it has the scope the same API call needs."""
        who = req.principal
        if who is None:
            raise Page(403, "sign in to act on the line")
        needed = required_scope({"REQUEST_METHOD": "POST", "PATH_INFO": api_path})
        if not who.may(needed):
            raise Page(403, f"token {who.name} lacks the {needed} scope")
        return who

    def act(self, req: Request, start_response: StartResponse, name: str,
            action: str) -> list[bytes]:
        form = req.form()
        decision = form.get("decision", "approve") if action == "approve" else ""
        who = self._actor(req, f"/api/jobs/{name}/{decision or action}")
        back = views.job_url(name)
        actions = self.data.actions
        try:
            if action == "trigger":
                params = _params(form.get("params", ""))
                sha = actions.trigger(name, params, who.name,
                                      f"trigger {name} (web, {who.name})")
                self._say(req, f"Triggered {name}: commit {sha[:10]} on the config branch.")
            elif action == "approve":
                if decision not in ("approve", "reject"):
                    raise Invalid("decision must be approve or reject")
                sha = actions.approve(name, decision, form.get("reason", ""), who)
                self._say(req, f"{decision.capitalize()}d {name}: commit {sha[:10]}.")
            else:
                answer = actions.cancel(name, who.name)
                self._say(req, str(answer.get("message", "")),
                          error=answer.get("state") == "refused")
        except ServiceError as err:  # NotFound, Invalid, Refused: said on the page
            self._say(req, str(err.args[0]) if err.args else "refused", error=True)
        raise Page(303, location=back)

    def replay(self, req: Request, start_response: StartResponse, name: str,
               number: str) -> list[bytes]:
        who = self._actor(req, f"/api/jobs/{name}/runs/{number}/replay")
        try:
            answer = self.data.actions.replay(name, int(number), who.name)
            self._say(req, str(answer.get("message", "")), error=answer.get("state") == "refused")
        except ServiceError as err:  # NotFound, Invalid, Refused: said on the page
            self._say(req, str(err.args[0]) if err.args else "refused", error=True)
        raise Page(303, location=views.job_url(name))


def _local(target: str) -> str:
    """A redirect target on this site only ("/jobs/x"), never "//evil" or "http://..."."""
    return target if target.startswith("/") and not target.startswith(("//", "/\\")) else "/"


def _params(text: str) -> dict[str, str]:
    """"NAME=value" lines -> {NAME: value}; Invalid for a line that is not one."""
    params: dict[str, str] = {}
    for line in text.splitlines():
        if not line.strip():
            continue
        key, sep, value = line.partition("=")
        if not sep or not key.strip().isidentifier():
            raise Invalid(f"parameter {line.strip()!r}: write NAME=value")
        params[key.strip()] = value.strip()
    return params
