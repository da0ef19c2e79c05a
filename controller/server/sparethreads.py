"""Daemon threads kept for the next task: a push by path's answer is two hand-offs (the
connection, then its answer under a time limit), and starting a thread for each cost
1.5-2 ms while git's processes of the same push held both cores (bench section 1 stamps);
waking a thread that waits costs a fraction of that.

Unlike `concurrent.futures.ThreadPoolExecutor`, the threads are daemons: an answer that
hangs never holds the controller's exit (the interpreter joins a pool's threads at exit).
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable
from concurrent.futures import Future
from typing import Any, TypeVar

T = TypeVar("T")


class SpareThreads:
    """Runs each task on a waiting thread, or on a new one when none waits; at most
    `keep` threads wait for work at a time (the others end)."""

    def __init__(self, name: str, keep: int = 4) -> None:
        self.name = name
        self.keep = keep
        self._tasks: queue.SimpleQueue[Callable[[], None]] = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._idle = 0  # threads waiting for a task
        self._count = 0

    def submit(self, fn: Callable[..., T], *args: Any) -> Future[T]:
        """Run `fn(*args)` on a spare thread; its result (or exception) in the Future."""
        future: Future[T] = Future()

        def task() -> None:
            if not future.set_running_or_notify_cancel():
                return
            try:
                future.set_result(fn(*args))
            except BaseException as err:  # noqa: BLE001 - handed to the Future's reader
                future.set_exception(err)

        with self._lock:
            spare = self._idle > 0
            if spare:
                self._idle -= 1  # taken: the next submit starts a thread of its own
            else:
                self._count += 1
                count = self._count
        self._tasks.put(task)
        if not spare:
            threading.Thread(target=self._work, name=f"{self.name}-{count}",
                             daemon=True).start()
        return future

    def _work(self) -> None:
        while True:
            self._tasks.get()()
            with self._lock:
                if self._idle >= self.keep:
                    return
                self._idle += 1
