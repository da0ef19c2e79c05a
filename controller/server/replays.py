"""Signed webhook deliveries seen before, so a replayed one makes no second version.

A signature (HMAC of the body) proves who sent a body, not when: anyone who saw one
delivery could send it again. So the digest of every signed delivery is kept in
HOME/webhook-deliveries, one `<sha256> <unix time>` line each, appended and fsynced before
the version is made (a restart remembers), and compacted to the newest `keep` entries
younger than `window` seconds. A delivery older than that window, or more than `keep`
deliveries back, is no longer recognised: both bounds are generous for webhook traffic.
"""

from __future__ import annotations

import hashlib
import os
import threading
import time
from pathlib import Path

from controller.atomicfile import write_atomic

DELIVERIES_FILE = "webhook-deliveries"
WINDOW = 30 * 24 * 3600.0  # seconds a delivery is remembered
KEEP = 50_000  # deliveries remembered at most


def delivery_key(where: str, body: bytes) -> str:
    """The digest that names one signed delivery of `body` to `where` (a resource, "git")."""
    return hashlib.sha256(where.encode() + b"\0" + body).hexdigest()


class DeliveryLog:
    """Thread-safe check-and-record of delivery keys, persisted in one bounded file."""

    def __init__(self, path: Path, *, window: float = WINDOW, keep: int = KEEP) -> None:
        self.path = Path(path)
        self.window = window
        self.keep = keep
        self._lock = threading.Lock()
        self._seen: dict[str, float] | None = None
        self._lines = 0  # lines in the file, to know when to compact

    def _load(self) -> dict[str, float]:
        if self._seen is None:
            seen: dict[str, float] = {}
            try:
                text = self.path.read_text(encoding="ascii", errors="replace")
            except FileNotFoundError:
                text = ""
            for line in text.splitlines():
                key, _, when = line.partition(" ")
                try:
                    seen[key] = float(when)
                except ValueError:
                    continue  # a torn last line: skip it
            self._lines = len(text.splitlines())
            self._seen = seen
            self._compact(time.time())
        return self._seen

    def _compact(self, now: float) -> None:
        assert self._seen is not None
        fresh = sorted(((t, k) for k, t in self._seen.items() if now - t < self.window))
        fresh = fresh[-self.keep:]
        self._seen = {k: t for t, k in fresh}
        if self._lines > len(fresh):
            write_atomic(self.path, "".join(f"{k} {t:.0f}\n" for t, k in fresh))
            self._lines = len(fresh)

    def first_time(self, key: str) -> float | None:
        """None if `key` is new (it is recorded now); else when it was first seen."""
        with self._lock:
            seen = self._load()
            if key in seen:
                return seen[key]
            now = time.time()
            seen[key] = now
            fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
            try:
                os.write(fd, f"{key} {now:.0f}\n".encode())
                os.fsync(fd)
            finally:
                os.close(fd)
            self._lines += 1
            if self._lines > 2 * self.keep:
                self._compact(now)
            return None

    def forget(self, key: str) -> None:
        """Undo first_time when the delivery could not be used (it may come again)."""
        with self._lock:
            seen = self._load()
            if seen.pop(key, None) is not None:
                self._compact(time.time())  # the file has one line more: rewritten
