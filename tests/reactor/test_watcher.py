"""The ref watcher pokes for a ref that changed, never for a ref update still in progress
(its `.lock`), nor for reads, nor for the ignored state branch."""

from __future__ import annotations

import subprocess
import threading
from pathlib import Path

from watchdog.events import (
    FileClosedEvent,
    FileCreatedEvent,
    FileDeletedEvent,
    FileModifiedEvent,
    FileMovedEvent,
    FileOpenedEvent,
)

from controller.reactor.watcher import RefWatcher, _RefEvents


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
