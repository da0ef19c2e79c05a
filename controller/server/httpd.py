"""The HTTP listener: a threaded wsgiref server on `listen` (host:port), in a daemon thread.

One thread per request, so a slow clone never blocks a webhook. Request lines go to the
`gitline.http` logger at debug level; errors at warning.
"""

from __future__ import annotations

import logging
import socketserver
import threading
from collections.abc import Callable
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

log = logging.getLogger("gitline.http")


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


class _ThreadingServer(socketserver.ThreadingMixIn, WSGIServer):
    daemon_threads = True
    allow_reuse_address = True


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        log.debug("%s %s", self.address_string(), format % args)


class HttpServer:
    """Serves `app` on (host, port) until stop(); port 0 picks a free one (see .port)."""

    def __init__(self, app: Callable[..., Any], host: str, port: int) -> None:
        self._server = make_server(host, port, app, server_class=_ThreadingServer,
                                   handler_class=_QuietHandler)
        self.host = host
        self.port = self._server.server_port
        self._thread = threading.Thread(target=self._server.serve_forever,
                                        kwargs={"poll_interval": 0.2},
                                        name="gitline-http", daemon=True)

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start(self) -> HttpServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)
