"""One controller per HOME: `gitline serve` holds an exclusive flock on HOME/serve.lock.

Two controllers on one HOME ran every job twice and marked each other's runs interrupted.
The lock is the kernel's (flock), so a controller killed with -9 leaves nothing to clean
up: the kernel drops the lock with the process, and the next `serve` takes it. The file
itself stays; it only says who holds the lock now (pid and start time), for the message
a second `serve` prints. Read-only commands never take it.

The descriptor is not inherited by jobs (Python opens files close-on-exec), so a job that
outlives a killed controller does not keep its HOME locked.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

LOCK_FILE = "serve.lock"


class HomeBusy(Exception):
    """Another `gitline serve` holds HOME."""


@dataclass(frozen=True)
class Holder:
    pid: int | None
    since: str

    def describe(self, home: Path) -> str:
        who = f"pid {self.pid}" if self.pid else "another gitline serve"
        return f"{home} is served by {who}" + (f" since {self.since}" if self.since else "")


class HomeLock:
    """Held from `acquire()` until `release()` or the process ends, however it ends."""

    def __init__(self, home: Path) -> None:
        self.home = home
        self.path = home / LOCK_FILE
        self._fd: int | None = None

    def acquire(self) -> HomeLock:
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        # A few quick tries: `serving()` below holds a shared lock for a moment while it
        # looks; a controller holds its lock for good, so the last try fails on that.
        for attempt in range(5):
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if attempt == 4:
                    holder = _read(fd)
                    os.close(fd)
                    raise HomeBusy(holder.describe(self.home)) from None
                time.sleep(0.02)
        since = datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
        try:
            os.ftruncate(fd, 0)
            os.pwrite(fd, f"pid: {os.getpid()}\nsince: {since}\n".encode(), 0)
        except OSError:  # a full disk: the flock is the lock, the text only says who holds it
            pass
        self._fd = fd
        return self

    def release(self) -> None:
        if self._fd is not None:
            with contextlib.suppress(OSError):
                os.ftruncate(self._fd, 0)  # nobody holds it now
            os.close(self._fd)  # closing drops the lock
            self._fd = None

    def __enter__(self) -> HomeLock:
        return self.acquire()

    def __exit__(self, *_: object) -> None:
        self.release()


def serving(home: Path) -> Holder | None:
    """Who serves HOME now, or None when no controller runs there."""
    try:
        fd = os.open(home / LOCK_FILE, os.O_RDONLY)
    except OSError:
        return None
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        return _read(fd)
    else:
        fcntl.flock(fd, fcntl.LOCK_UN)
        return None
    finally:
        os.close(fd)


def _read(fd: int) -> Holder:
    """The holder's pid and start time, as it wrote them (empty while it is starting)."""
    try:
        text = os.pread(fd, 4096, 0).decode("utf-8", "replace")
    except OSError:
        text = ""
    fields = dict(line.partition(": ")[::2] for line in text.splitlines())
    pid = fields.get("pid", "")
    return Holder(int(pid) if pid.isdigit() else None, fields.get("since", ""))
