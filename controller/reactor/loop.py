"""Runs reconcile passes: at once when poked (a push, a finished run), else every N seconds.

Pokes that arrive during a pass are not lost: the flag is cleared before the pass starts,
so a poke during it causes one more pass. A failing pass is logged and retried; it never
stops the controller.

Each pass logs one debug line (`gitline serve -v`): its number, what woke it and how long
it took, so that a controller that never rests shows itself at once.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

log = logging.getLogger("gitline")


class Loop:
    def __init__(self, run_pass: Callable[[], None], poll_seconds: float = 10.0) -> None:
        self._run_pass = run_pass
        self._poll = poll_seconds
        self._wake = threading.Event()
        self.passes = 0

    def poke(self) -> None:
        self._wake.set()

    def run(self, stop: threading.Event) -> None:
        backoff = 0.1
        self._wake.set()  # the first pass catches up with whatever happened while down
        while not stop.is_set():
            woken = self._wake.wait(self._poll)
            if stop.is_set():
                return
            self._wake.clear()
            started = time.monotonic()
            try:
                self._run_pass()
                backoff = 0.1
                log.debug("reconcile pass %d (%s) took %.0f ms", self.passes + 1,
                          "poked" if woken else "poll", (time.monotonic() - started) * 1000)
            except Exception:  # one bad pass must not stop the controller
                log.exception("reconcile pass failed; retrying in %.1fs", backoff)
                time.sleep(backoff)
                backoff = min(backoff * 2, 5.0)
                self._wake.set()
            self.passes += 1
