"""Disk and git trouble: a full disk, a corrupted loose object, a ref locked by another
git process. Each gives a clear error, corrupts nothing, and the controller recovers on
its own once the trouble goes away.
"""

from __future__ import annotations

import os
import signal
import subprocess
import threading
import time
from pathlib import Path

import pytest

from tests.harness.commands import run
from tests.harness.home import Home
from tests.harness.hostile_cases import GOOD, Y
from tests.harness.wait import wait_for


def start(home: Home, logs: Path) -> None:
    """`gitline serve` with its log outside HOME (HOME may be the disk that is full)."""
    home.start("--poll", "1", "--listen", "", log_dir=logs)


def first_run(home: Home, logs: Path) -> None:
    start(home, logs)
    home.write(Y, GOOD)
    home.push("good")
    home.wait_runs("paint", 1, timeout=60)
    home.wait_idle(60)


def fsck_clean(home: Home) -> None:
    done = run("git", "--git-dir", home.repo, "fsck", "--full", check=False)
    assert done.returncode == 0, done.stderr


@pytest.fixture
def tmpfs(tmp_path: Path):
    mount = tmp_path / "disk"
    mount.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=48m", "tmpfs", str(mount)],
                          capture_output=True, text=True)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a small tmpfs here: {done.stderr.strip()}")
    yield mount
    subprocess.run(["umount", "-l", str(mount)], capture_output=True)


def fill(path: Path) -> Path:
    """Write a file until the disk is full, to the last byte."""
    filler = path / "filler"
    fd = os.open(filler, os.O_WRONLY | os.O_CREAT, 0o644)
    try:
        for size in (1 << 20, 4096, 1):
            try:
                while True:
                    os.write(fd, b"\0" * size)
            except OSError:
                pass
    finally:
        os.close(fd)
    return filler


def test_full_disk_while_writing_state(tmpfs: Path, tmp_path: Path) -> None:
    home = Home.create(tmpfs, work=tmp_path / "work")
    try:
        first_run(home, tmp_path)
        home.stop()
        tip = home.git("rev-parse", "state").strip()
        home.write(Y, GOOD.replace("blue", "red"))
        head = home.push("red")  # accepted while there was room
        filler = fill(tmpfs)
        start(home, tmp_path)
        wait_for(lambda: "No space left on device" in home.server_log(), 60, "the disk error")
        time.sleep(2)  # several failed passes
        assert home.git("rev-parse", "state").strip() == tip  # nothing half-written
        fsck_clean(home)
        filler.unlink()  # the trouble goes away: the controller catches up by itself
        assert home.wait_runs("paint", 2, timeout=90)[-1] == "run 2 succeeded"
        assert home.status()["config"]["processed"] == head
        assert "painting red" in home.show("jobs/paint/log.txt")
        fsck_clean(home)
    finally:
        home.stop(signal.SIGKILL)


def test_corrupted_loose_object(home: Home, tmp_path: Path) -> None:
    first_run(home, tmp_path)
    home.stop()
    home.write(Y, GOOD.replace("blue", "green"))
    head = home.push("green")
    blob = home.git("rev-parse", f"{head}:{Y}").strip()
    path = home.repo / "objects" / blob[:2] / blob[2:]
    good_bytes = path.read_bytes()
    path.chmod(0o644)
    path.write_bytes(b"x\x9c this is not zlib")
    start(home, tmp_path)
    wait_for(lambda: "reconcile pass failed" in home.server_log(), 60, "the read error")
    log = home.server_log()
    assert f"shippable.yml: git object {blob} in " in log and "cannot be read" in log
    assert home.status()["config"]["processed"] != head  # not processed, not skipped
    path.write_bytes(good_bytes)  # repaired (e.g. from a backup or a clone)
    assert home.wait_runs("paint", 2, timeout=90)[-1] == "run 2 succeeded"
    assert "painting green" in home.show("jobs/paint/log.txt")
    fsck_clean(home)


def test_stale_lock_left_by_a_killed_writer(home: Home, tmp_path: Path) -> None:
    first_run(home, tmp_path)
    home.stop(signal.SIGKILL)
    lock = home.repo / "refs" / "heads" / "state.lock"
    lock.write_text("0" * 40 + "\n")
    old = time.time() - 600
    os.utime(lock, (old, old))
    home.write("triggers/paint", "")
    home.push("after the crash")
    start(home, tmp_path)
    assert home.wait_runs("paint", 2, timeout=90)[-1] == "run 2 succeeded"
    assert "removed stale lock" in home.server_log()
    assert not lock.exists()
    fsck_clean(home)


def test_ref_locked_by_another_git_process(home: Home, tmp_path: Path) -> None:
    """Another writer holds state.lock (fresh, kept fresh): the controller waits for it,
    then records the run once it is released; nothing is overwritten."""
    first_run(home, tmp_path)
    lock = home.repo / "refs" / "heads" / "state.lock"
    lock.write_text("0" * 40 + "\n")
    release = threading.Event()

    def hold() -> None:
        while not release.wait(0.5):
            os.utime(lock)

    holder = threading.Thread(target=hold)
    holder.start()
    try:
        tip = home.git("rev-parse", "state").strip()
        home.write("triggers/paint", "")
        home.push("while locked")
        time.sleep(4)
        assert home.git("rev-parse", "state").strip() == tip  # it waited
        assert lock.exists()  # and did not steal a live lock
    finally:
        release.set()
        holder.join()
        lock.unlink()
    assert home.wait_runs("paint", 2, timeout=90)[-1] == "run 2 succeeded"
    fsck_clean(home)
