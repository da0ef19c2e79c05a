"""The one ref a push moves, noticed in one hop: Linux inotify read by a thread of its own.

watchdog hands each inotify event through three threads (its reader, which also holds a
burst ~1 ms to coalesce it; its emitter; its observer) before our handler pokes the loop:
1.6 ms from the rename onto the ref to the poke in an idle process, 2.5-6 ms in the
controller during a push (bench section 1). Here one thread blocks in `read()` on its own
inotify descriptor, watching the ref's folder for a file renamed into it (git and dulwich
rename `<ref>.lock` onto the ref) or written in place, and pokes at once: ~0.2 ms.

Only a fast path: watchdog (reactor/watcher.py) still watches every ref, and the loop's
poll is the safety net. Elsewhere than Linux (or when the folder is missing) it does
nothing and says so (`alive` is False), and the watcher then handles that ref too.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging
import os
import select
import struct
import sys
import threading
from collections.abc import Callable
from pathlib import Path

log = logging.getLogger("gitline")

IN_CLOSE_WRITE = 0x008
IN_MOVED_TO = 0x080
IN_Q_OVERFLOW = 0x4000
IN_IGNORED = 0x8000  # the watch is gone (its folder was removed)
_EVENT = struct.Struct("iIII")  # struct inotify_event: wd, mask, cookie, len; then name


def _libc() -> ctypes.CDLL | None:
    if not sys.platform.startswith("linux"):
        return None
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
    except OSError:
        return None
    return libc if hasattr(libc, "inotify_init1") else None


def names(data: bytes) -> list[tuple[int, bytes]]:
    """(mask, name) of each event in a buffer read from an inotify descriptor."""
    found, offset = [], 0
    while offset + _EVENT.size <= len(data):
        _, mask, _, length = _EVENT.unpack_from(data, offset)
        start = offset + _EVENT.size
        found.append((mask, data[start:start + length].rstrip(b"\0")))
        offset = start + length
    return found


class RefNotify:
    """Pokes when the file `ref` (a path) is renamed into its folder or written in place."""

    def __init__(self, ref: Path, poke: Callable[[], None]) -> None:
        self.ref = Path(ref)
        self._poke = poke
        self._name = os.fsencode(self.ref.name)
        self._fd = -1
        self._stop_r, self._stop_w = -1, -1
        self._thread: threading.Thread | None = None

    def start(self) -> bool:
        """Watch; False (and nothing started) where inotify or the folder is missing."""
        libc = _libc()
        if libc is None or not self.ref.parent.is_dir():
            return False
        fd = libc.inotify_init1(os.O_CLOEXEC | os.O_NONBLOCK)
        if fd < 0:
            return False
        if libc.inotify_add_watch(fd, os.fsencode(self.ref.parent),
                                  IN_MOVED_TO | IN_CLOSE_WRITE) < 0:
            os.close(fd)
            return False
        self._fd = fd
        self._stop_r, self._stop_w = os.pipe()
        self._thread = threading.Thread(target=self._read, name="gitline-refnotify",
                                        daemon=True)
        self._thread.start()
        return True

    @property
    def alive(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def stop(self) -> None:
        if self._thread is None:
            return
        os.write(self._stop_w, b"x")
        self._thread.join(timeout=5)
        for fd in (self._fd, self._stop_r, self._stop_w):
            os.close(fd)
        self._thread = None

    def _read(self) -> None:
        poller = select.poll()
        poller.register(self._fd, select.POLLIN)
        poller.register(self._stop_r, select.POLLIN)
        try:
            while True:
                ready = {fd for fd, _ in poller.poll()}
                if self._stop_r in ready:
                    return
                try:
                    data = os.read(self._fd, 65536)
                except BlockingIOError:
                    continue
                events = names(data)
                if any(name == self._name or mask & IN_Q_OVERFLOW for mask, name in events):
                    self._poke()
                if any(mask & IN_IGNORED for mask, _ in events):
                    self._poke()  # watchdog takes the ref again (`alive` is False)
                    return
        except Exception:  # watchdog and the poll still notice the ref: log, go on without
            log.exception("the fast watch on %s stopped", self.ref)
