"""A run's log as it is captured: masked, bounded to its head and tail, copied live.

Secret values are masked as the bytes come, before the cut, so a cut never halves a
secret. The log keeps the first and last `limit/2` bytes with a marker where the middle
was dropped; the live copy (for `gitline logs -f`) gets the masked stream as it comes,
up to `limit` bytes. `pump` drains a step's pipe into a capture.
"""

from __future__ import annotations

import os
import select
import threading
from collections import deque
from collections.abc import Iterable
from typing import Protocol

from controller.masking import StreamMasker, mask

LIVE_LOG_STOP = (b"\n[... the live log stops here; the run's log keeps its head and "
                 b"tail ...]\n")


class LiveSink(Protocol):
    """Where the live copy goes: the live log file, or a Tee of it (run.py)."""

    def write(self, data: bytes, /) -> int: ...

    def flush(self) -> None: ...


class LogCapture:
    """Keeps the first and last `limit/2` bytes of a stream; counts what it drops."""

    def __init__(self, limit: int, secrets: Iterable[str] = (),
                 live: LiveSink | None = None) -> None:
        limit = max(int(limit), 0)
        self.masker = StreamMasker(secrets)  # before the cut: a cut never halves a secret
        # the masked stream as it comes, for `gitline logs -f` (up to `limit` bytes)
        self.live, self.live_room = live, limit
        self.head_cap = limit // 2
        self.tail_cap = limit - self.head_cap
        self.head = bytearray()
        self.tail: deque[bytes] = deque()
        self.tail_len = 0
        self.dropped = 0
        self._lock = threading.Lock()

    @property
    def truncated(self) -> bool:
        return self.dropped > 0

    def write(self, data: bytes) -> None:
        with self._lock:
            masked = self.masker.feed(data)
            self._follow(masked)
            self._keep(masked)

    def line(self, text: str) -> None:
        self.write((text.rstrip("\n") + "\n").encode("utf-8", "replace"))

    def render(self, secrets: list[str]) -> str:
        """The whole log: head, a marker for what was dropped, tail; masked again whole."""
        with self._lock:
            rest = self.masker.flush()
            self._follow(rest)
            self._keep(rest)
            marker = b""
            if self.dropped:
                marker = f"\n[... log truncated: {self.dropped} bytes omitted ...]\n".encode()
            blob = bytes(self.head) + marker + b"".join(self.tail)
        return mask(blob.decode("utf-8", "replace"), secrets)

    def _follow(self, data: bytes) -> None:
        if self.live is None or not data:
            return
        try:
            if len(data) > self.live_room:
                data = data[:self.live_room] + LIVE_LOG_STOP
                self.live_room = 0
            else:
                self.live_room -= len(data)
            self.live.write(data)
            self.live.flush()
            if not self.live_room:
                self.live = None
        except OSError:  # a full disk stops the live copy, never the run
            self.live = None

    def _keep(self, data: bytes) -> None:
        room = self.head_cap - len(self.head)
        if room > 0:
            self.head += data[:room]
            data = data[room:]
        if data:
            self.tail.append(bytes(data))
            self.tail_len += len(data)
            self._trim()

    def _trim(self) -> None:
        while self.tail_len > self.tail_cap and self.tail:
            excess = self.tail_len - self.tail_cap
            first = self.tail[0]
            if len(first) <= excess:
                self.tail.popleft()
                cut = len(first)
            else:
                self.tail[0] = first[excess:]
                cut = excess
            self.tail_len -= cut
            self.dropped += cut


def pump(fd: int, capture: LogCapture, stop: threading.Event) -> None:
    """Read `fd` until EOF (or `stop` with nothing to read), keeping what fits."""
    while True:
        ready, _, _ = select.select([fd], [], [], 0.1)
        if ready:
            try:
                chunk = os.read(fd, 65536)
            except OSError:
                return
            if not chunk:
                return
            capture.write(chunk)
        elif stop.is_set():
            return
