"""Waiting for a condition and finding a free port: what every kind of test needs."""

from __future__ import annotations

import socket
import time
from collections.abc import Callable


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
