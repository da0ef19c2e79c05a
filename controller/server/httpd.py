"""The HTTP listener: waitress on `listen` (host:port), its event loop in a daemon thread.

waitress reads requests in one asyncore thread and runs the app in a bounded pool
(`http_threads`), so a thousand idle or slow connections cost a descriptor each, never a
thread: clones, pushes, API calls and webhooks keep being served, and the reconcile loop
(its own thread) never waits on HTTP. Idle connections close after `http_timeout`, and so
does one whose request headers are still arriving after it, or whose body arrives slower
than MIN_BODY_RATE after that (slowloris). Every request's
body is bounded before waitress reads it, by what the request is and whether its
credentials were accepted before (requestcheck.body_limit, KnownCredentials): a declared
Content-Length over the limit gets 413 at once, a chunked body at the limit.
"""

from __future__ import annotations

import copy
import logging
import resource
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from waitress import wasyncore
from waitress.channel import HTTPChannel
from waitress.parser import HTTPRequestParser
from waitress.server import create_server

from controller.server import requestcheck

log = logging.getLogger("gitline.http")

FD_RESERVE = 256  # descriptors kept free for git, the watcher and job logs
MIN_BODY_RATE = 8 * 1024  # bytes/s: a body may take http_timeout + its size at this rate


class ListenError(ValueError):
    """`listen` is not host:port."""


def parse_listen(listen: str) -> tuple[str, int] | None:
    """"127.0.0.1:8080" -> ("127.0.0.1", 8080); "", "none" or "off" -> None (disabled)."""
    text = (listen or "").strip()
    if text.lower() in ("", "none", "off", "false"):
        return None
    host, sep, port = text.rpartition(":")
    if not sep or not port.isdigit() or int(port) > 65535:
        raise ListenError(f"listen: expected HOST:PORT (or none), not {listen!r}")
    return host.strip("[]") or "127.0.0.1", int(port)


@dataclass(frozen=True)
class ServerLimits:
    """How much the listener takes on at once (Settings http_* and max_*)."""

    threads: int = 8
    connections: int = 2000
    timeout: float = 60.0  # idle connection / unfinished request headers, seconds
    body: requestcheck.BodyLimits = requestcheck.BodyLimits()


def raise_fd_limit(wanted: int) -> int:
    """Raise the soft descriptor limit towards `wanted`; the connections that fit."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
    if target > soft:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
            soft = target
        except (ValueError, OSError):
            pass
    return max(16, soft - FD_RESERVE)


def _parser_class(limits: ServerLimits,
                  known: requestcheck.KnownCredentials) -> type[HTTPRequestParser]:
    class Parser(HTTPRequestParser):
        """waitress's parser, with this request's own body limit once its headers are in."""

        content_length: int  # set by waitress's parse_header

        def __init__(self, adj: Any) -> None:
            super().__init__(adj)
            self.started = time.monotonic()

        def parse_header(self, header_plus: bytes) -> None:
            super().parse_header(header_plus)
            self.headers.pop(requestcheck.TOO_LARGE_HEADER, None)  # only we set it
            limit = requestcheck.body_limit(
                self.command, self.path, self.query,
                known.known(self.headers.get("AUTHORIZATION", "")), limits.body)
            if self.content_length > limit:  # refused unread; the app says so (413 JSON)
                self.headers[requestcheck.TOO_LARGE_HEADER] = f"{self.content_length} {limit}"
                self.content_length, self.body_rcv = 0, None
                self.connection_close = True  # the body it still sends is never read
            adj: Any = copy.copy(self.adj)  # type: ignore[has-type] # shared: stays as is
            adj.max_request_body_size = limit + 1  # waitress refuses >= this
            self.adj = adj

    return Parser


def _channel_class(limits: ServerLimits,
                   known: requestcheck.KnownCredentials) -> type[HTTPChannel]:
    parser = _parser_class(limits, known)

    class Channel(HTTPChannel):
        parser_class = parser

        def readable(self) -> bool:
            req = self.request
            if req is not None and not req.completed:
                allowed = limits.timeout  # for the headers; the body may take longer:
                if req.headers_finished:
                    allowed += max(req.content_length, req.body_bytes_received) / MIN_BODY_RATE
                if time.monotonic() - req.started > allowed:
                    self.will_close = True  # trickling in (slowloris): drop it
            return bool(super().readable())

    return Channel


class HttpServer:
    """Serves `app` on (host, port) until stop(); port 0 picks a free one (see .port)."""

    def __init__(self, app: Callable[..., Any], host: str, port: int,
                 limits: ServerLimits | None = None) -> None:
        limits = limits or ServerLimits()
        connections = min(limits.connections, raise_fd_limit(limits.connections + FD_RESERVE))
        if connections < limits.connections:
            log.warning("gitline: only %d HTTP connections fit the descriptor limit "
                        "(http_connections: %d)", connections, limits.connections)
        biggest = max(limits.body.request, limits.body.fetch, limits.body.payload)
        known = requestcheck.KnownCredentials()
        self._server = create_server(
            requestcheck.Guard(app, limits.body, known), host=host, port=port,
            threads=limits.threads, connection_limit=connections,
            channel_timeout=max(1, int(limits.timeout)),
            cleanup_interval=max(1, min(30, int(limits.timeout / 2))),
            max_request_body_size=biggest + 1, asyncore_use_poll=True,  # select: 1024 fds
            backlog=1024, clear_untrusted_proxy_headers=True, ident="gitline")
        self._server.channel_class = _channel_class(limits, known)
        self.host = host
        self.port = int(self._server.effective_port)
        self._thread = threading.Thread(target=self._server.run, name="gitline-http",
                                        daemon=True)

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start(self) -> HttpServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        server: Any = self._server
        server.task_dispatcher.shutdown(cancel_pending=True, timeout=2)
        wasyncore.close_all(server._map)  # the listener and every open connection
        self._thread.join(timeout=5)
