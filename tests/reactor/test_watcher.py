"""The ref watcher pokes for a ref that changed, never for a ref update still in progress
(its `.lock`), nor for reads, nor for the ignored state branch."""

from __future__ import annotations

import struct
import subprocess
import threading
import time
from pathlib import Path

from watchdog.events import (
    FileClosedEvent,
    FileCreatedEvent,
    FileDeletedEvent,
    FileModifiedEvent,
    FileMovedEvent,
    FileOpenedEvent,
)

from controller.reactor import refnotify
from controller.reactor.watcher import RefWatcher, _RefEvents
from tests.harness.wait import wait_for


def _pokes(repo: Path, *events: object) -> int:
    count = [0]
    handler = _RefEvents(repo, lambda: count.__setitem__(0, count[0] + 1),
                         ("refs/heads/state",))
    for event in events:
        handler.on_any_event(event)  # type: ignore[arg-type]
    return count[0]


def test_a_lock_pokes_only_when_it_lands_on_the_ref(tmp_path: Path) -> None:
    heads = tmp_path / "refs" / "heads"
    lock, ref = str(heads / "main.lock"), str(heads / "main")
    assert _pokes(tmp_path, FileCreatedEvent(lock), FileModifiedEvent(lock),
                  FileClosedEvent(lock)) == 0  # written, not yet the ref
    assert _pokes(tmp_path, FileMovedEvent(lock, ref)) == 1  # the update happened
    assert _pokes(tmp_path, FileDeletedEvent(lock)) == 0  # an update given up
    packed = str(tmp_path / "packed-refs")
    assert _pokes(tmp_path, FileCreatedEvent(packed + ".lock")) == 0
    assert _pokes(tmp_path, FileMovedEvent(packed + ".lock", packed)) == 1
    assert _pokes(tmp_path, FileDeletedEvent(ref)) == 1  # a deleted loose ref
    assert _pokes(tmp_path, FileOpenedEvent(ref)) == 0  # a read
    state = str(heads / "state")
    assert _pokes(tmp_path, FileMovedEvent(state + ".lock", state)) == 0  # our own branch


def test_a_real_ref_update_pokes(tmp_path: Path) -> None:
    repo = tmp_path / "r.git"
    subprocess.run(["git", "init", "-q", "--bare", str(repo)], check=True)
    env = {"GIT_AUTHOR_NAME": "a", "GIT_AUTHOR_EMAIL": "a@x", "GIT_COMMITTER_NAME": "a",
           "GIT_COMMITTER_EMAIL": "a@x", "PATH": "/usr/bin:/bin"}
    tree = subprocess.run(["git", "--git-dir", str(repo), "mktree"], input="", text=True,
                          capture_output=True, check=True).stdout.strip()
    commit = subprocess.run(["git", "--git-dir", str(repo), "commit-tree", tree, "-m", "x"],
                            text=True, capture_output=True, check=True, env=env).stdout.strip()
    poked = threading.Event()
    watcher = RefWatcher(repo, poked.set, ignore_refs=("refs/heads/state",))
    watcher.start()
    try:
        subprocess.run(["git", "--git-dir", str(repo), "update-ref", "refs/heads/state",
                        commit], check=True)
        assert not poked.wait(0.5)  # the ignored branch
        subprocess.run(["git", "--git-dir", str(repo), "update-ref", "refs/heads/main",
                        commit], check=True)
        assert poked.wait(10)
    finally:
        watcher.stop()


def _update_ref(repo: Path, ref: str) -> None:
    env = {"GIT_AUTHOR_NAME": "a", "GIT_AUTHOR_EMAIL": "a@x", "GIT_COMMITTER_NAME": "a",
           "GIT_COMMITTER_EMAIL": "a@x", "PATH": "/usr/bin:/bin"}
    tree = subprocess.run(["git", "--git-dir", str(repo), "mktree"], input="", text=True,
                          capture_output=True, check=True).stdout.strip()
    commit = subprocess.run(["git", "--git-dir", str(repo), "commit-tree", tree, "-m", ref],
                            text=True, capture_output=True, check=True, env=env).stdout.strip()
    subprocess.run(["git", "--git-dir", str(repo), "update-ref", ref, commit], check=True)


def test_the_pushed_ref_pokes_once_through_the_fast_watch(tmp_path: Path) -> None:
    repo = tmp_path / "r.git"
    subprocess.run(["git", "init", "-q", "--bare", str(repo)], check=True)
    pokes: list[str] = []
    watcher = RefWatcher(repo, lambda: pokes.append(threading.current_thread().name),
                         ignore_refs=("refs/heads/state",), fast_ref="refs/heads/main")
    watcher.start()
    try:
        assert watcher._fast is not None and watcher._fast.alive  # Linux: inotify
        _update_ref(repo, "refs/heads/state")
        time.sleep(0.5)
        assert pokes == []  # the ignored branch, by either watch
        _update_ref(repo, "refs/heads/main")
        wait_for(lambda: pokes, 10, "the fast watch's poke")
        time.sleep(0.5)
        assert pokes == ["gitline-refnotify"]  # watchdog leaves that ref to it
        _update_ref(repo, "refs/heads/other")  # any other ref: watchdog's, as before
        wait_for(lambda: len(pokes) == 2, 10, "watchdog's poke")
    finally:
        watcher.stop()
    assert not watcher._fast.alive


def test_without_the_fast_watch_watchdog_pokes_for_that_ref_too(tmp_path: Path) -> None:
    repo = tmp_path / "r.git"
    subprocess.run(["git", "init", "-q", "--bare", str(repo)], check=True)
    poked = threading.Event()  # the ref's folder does not exist yet: no fast watch
    watcher = RefWatcher(repo, poked.set, fast_ref="refs/heads/team/main")
    watcher.start()
    try:
        assert watcher._fast is not None and not watcher._fast.alive
        _update_ref(repo, "refs/heads/team/main")
        assert poked.wait(10)
    finally:
        watcher.stop()


def test_inotify_events_are_read_with_their_names() -> None:
    one = struct.pack("iIII", 1, refnotify.IN_MOVED_TO, 7, 16) + b"main".ljust(16, b"\0")
    two = struct.pack("iIII", 1, refnotify.IN_CLOSE_WRITE, 0, 0)
    assert refnotify.names(one + two) == [(refnotify.IN_MOVED_TO, b"main"),
                                          (refnotify.IN_CLOSE_WRITE, b"")]



def test_the_fast_watch_ends_when_its_folder_goes_and_watchdog_takes_the_ref(tmp_path):
    heads = tmp_path / "refs" / "heads" / "team"
    heads.mkdir(parents=True)
    pokes: list[str] = []
    fast = refnotify.RefNotify(heads / "main", lambda: pokes.append("poke"))
    assert fast.start()
    try:
        heads.rmdir()
        wait_for(lambda: not fast.alive, 10, "the fast watch to end")
        assert pokes == ["poke"]
    finally:
        fast.stop()
