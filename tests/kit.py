"""Helpers every kind of test shares: waiting for a condition, a free port, a tiny line."""

from __future__ import annotations

import socket
import time
from collections.abc import Callable

# One params resource and one job that reads it: the smallest line that runs.
PAINT_LINE = """\
resources:
  - name: cfg
    type: params
    versionTemplate:
      params: {{COLOR: {color}}}
jobs:
  - name: paint
    type: runSh
    steps:
      - IN: cfg
      - TASK:
          script:
            - echo "painting $COLOR"
"""


def wait_for(cond: Callable[[], object], timeout: float = 60.0, what: str = "") -> object:
    """Poll `cond` until it returns something true; fail after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = cond()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"timed out after {timeout:g}s waiting for {what or cond}")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def raw(port: int, data: bytes, timeout: float = 20.0) -> bytes:
    """Send `data` as it is on a new connection; everything the server answers until EOF."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        try:
            sock.sendall(data)
            sock.shutdown(socket.SHUT_WR)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the server answered (413) and closed before the body was all sent
        chunks = []
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                chunk = sock.recv(65536)
            except ConnectionResetError:
                break
            if not chunk:
                break
            chunks.append(chunk)
        return b"".join(chunks)


def status_of(answer: bytes) -> int:
    """The status code of a raw HTTP answer (0 if there was none)."""
    line = answer.split(b"\r\n", 1)[0].split()
    return int(line[1]) if len(line) > 1 and line[1].isdigit() else 0
