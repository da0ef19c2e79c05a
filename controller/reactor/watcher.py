"""Notices pushes at once: watchdog (inotify) on the bare repository's refs.

A ref update arrives as `<ref>.lock` created, written, then renamed to `<ref>`; deleting
a packed ref only renames `packed-refs.new`. So any event under refs/ or on packed-refs
pokes the loop, which re-reads the refs itself: an event is a hint, never the data. The
loop's own poll is the safety net for anything the watcher misses.

A `.lock` file being created or written is a ref update in progress, not yet one that
happened: the new value lands with the rename onto the ref (the moved event, which does
poke), so it pokes nothing. A pass woken by the lock read the old value and was wasted;
worse, over HTTP it ran in the same process as the receive-pack still writing that ref,
and delayed it (measured: bench section 1).

Only events that change something count. Every pass opens refs/heads/main to read it; with
watchdog's default mask that open (IN_OPEN, IN_CLOSE_NOWRITE) woke the loop again, so an
idle controller ran passes back to back for ever (40-80% of a core). The filter is also
handed to inotify, so reads do not even wake the watcher's threads.

The ref a push moves (the config branch) is also watched by `refnotify.RefNotify`, in one
hop instead of watchdog's three threads; while it runs, this handler leaves that ref to it.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

from watchdog.events import (
    DirCreatedEvent,
    DirDeletedEvent,
    DirModifiedEvent,
    DirMovedEvent,
    FileClosedEvent,
    FileCreatedEvent,
    FileDeletedEvent,
    FileModifiedEvent,
    FileMovedEvent,
    FileSystemEvent,
    FileSystemEventHandler,
)
from watchdog.observers import Observer

from controller.reactor.refnotify import RefNotify

# Created, modified, moved, deleted, closed after a write: never opened or read.
CHANGES = (FileCreatedEvent, FileModifiedEvent, FileMovedEvent, FileDeletedEvent,
           FileClosedEvent, DirCreatedEvent, DirModifiedEvent, DirMovedEvent, DirDeletedEvent)
_CHANGE_TYPES = frozenset(cls.event_type for cls in CHANGES)


def changes(event: FileSystemEvent) -> bool:
    """True for an event that changes a file (observers without a kernel filter send all)."""
    return event.event_type in _CHANGE_TYPES


class _RefEvents(FileSystemEventHandler):
    def __init__(self, repo: Path, poke: Callable[[], None], ignore: tuple[str, ...],
                 fast: RefNotify | None = None) -> None:
        self._repo = str(repo)
        self._poke = poke
        self._ignore = ignore
        self._fast = fast
        self._fast_ref = os.path.relpath(fast.ref, repo) if fast else ""

    def on_any_event(self, event: FileSystemEvent) -> None:
        # A folder's "modified" only echoes a change to a file in it, which has its own
        # event; for refs/heads it would echo every write of our own state branch.
        if not changes(event) or (event.is_directory and event.event_type == "modified"):
            return
        moved = event.event_type == "moved"
        if event.event_type in ("moved", "closed") and self._fast is not None and \
                self._fast.alive and self._landed(event) == self._fast_ref:
            return  # poked already, by the fast watch (renamed onto the ref, or written)
        for raw in (event.src_path, getattr(event, "dest_path", "") or ""):
            path = os.fsdecode(raw)
            if not path or (path.endswith(".lock") and not moved):
                continue
            rel = os.path.relpath(path, self._repo)
            if rel.startswith(self._ignore):
                continue
            if rel.startswith("refs") or rel.startswith("packed-refs") or rel == "HEAD":
                self._poke()
                return

    def _landed(self, event: FileSystemEvent) -> str:
        """The file a change left in place (a rename's destination), relative to the repo."""
        where = os.fsdecode(getattr(event, "dest_path", "") or event.src_path)
        return os.path.relpath(where, self._repo)


class _Requests(FileSystemEventHandler):
    """A request file that arrived: written as .NAME.tmp, then renamed to NAME.yml."""

    def __init__(self, poke: Callable[[], None]) -> None:
        self._poke = poke

    def on_any_event(self, event: FileSystemEvent) -> None:
        # Deleting a handled request is the controller's own doing and asks for nothing.
        if not changes(event) or event.is_directory or event.event_type == "deleted":
            return
        landed = getattr(event, "dest_path", "") or event.src_path  # a rename: where to
        if not os.fsdecode(landed).endswith(".tmp"):
            self._poke()


class RefWatcher:
    """Pokes when any ref of `repo` except the ignored ones (our state branch) changes;
    `fast_ref` (e.g. refs/heads/main, the ref pushes move) in one hop where it can."""

    def __init__(self, repo: Path, poke: Callable[[], None], ignore_refs: tuple[str, ...] = (),
                 fast_ref: str = ""):
        self._observer = Observer()
        self._fast = RefNotify(Path(repo) / fast_ref, poke) if fast_ref else None
        handler = _RefEvents(repo, poke, ignore_refs, self._fast)
        self._observer.schedule(handler, str(repo), recursive=False, event_filter=list(CHANGES))
        self._observer.schedule(handler, str(repo / "refs"), recursive=True,
                                event_filter=list(CHANGES))

    def watch_dir(self, folder: Path, poke: Callable[[], None]) -> None:
        """Also poke on any change in `folder` (requests dropped by the CLI)."""
        folder.mkdir(parents=True, exist_ok=True)
        self._observer.schedule(_Requests(poke), str(folder), recursive=False,
                                event_filter=list(CHANGES))

    def start(self) -> None:
        if self._fast is not None:
            self._fast.start()  # False: watchdog keeps that ref too
        self._observer.start()

    @property
    def alive(self) -> bool:
        return self._observer.is_alive()

    def stop(self) -> None:
        if self._fast is not None:
            self._fast.stop()
        self._observer.stop()
        self._observer.join(timeout=5)
