"""Ref updates of the branch writers: in flight, stale locks, retries. No pygit2 here.

Shared by the state branch's writer (refs.py, pygit2) and the one-file commits to the
config branch (filecommit.py, the git CLI): a `<ref>.lock` left by a killed writer is
removed once it is older than STALE_LOCK_SECONDS, never while this process updates the
ref; a write that loses a race backs off and tries again until WRITE_DEADLINE_SECONDS.
"""

from __future__ import annotations

import contextlib
import os
import random
import threading
import time
from collections.abc import Iterator
from pathlib import Path

STALE_LOCK_SECONDS = 5.0  # a ref lock is held for microseconds; older than this is dead
WRITE_DEADLINE_SECONDS = 30.0  # give up a write after this long (covers a stale lock)

_IN_FLIGHT: dict[str, int] = {}  # lock file path -> ref updates running in this process
_IN_FLIGHT_LOCK = threading.Lock()


class StateWriteError(RuntimeError):
    """A commit could not be appended before the deadline (the ref stayed locked)."""


def lock_path(git_dir: str | os.PathLike[str], ref: str) -> Path:
    return Path(git_dir) / f"{ref}.lock"


@contextlib.contextmanager
def updating(git_dir: str | os.PathLike[str], ref: str) -> Iterator[None]:
    """While this process updates `ref`: its lock is not stale, whatever its age."""
    key = str(lock_path(git_dir, ref))
    with _IN_FLIGHT_LOCK:
        _IN_FLIGHT[key] = _IN_FLIGHT.get(key, 0) + 1
    try:
        yield
    finally:
        with _IN_FLIGHT_LOCK:
            _IN_FLIGHT[key] -= 1


def clear_stale_lock(git_dir: str | os.PathLike[str], ref: str,
                     stale_after: float | None = None) -> bool:
    """Remove `<ref>.lock` if a killed writer left it (older than `stale_after`, by default
    STALE_LOCK_SECONDS as it is when called); True if removed."""
    path = lock_path(git_dir, ref)
    if stale_after is None:
        stale_after = STALE_LOCK_SECONDS
    with _IN_FLIGHT_LOCK:
        if _IN_FLIGHT.get(str(path), 0) > 0:
            return False
        try:
            age = time.time() - path.stat().st_mtime
        except FileNotFoundError:
            return False
        if age < stale_after:
            return False
        try:
            path.unlink()
        except FileNotFoundError:
            return False
    import logging  # only here: the CLI's writes must not pay for it at start-up

    logging.getLogger(__name__).warning(
        "removed stale lock %s (%.0f s old) left by a killed writer", path, age)
    return True


def back_off(attempt: int) -> None:
    """Sleep before attempt `attempt` + 1 of a write that lost a race (jittered)."""
    time.sleep(min(0.002 * 2 ** min(attempt, 6), 0.1) * random.uniform(0.5, 1.5))
