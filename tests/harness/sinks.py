"""Real servers on 127.0.0.1 that notifications are delivered to: an HTTP sink and SMTP."""

from __future__ import annotations

import json
import socket
import threading
import time
from dataclasses import dataclass, field
from email import message_from_bytes
from email.message import Message
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword


@dataclass
class Received:
    path: str
    body: dict[str, Any]
    headers: dict[str, str]


@dataclass
class HttpSink:
    """Records every POST; answers with `statuses` in turn (then 200)."""

    statuses: list[int] = field(default_factory=list)
    received: list[Received] = field(default_factory=list)
    hits: int = 0
    server: ThreadingHTTPServer | None = None

    def __enter__(self) -> HttpSink:
        sink = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's name
                data = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                sink.hits += 1
                status = sink.statuses.pop(0) if sink.statuses else 200
                if status == 200:
                    sink.received.append(Received(self.path, json.loads(data),
                                                  dict(self.headers)))
                self.send_response(status)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        assert self.server is not None
        self.server.shutdown()
        self.server.server_close()

    def url(self, path: str = "/hook") -> str:
        assert self.server is not None
        return f"http://127.0.0.1:{self.server.server_address[1]}{path}"

    def wait(self, count: int, timeout: float = 30.0) -> list[Received]:
        deadline = time.monotonic() + timeout
        while len(self.received) < count and time.monotonic() < deadline:
            time.sleep(0.05)
        assert len(self.received) >= count, f"{len(self.received)} of {count} arrived"
        return self.received


class _Mailbox:
    def __init__(self) -> None:
        self.messages: list[tuple[list[str], Message]] = []

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 - aiosmtpd's name
        self.messages.append((list(envelope.rcpt_tos), message_from_bytes(envelope.content)))
        return "250 OK"


@dataclass
class SmtpSink:
    """aiosmtpd on 127.0.0.1; with `password`, AUTH LOGIN/PLAIN is required (no TLS)."""

    user: str = ""
    password: str = ""
    box: _Mailbox = field(default_factory=_Mailbox)
    controller: Controller | None = None
    logins: list[str] = field(default_factory=list)
    _port: int = 0

    def __enter__(self) -> SmtpSink:
        kwargs: dict[str, Any] = {}
        if self.password:
            def auth(server, session, envelope, mechanism, data):
                ok = (isinstance(data, LoginPassword) and data.login.decode() == self.user
                      and data.password.decode() == self.password)
                if ok:
                    self.logins.append(self.user)
                return AuthResult(success=ok, handled=False)
            kwargs = {"authenticator": auth, "auth_require_tls": False, "auth_required": True}
        with socket.socket() as probe:  # aiosmtpd cannot bind port 0 itself
            probe.bind(("127.0.0.1", 0))
            self._port = probe.getsockname()[1]
        self.controller = Controller(self.box, hostname="127.0.0.1", port=self._port, **kwargs)
        self.controller.start()
        return self

    def __exit__(self, *exc: object) -> None:
        assert self.controller is not None
        self.controller.stop()

    @property
    def port(self) -> int:
        return self._port

    @property
    def messages(self) -> list[tuple[list[str], Message]]:
        return self.box.messages

    def wait(self, count: int, timeout: float = 30.0) -> list[tuple[list[str], Message]]:
        deadline = time.monotonic() + timeout
        while len(self.messages) < count and time.monotonic() < deadline:
            time.sleep(0.05)
        assert len(self.messages) >= count, f"{len(self.messages)} of {count} mails arrived"
        return self.messages
