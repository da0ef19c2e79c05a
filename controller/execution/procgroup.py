"""Process groups: each step runs in its own; it is waited for until it exits, its time
is up or it is cancelled, and then the whole group is killed (SIGTERM, then SIGKILL after
a grace period), so nothing a script started outlives it.

Nor does it outlive the process that runs it when that one dies at once (kill -9, the
OOM killer): a `Guard` kills the group then. Without bubblewrap (whose --die-with-parent
takes its pid namespace down) that is a tiny `sh` in a session of its own, reading a pipe
only this process holds: the kernel closes the pipe when this process dies, however it
dies, and the guard kills the group.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
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


# read one line (released: exit quietly) or end of file (the holder died: kill the group)
_GUARD = 'if read -r _; then exit 0; fi; kill -9 "-$1" 2>/dev/null; exit 0'


@dataclass
class Guard:
    """Kills group `pgid` if the process that started it dies first; `release` it before
    reaping the group's leader (the group's id cannot be taken by another till then)."""

    pgid: int
    proc: subprocess.Popen[bytes] | None
    fd: int

    def release(self) -> None:
        if self.proc is None:
            return
        with contextlib.suppress(OSError):
            os.write(self.fd, b"done\n")
        os.close(self.fd)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.proc.wait(5)
        self.proc = None


def guard(pgid: int) -> Guard:
    """A Guard of group `pgid` (a no-op one where no `sh` can be started)."""
    read, write = os.pipe()  # not inherited: only this process holds `write`
    try:
        proc = subprocess.Popen(["/bin/sh", "-c", _GUARD, "gitline-guard", str(pgid)],
                                stdin=read, stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL, start_new_session=True,
                                close_fds=True)
    except OSError as err:
        print(f"gitline: no guard for process group {pgid}: {err}", file=sys.stderr)
        os.close(write)
        return Guard(pgid, None, -1)
    finally:
        os.close(read)
    return Guard(pgid, proc, write)
