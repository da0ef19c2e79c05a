"""Held-open and slow connections against a real `gitline serve`: nothing stops working.

Before: wsgiref gave every connection a thread; 246 held connections stopped pushes from
being processed and failed API calls. Now waitress holds them in its event loop.
"""

from __future__ import annotations

import contextlib
import json
import resource
import socket
import time

from tests.harness.commands import run
from tests.harness.http import request, serve, token
from tests.harness.lines import PAINT_LINE

HELD = 1000


def _set_fd_limit(soft: int) -> None:
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(soft, hard), hard))


def _threads(pid: int) -> int:
    with open(f"/proc/{pid}/status") as f:
        return int(next(line for line in f if line.startswith("Threads:")).split()[1])


def test_a_thousand_held_connections_leave_pushes_and_the_api_working(home, tmp_path):
    tok = token(home)
    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    _set_fd_limit(1024)  # the controller starts with the usual default soft limit
    try:
        port = serve(home, http_timeout=300)
    finally:
        _set_fd_limit(max(soft, HELD + 512))  # this process holds the other ends
    held: list[socket.socket] = []
    try:
        for i in range(HELD):
            sock = socket.create_connection(("127.0.0.1", port), timeout=10)
            if i % 2:  # half of them start a request and never finish it
                sock.sendall(b"GET /api/status HTTP/1.1\r\nHost: 127.0.0.1\r\n")
            held.append(sock)
        time.sleep(1)  # the server has accepted them all by now
        assert home.proc is not None
        assert _threads(home.proc.pid) < 100  # not a thread per connection

        home.write("shippable.yml", PAINT_LINE.format(color="red"))  # a push by path
        home.push("line")
        assert home.wait_runs("paint", 1, timeout=60) == ["run 1 succeeded"]

        url = f"http://alice:{tok}@127.0.0.1:{port}/config.git"  # a push over HTTP
        work = tmp_path / "http-work"
        run("git", "-c", "credential.helper=", "clone", "-q", url, work)
        (work / "shippable.yml").write_text(PAINT_LINE.format(color="blue"))
        run("git", "commit", "-qam", "blue", cwd=work)
        run("git", "-c", "credential.helper=", "push", "-q", "origin", "HEAD:main", cwd=work)
        assert home.wait_runs("paint", 2, timeout=60)[-1] == "run 2 succeeded"

        status, _, body = request(port, "GET", "/api/jobs/paint/runs",
                                  headers={"Authorization": f"Bearer {tok}"})
        assert status == 200 and json.loads(body)["runs"][0]["number"] == 2
        # the held connections are still open: the server did not drop them to cope
        held[0].settimeout(0.2)
        with contextlib.suppress(TimeoutError):
            assert held[0].recv(1) != b""
    finally:
        for sock in held:
            sock.close()


def _closed_within(sock: socket.socket, seconds: float, trickle: bool) -> float | None:
    """Seconds until the server closed `sock` (trickling a header byte if asked), or None."""
    start = time.monotonic()
    sock.settimeout(0.5)
    while time.monotonic() - start < seconds:
        try:
            if trickle:
                sock.sendall(b"X")
            if sock.recv(4096) == b"":
                return time.monotonic() - start
        except TimeoutError:
            continue
        except (ConnectionResetError, BrokenPipeError):
            return time.monotonic() - start
    return None


def test_idle_and_slowloris_clients_are_dropped_after_the_timeout(home):
    tok = token(home)
    port = serve(home, http_timeout=2)
    idle = socket.create_connection(("127.0.0.1", port), timeout=10)
    slow = socket.create_connection(("127.0.0.1", port), timeout=10)
    body = socket.create_connection(("127.0.0.1", port), timeout=10)
    try:
        slow.sendall(b"GET /api/status HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ")
        took = _closed_within(slow, 15, trickle=True)  # a byte every 0.5 s: never idle
        assert took is not None, "a client trickling its headers was never dropped"
        body.sendall(b"POST /hooks/x HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                     b"Content-Length: 1000\r\n\r\n")
        took = _closed_within(body, 15, trickle=True)
        assert took is not None, "a client trickling its body was never dropped"
        took = _closed_within(idle, 15, trickle=False)
        assert took is not None, "an idle connection was never dropped"
        status, _, _ = request(port, "GET", "/api/status",
                               headers={"Authorization": f"Bearer {tok}"})
        assert status == 200
    finally:
        for sock in (idle, slow, body):
            sock.close()
