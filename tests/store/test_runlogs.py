"""run_logs_kept: the newest N run logs of a job on the tip of the state branch; older
ones leave the tip but every one is still read from history (`gitline logs JOB N`)."""

from __future__ import annotations

import dataclasses
import subprocess
from pathlib import Path

import pytest

from controller.core import model
from controller.store.gitstate import GitStateStore
from controller.store.statereader import open_readers

CAUSE = model.Cause("manual", "me")


def _runs(store: GitStateStore, job: str, numbers: range) -> None:
    for n in numbers:
        run = model.Run(job, n, "queued", CAUSE)
        store.record_run(run)
        store.record_run(dataclasses.replace(run, status="running"))
        store.record_run(dataclasses.replace(run, status="succeeded"), log=f"{job} log {n}\n")


def _tip_files(repo: Path, folder: str) -> list[str]:
    out = subprocess.run(["git", "--git-dir", str(repo), "ls-tree", "--name-only", "state:"
                          + folder], capture_output=True, text=True).stdout
    return out.split()


@pytest.mark.parametrize("kept", [1, 3])
def test_the_newest_logs_stay_on_the_tip_and_all_read_back(repo: Path, kept: int) -> None:
    store = GitStateStore(repo, logs_kept=kept)
    _runs(store, "build", range(1, 7))
    files = _tip_files(repo, "jobs/build/logs")
    assert files == ([] if kept == 1 else ["4.txt", "5.txt", "6.txt"])
    assert "log.txt" in _tip_files(repo, "jobs/build")
    _, reader, cat = open_readers(repo, "main", "state")
    with cat:
        for number in (None, 1, 2, 4, 6, 7):
            want = None if number == 7 else f"build log {number or 6}\n"
            assert store.read_log("build", number) == want
            assert reader.read_log("build", number) == want
    # the trimmed ones are in history: the commit that ended run 1 has it
    shown = subprocess.run(["git", "--git-dir", str(repo), "log", "--format=%H", "state", "--",
                            "jobs/build/log.txt"], capture_output=True, text=True).stdout
    assert len(shown.split()) == 6


def test_a_smaller_setting_trims_at_the_next_end_and_1_removes_the_folder(repo: Path) -> None:
    _runs(GitStateStore(repo, logs_kept=5), "build", range(1, 6))
    assert len(_tip_files(repo, "jobs/build/logs")) == 5
    _runs(GitStateStore(repo, logs_kept=2), "build", range(6, 7))
    assert _tip_files(repo, "jobs/build/logs") == ["5.txt", "6.txt"]
    store = GitStateStore(repo, logs_kept=1)
    _runs(store, "build", range(7, 8))
    assert _tip_files(repo, "jobs/build/logs") == []
    assert store.read_log("build", 2) == "build log 2\n"


def test_a_run_that_ends_after_newer_ones_is_kept_only_if_among_the_newest(repo: Path) -> None:
    store = GitStateStore(repo, logs_kept=2)
    _runs(store, "build", range(2, 4))
    late = model.Run("build", 1, "succeeded", CAUSE)
    store.record_run(late, log="late\n")
    assert _tip_files(repo, "jobs/build/logs") == ["2.txt", "3.txt"]
    assert store.read_log("build", 1) == "late\n"
    assert store.read_log("build", 3) == "build log 3\n"


def test_the_setting_reaches_the_controllers_store_and_logs_reads_trimmed_ones(
        tmp_path: Path) -> None:
    """HOME/gitline.yml's run_logs_kept is the store's; `gitline logs JOB N` (service
    read_log, through the CLI's cat-file reader) reads a log trimmed from the tip."""
    from controller.service.logs import read_log
    from controller.service.repos import open_readers, open_repos
    from controller.settings import Settings
    from tests.harness.home import make_home

    home = make_home(tmp_path / "home")
    with (home / "gitline.yml").open("a") as f:
        f.write("run_logs_kept: 2\n")
    settings = Settings.load(home)
    _, store = open_repos(settings)
    assert store.logs_kept == 2
    _runs(store, "build", range(1, 5))
    repo = settings.repo_path
    assert _tip_files(repo, "jobs/build/logs") == ["3.txt", "4.txt"]
    config, reader, cat = open_readers(settings)
    with cat:
        assert read_log(config, reader, "build", 1) == "build log 1\n"  # from history
        assert read_log(config, reader, "build", 3) == "build log 3\n"  # from the tip
        assert read_log(config, reader, "build", None) == "build log 4\n"
