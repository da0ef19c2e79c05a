"""One background thread that sends what is queued, in order (notifications, commit
statuses): the loop thread only decides and queues; a batch that fails is logged and never
stops the next; `stop` also cuts a retry's wait short (`_stop`, for send_with_retries)."""

from __future__ import annotations

import logging
import queue
import threading
from dataclasses import dataclass, field
from typing import ClassVar, Generic, TypeVar

log = logging.getLogger("gitline")

T = TypeVar("T")


@dataclass
class SendThread(Generic[T]):
    """Subclasses say what sending a batch is (`send`) and how a failed one is logged."""

    thread_name: ClassVar[str] = "gitline-send"
    _queue: queue.Queue[T | None] = field(default_factory=queue.Queue, kw_only=True,
                                          repr=False)
    _stop: threading.Event = field(default_factory=threading.Event, kw_only=True, repr=False)
    _thread: threading.Thread | None = field(default=None, kw_only=True, repr=False)

    def start(self) -> None:
        self._thread = threading.Thread(target=self._work, name=self.thread_name, daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        self._queue.put(None)
        if self._thread is not None:
            self._thread.join(timeout)

    def send(self, batch: T) -> object:
        raise NotImplementedError

    def failed(self, batch: T) -> str:
        """What the log says when sending `batch` raised."""
        return "sending failed"

    def _work(self) -> None:
        while (batch := self._queue.get()) is not None:
            try:
                self.send(batch)
            except Exception:  # never let one batch stop the others
                log.exception("%s", self.failed(batch))
