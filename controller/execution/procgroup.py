"""Process groups: each step runs in its own; it is waited for until it exits, its time
is up or it is cancelled, and then the whole group is killed (SIGTERM, then SIGKILL after
a grace period), so nothing a script started outlives it."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import threading
import time
from typing import Literal

GRACE_SECONDS = 2.0
POLL_SECONDS = 0.05  # how soon a cancel or a deadline is seen

WaitResult = Literal["exited", "timeout", "cancelled"]


def group_alive(pgid: int) -> bool:
    """True while a non-zombie process is in group `pgid` (via /proc, else killpg 0)."""
    try:
        # The usual case after a step ends (its leader already reaped): the group is
        # empty, and asking the kernel is ~1000x cheaper than scanning all of /proc.
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass
    try:
        entries = os.listdir("/proc")
    except OSError:
        entries = None
    if entries is None:
        try:
            os.killpg(pgid, 0)
        except (ProcessLookupError, PermissionError):
            return False
        return True
    return any(_in_group(entry, pgid) for entry in entries if entry.isdigit())


def _in_group(pid: str, pgid: int) -> bool:
    """True if process `pid` is alive (not a zombie) and in group `pgid`."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as fh:
            stat = fh.read()
    except OSError:
        return False
    fields = stat[stat.rfind(b")") + 2 :].split()
    return len(fields) > 2 and fields[0] != b"Z" and int(fields[2]) == pgid


def kill_group(pgid: int, grace: float = GRACE_SECONDS) -> None:
    """SIGTERM the group, wait up to `grace` s for it to go, then SIGKILL it."""
    if not group_alive(pgid):
        return
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, signal.SIGTERM)
    end = time.monotonic() + grace
    while time.monotonic() < end:
        if not group_alive(pgid):
            return
        time.sleep(0.02)
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, signal.SIGKILL)


def wait(
    proc: subprocess.Popen[bytes], cancelled: threading.Event | None, deadline: float | None
) -> WaitResult:
    """Wait for `proc` to exit, for `cancelled` to be set or for the monotonic `deadline`."""
    while True:
        if proc.poll() is not None:
            return "exited"
        if cancelled is not None and cancelled.is_set():
            return "cancelled"
        if deadline is not None and time.monotonic() >= deadline:
            return "timeout"
        # Popen.wait polls from 0.5 ms up, so a step of a few ms is not held for a whole
        # POLL_SECONDS (that capped a worker at ~20 steps/s); a cancel or the deadline is
        # still seen within POLL_SECONDS.
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(POLL_SECONDS)
