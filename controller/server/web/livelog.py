"""A run's log as Server-Sent Events: the live file the local executor appends to
(`<work>/<job>/<run>.log`, as `gitline logs -f` reads it), then `end` with the status.

Each event's data is JSON, `{"text", "offset"}` (bytes of the file sent so far), so a
client that reconnects (`?offset=N`) resumes where it was. A stream holds one of the
listener's threads, so it lasts at most STREAM_SECONDS and the page's script reconnects;
at most `limit` streams run at once (503 past that: the page retries).
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator

from controller.server.web.data import WebData

STREAM_SECONDS = 25.0
STATUS_EVERY = 1.0  # the state branch once a second, not per read of the file
READ_EVERY = 0.25
CHUNK = 64 * 1024
KEEPALIVE_SECONDS = 2.0


def event(kind: str, data: dict[str, object]) -> bytes:
    return f"event: {kind}\ndata: {json.dumps(data)}\n\n".encode()


def _read(path: object, offset: int, final: bool) -> bytes:
    """New bytes from `offset`: whole lines only while the run goes on (a line is never
    cut inside a UTF-8 character), everything once it has ended."""
    try:
        with open(path, "rb") as f:  # type: ignore[call-overload]
            f.seek(offset)
            chunk: bytes = f.read(CHUNK)
    except OSError:
        return b""
    if final or len(chunk) == CHUNK:
        return chunk
    end = chunk.rfind(b"\n")
    return chunk[:end + 1] if end >= 0 else b""


class LogStreams:
    """Counts the streams open now; `stream` yields one run's events."""

    def __init__(self, data: WebData, limit: int) -> None:
        self.data = data
        self._slots = threading.BoundedSemaphore(max(1, limit))

    def try_open(self) -> bool:
        return self._slots.acquire(blocking=False)

    def stream(self, job: str, number: int, offset: int) -> Iterator[bytes]:
        """Call only after try_open() returned True; releases the slot when done."""
        try:
            yield b"retry: 1000\n\n"
            yield from self._follow(job, number, max(0, offset))
        finally:
            self._slots.release()

    def _follow(self, job: str, number: int, sent: int) -> Iterator[bytes]:
        path = self.data.live_log(job, number)
        deadline = time.monotonic() + STREAM_SECONDS
        status: str | None = None
        checked = 0.0
        had_file = sent > 0
        quiet_since = time.monotonic()
        while True:
            if time.monotonic() - checked >= STATUS_EVERY:
                checked = time.monotonic()
                status = self.data.run_status(job, number)  # before the file: nothing lost
            chunk = _read(path, sent, final=status is not None)
            if chunk:
                had_file = True
                sent += len(chunk)
                yield event("log", {"text": chunk.decode("utf-8", "replace"), "offset": sent})
                quiet_since = time.monotonic()
                continue
            if status is not None:
                if not had_file:  # no live file (a Celery worker's run): the recorded log
                    text = self.data.log(job, number) or ""
                    yield event("log", {"text": text, "offset": sent})
                yield event("end", {"status": status})
                return
            if time.monotonic() > deadline:
                return  # the client reconnects with ?offset=
            time.sleep(READ_EVERY)
            if time.monotonic() - quiet_since > KEEPALIVE_SECONDS:
                quiet_since = time.monotonic()
                yield b": keep-alive\n\n"  # writing to a gone client ends the stream
