"""What a request may be before any app sees it: body limits, Host, browser origin, logging.

`body_limit` decides, from the request line and whether credentials came at all, how many
body bytes the listener reads (httpd.py applies it before reading). `Guard` is the outermost
WSGI layer: it refuses a Host that is not ours (DNS rebinding, when anonymous reads are on
or `allowed_hosts` is set), cross-site browser writes and API writes that are not JSON (a
page can POST `text/plain` anywhere without asking; a JSON POST needs a CORS preflight,
which Gitline never grants), inflates a gzip body only up to the same limit, and turns any
unexpected exception into a 500 whose log line names the request with control characters
escaped, so a request path can never forge a line of the log.
"""

from __future__ import annotations

import hashlib
import json
import logging
import sys
import tempfile
import threading
import time
import zlib
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from controller.server.auth import USER_KEY

log = logging.getLogger("gitline.http")

Environ = dict[str, Any]
# Set by the listener on a request whose declared body is over its limit (never read).
TOO_LARGE_HEADER = "X_GITLINE_BODY_TOO_LARGE"
UNAUTHENTICATED_BODY = 64 * 1024  # enough for a 401 round trip, nothing to chew on
LOOPBACK_HOSTS = ("localhost", "127.0.0.1", "::1")
_SAFE_FETCH_SITES = ("same-origin", "none")  # Sec-Fetch-Site a browser sends for our own UI


@dataclass(frozen=True)
class BodyLimits:
    """Bytes of body a request may send (after gunzip), and who may read without a token."""

    request: int = 256 * 1024 * 1024  # a git push (its pack)
    fetch: int = 1024 * 1024  # a git fetch's want/have negotiation
    payload: int = 1024 * 1024  # a webhook or an API call
    anonymous_read: bool = False
    allowed_hosts: frozenset[str] = field(default_factory=frozenset)  # empty: any Host


class KnownCredentials:
    """Authorization headers the token check accepted lately (as SHA-256 digests).

    The body limit is decided before the body is read, on waitress's I/O thread, where a
    token check must not run. A git push or fetch always asks for `info/refs` (no body)
    first, so its credentials are known by the time its POST comes; a header never
    accepted (a made-up token) gets UNAUTHENTICATED_BODY. This only sizes the body: every
    request is still authenticated by the app, so a revoked token is refused at once.
    """

    def __init__(self, ttl: float = 600.0, size: int = 1024) -> None:
        self.ttl = ttl
        self.size = size
        self._seen: dict[str, float] = {}
        self._lock = threading.Lock()

    @staticmethod
    def _key(header: str) -> str:
        return hashlib.sha256(header.encode("utf-8", "replace")).hexdigest()

    def remember(self, header: str) -> None:
        with self._lock:
            if len(self._seen) >= self.size:
                self._seen.pop(next(iter(self._seen)))  # the oldest
            self._seen.pop(self._key(header), None)
            self._seen[self._key(header)] = time.monotonic()

    def known(self, header: str) -> bool:
        if not header:
            return False
        with self._lock:
            when = self._seen.get(self._key(header))
        return when is not None and time.monotonic() - when < self.ttl


def allowed_hosts(setting: str, listen_host: str, anonymous_read: bool) -> frozenset[str]:
    """The Host names to accept: `allowed_hosts`, or with anonymous reads our own names."""
    names = {h.strip().lower() for h in setting.split(",") if h.strip()}
    if not names and anonymous_read:
        names = {*LOOPBACK_HOSTS}
        if listen_host not in ("", "0.0.0.0", "::"):
            names.add(listen_host.lower())
    return frozenset(names)


def git_service(path: str, query: str) -> str:
    """"upload-pack", "receive-pack" or "" for what a git smart-HTTP request asks."""
    for service in ("upload-pack", "receive-pack"):
        if path.endswith(f"/git-{service}") or f"service=git-{service}" in query:
            return service
    return ""


def body_limit(method: str, path: str, query: str, has_credentials: bool,
               limits: BodyLimits) -> int:
    """How many body bytes this request may send; checked before the body is read.

    `has_credentials`: its Authorization header was accepted before (KnownCredentials).
    """
    if method in ("GET", "HEAD", "OPTIONS", "DELETE"):
        return 0
    service = git_service(path, query)
    if service == "receive-pack":
        return limits.request if has_credentials else UNAUTHENTICATED_BODY
    if service == "upload-pack":
        return limits.fetch if has_credentials or limits.anonymous_read else \
            UNAUTHENTICATED_BODY
    if path.startswith("/hooks/"):
        return limits.payload  # its key is in the headers or signs the body
    return limits.payload if has_credentials else UNAUTHENTICATED_BODY


def printable(value: object) -> str:
    """`value` as text with control characters escaped (`\\n` -> `\\x0a`), for logs."""
    text = str(value)
    return "".join(c if c.isprintable() or c == " " else
                   (f"\\x{ord(c):02x}" if ord(c) < 256 else f"\\u{ord(c):04x}") for c in text)


def host_name(host: str) -> str:
    """The name in a Host header: "[::1]:8080" -> "::1", "Example:80" -> "example"."""
    host = host.strip().lower()
    if host.startswith("["):
        return host[1:].partition("]")[0]
    return host.rsplit(":", 1)[0] if host.count(":") == 1 else host


def refusal(environ: Environ, limits: BodyLimits) -> tuple[int, str] | None:
    """(status, message) if the request must not reach the apps; None if it may."""
    too_large = environ.get("HTTP_" + TOO_LARGE_HEADER)
    if too_large:
        size, _, limit = too_large.partition(" ")
        return 413, f"payload too large: {size} bytes (limit {limit})"
    host = environ.get("HTTP_HOST", "")
    if limits.allowed_hosts and host_name(host) not in limits.allowed_hosts:
        return 421, (f"Host {printable(host)!r} is not one of this server's names; "
                     "add it to allowed_hosts in gitline.yml")
    method = environ.get("REQUEST_METHOD", "GET")
    path = environ.get("PATH_INFO", "")
    if method in ("GET", "HEAD", "OPTIONS") or path.startswith("/hooks/"):
        return None  # reads change nothing; webhooks carry their own key, never a cookie
    site = environ.get("HTTP_SEC_FETCH_SITE", "").lower()
    if site and site not in _SAFE_FETCH_SITES:
        return 403, f"cross-site request refused (Sec-Fetch-Site: {printable(site)})"
    origin = environ.get("HTTP_ORIGIN", "")
    if origin and not _same_origin(origin, host, limits.allowed_hosts):
        return 403, f"cross-origin request refused (Origin: {printable(origin)})"
    ctype = environ.get("CONTENT_TYPE", "").split(";", 1)[0].strip().lower()
    service = git_service(path, environ.get("QUERY_STRING", ""))
    if service:
        wanted = f"application/x-git-{service}-request"
    elif path.startswith("/api/"):
        wanted = "application/json"
    else:
        return None
    if ctype != wanted:
        return 415, f"send Content-Type: {wanted} (not {ctype or 'none'!r})"
    return None


def _same_origin(origin: str, host: str, allowed: frozenset[str]) -> bool:
    """True for a page of this server: Origin names the Host, or an allowed_hosts name."""
    if origin == "null":
        return False  # a sandboxed frame or a file: page
    netloc = urlsplit(origin).netloc.lower()
    return netloc == host.lower() or (bool(allowed) and host_name(netloc) in allowed)


class BodyTooLarge(Exception):
    pass


def inflate(stream: Any, limit: int) -> tuple[Any, int]:
    """A gzip body inflated into a (spooled) file, or BodyTooLarge past `limit` bytes."""
    out = tempfile.SpooledTemporaryFile(max_size=1024 * 1024)  # noqa: SIM115 - returned
    inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
    size = 0

    def put(chunk: bytes) -> None:
        nonlocal size
        size += len(chunk)
        if size > limit:
            out.close()
            raise BodyTooLarge(f"the gzip body inflates past {limit} bytes")
        out.write(chunk)

    while not inflater.eof:
        pending = stream.read(64 * 1024)
        if not pending:
            break
        while pending and not inflater.eof:  # at most 64 KiB of output per step
            put(inflater.decompress(pending, 64 * 1024))
            pending = inflater.unconsumed_tail
    put(inflater.flush())
    out.seek(0)
    return out, size


class Guard:
    """The outermost WSGI layer (see the module doc)."""

    def __init__(self, app: Callable[..., Iterable[bytes]], limits: BodyLimits,
                 known: KnownCredentials | None = None) -> None:
        self.app = app
        self.limits = limits
        self.known = known or KnownCredentials()

    def __call__(self, environ: Environ, start_response: Callable[..., Any]) -> Iterator[bytes]:
        what = printable(f"{environ.get('REQUEST_METHOD')} {environ.get('PATH_INFO', '')}")
        status: list[str] = []

        def respond(line: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
            status[:] = [line]
            return start_response(line, headers, exc_info)

        refused = refusal(environ, self.limits)
        if refused is None and environ.get("HTTP_CONTENT_ENCODING", "").lower() in (
                "gzip", "x-gzip"):
            refused = self._inflate(environ)
        if refused is not None:
            log.info("gitline: refused %s: %s", what, refused[1])
            yield from _reply(environ, respond, *refused)
            return
        result: Iterable[bytes] = ()
        try:
            result = self.app(environ, respond)
            yield from result
        except Exception:
            log.exception("gitline: %s failed", what)
            if not status:
                yield from _reply(environ, respond, 500, "internal error; see the controller "
                                  "log", sys.exc_info())
        finally:
            close = getattr(result, "close", None)
            if close is not None:
                close()
            if environ.get(USER_KEY) and environ.get("HTTP_AUTHORIZATION"):
                self.known.remember(environ["HTTP_AUTHORIZATION"])  # a token that worked
            log.debug("%s %s -> %s", printable(environ.get("REMOTE_ADDR", "")), what,
                      status[0] if status else "-")

    def _inflate(self, environ: Environ) -> tuple[int, str] | None:
        limit = body_limit(environ.get("REQUEST_METHOD", "GET"), environ.get("PATH_INFO", ""),
                           environ.get("QUERY_STRING", ""),
                           self.known.known(environ.get("HTTP_AUTHORIZATION", "")),
                           self.limits)
        try:
            body, size = inflate(environ["wsgi.input"], limit)
        except BodyTooLarge as err:
            return 413, str(err)
        except (zlib.error, OSError) as err:
            return 400, f"the gzip body is corrupt ({err})"
        environ["wsgi.input"] = body
        environ["CONTENT_LENGTH"] = str(size)
        del environ["HTTP_CONTENT_ENCODING"]
        return None


def _reply(environ: Environ, start_response: Callable[..., Any], status: int, message: str,
           exc_info: Any = None) -> Iterator[bytes]:
    from http import HTTPStatus

    if environ.get("PATH_INFO", "").startswith(("/api", "/hooks")):
        data, ctype = (json.dumps({"error": message}) + "\n").encode(), "application/json"
    else:
        data, ctype = f"gitline: {message}\n".encode(), "text/plain; charset=utf-8"
    start_response(f"{status} {HTTPStatus(status).phrase}",
                   [("Content-Type", ctype), ("Content-Length", str(len(data)))], exc_info)
    yield data
