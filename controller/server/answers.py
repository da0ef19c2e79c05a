"""HOME/answers.sock: the running controller answers the pre-receive hook of a push by path.

The hook asks through `git credential-cache` (KEY=VALUE lines, read to the end: see
server/hookwire.py); its fallback `controller/answerclient.py` (Python without
site-packages) sends one JSON line `{"old", "new", "objects"}` and reads back one:
`{"lines", "refuse"}` or `{"error"}`. The
controller has the state read and the workflow's files parsed already, so a push costs
the hook a connection rather than starting Gitline; with no controller the hook plans by
itself (slower, the same answer). The socket is the controller's: made at start (a stale
one is replaced; HOME/serve.lock says no other controller runs) and removed at stop.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import socket
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from controller.answerclient import read_line
from controller.server import hookwire
from controller.server.sparethreads import SpareThreads

log = logging.getLogger("gitline")

SOCKET_NAME = "answers.sock"
MAX_REQUEST = 64 * 1024  # a request is two shas and a folder
TIMEOUT = 10.0  # seconds a hook has to send its request

Answer = Callable[[dict[str, Any]], dict[str, Any]]


class AnswerSocket:
    """A unix socket: one JSON request per connection, answered by `answer` in a thread."""

    def __init__(self, path: Path, answer: Answer) -> None:
        self.path = Path(path)
        self._answer = answer
        self._sock: socket.socket | None = None
        self._thread: threading.Thread | None = None
        self._serving = SpareThreads("gitline-answer")  # a thread per connection

    def start(self) -> AnswerSocket:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.path.unlink(missing_ok=True)
        _bind(sock, self.path)
        self.path.chmod(0o660)  # whoever may push by path (the repository's group)
        sock.listen(16)
        self._sock = sock
        self._thread = threading.Thread(target=self._accept, name="gitline-answers",
                                        daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._sock is not None:
            self._sock.close()
            self._sock = None
        self.path.unlink(missing_ok=True)

    def _accept(self) -> None:
        while self._sock is not None:
            try:
                conn, _ = self._sock.accept()
            except OSError:  # closed by stop()
                return
            self._serving.submit(self._serve, conn)

    def _serve(self, conn: socket.socket) -> None:
        with conn:
            git = False
            try:
                conn.settimeout(TIMEOUT)
                first = read_line(conn, MAX_REQUEST)
                if git := hookwire.is_git_client(first):  # the hook's sh client
                    req = hookwire.read_request(conn, first, MAX_REQUEST)
                    reply = hookwire.answer_within(self._answer, req)
                else:
                    request = json.loads(first)
                    if not isinstance(request, dict):
                        raise ValueError("a request is a JSON object")
                    reply = self._answer(request)
            except Exception as err:  # noqa: BLE001 - the hook accepts the push, and says why
                log.exception("answering a push by path failed")
                reply = {"error": f"{type(err).__name__}: {err}"}
            with contextlib.suppress(OSError):  # the hook gave up waiting
                conn.sendall(hookwire.reply_text(reply) if git
                             else json.dumps(reply).encode() + b"\n")


def _bind(sock: socket.socket, path: Path) -> None:
    """Bind to `path`, also past the 107 bytes a socket address holds (deep test folders):
    through the folder's /proc/self/fd link then."""
    if len(os.fsencode(path)) < 100:
        sock.bind(str(path))
        return
    folder = os.open(path.parent, os.O_RDONLY | os.O_DIRECTORY)
    try:
        sock.bind(f"/proc/self/fd/{folder}/{path.name}")
    finally:
        os.close(folder)
