"""The CLI's `git cat-file` readers answer exactly as GitStateStore and ConfigRepo do."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest

from controller.core import loader, model
from controller.store import history_index
from controller.store.catfile import CatFile, GitCommandError
from controller.store.configrepo import ConfigRepo
from controller.store.gitstate import GitStateStore
from controller.store.statereader import open_readers

CAUSE = model.Cause("trigger", "triggers/deploy", "1a2b3c4d5e", "Ada <ada@example.com>")


def _writes(store: GitStateStore, rounds: int) -> None:
    for n in range(1, rounds + 1):
        store.append_version(model.Version("app", n, f"1.{n}", {"n": n}, created_by="x"))
        run = model.Run("deploy", n, "queued", CAUSE, (model.InputVersion("app", "resource", n),))
        store.record_run(run)
        run = dataclasses.replace(run, worker=f"w{n}@localhost" if n % 2 else "")
        store.record_run(dataclasses.replace(run, status="running"))
        store.record_run(dataclasses.replace(run, status="succeeded"), log=f"log {n}\n")
        store.record_config(processed=f"{n:040d}", good=f"{n:040d}", problems=())
    store.record_run(model.Run("deploy", rounds + 1, "queued", CAUSE))  # one still active


def test_state_reads_are_the_same_as_the_stores(repo: Path) -> None:
    store = GitStateStore(repo)
    _, reader, cat = open_readers(repo, "main", "state")
    with cat:
        assert reader.read_snapshot() == model.Snapshot()
        assert list(reader.history("app")) == []
        _writes(store, rounds=4)
        assert reader.read_snapshot() == store.read_snapshot()
        assert reader.read_config_record() == store.read_config_record()
        for name in ("app", "deploy", "nothing"):
            for limit in (1, 3, 100):
                assert list(reader.history(name, limit)) == list(store.history(name, limit))
        for number in (None, 1, 4, 5, 99):
            assert reader.read_log("deploy", number) == store.read_log("deploy", number)
        assert reader.read_log("nothing") is None
        with pytest.raises(ValueError):
            reader.history("../x")


def test_a_long_walk_saves_the_index_as_the_store_does(repo: Path) -> None:
    store = GitStateStore(repo)
    for n in range(history_index.INDEX_SAVE_WALK + 20):
        store.append_version(model.Version("noise", n + 1))
    index = history_index.index_path(repo, "state")
    index.unlink(missing_ok=True)
    _, reader, cat = open_readers(repo, "main", "state")
    with cat:
        assert [e.version.number for e in reader.history("noise", 2)] == [520, 519]
    saved = json.loads(index.read_text())
    assert saved["tip"] == store.tip() and saved["latest"]["noise"] == store.tip()


def test_workflow_files_are_the_same_as_the_config_repos(repo: Path, git, tmp_path) -> None:
    work = tmp_path / "work"
    git("clone", "-q", str(repo), str(work))
    (work / "ci").mkdir()
    (work / "shippable.yml").write_text("resources: []\n")
    (work / "ci" / "a.shippable.yml").write_text("jobs: []\n")
    (work / "notes.txt").write_text("not a workflow\n")
    (work / "link.shippable.yml").symlink_to("shippable.yml")
    git("add", "-A", cwd=work)
    git("commit", "-qm", "files", cwd=work)
    git("push", "-q", "origin", "HEAD:main", cwd=work)
    config = ConfigRepo(repo)
    reader, _, cat = open_readers(repo, "main", "state")
    with cat:
        head = reader.head()
        assert head == config.head()
        assert (reader.workflow_files(head, loader.is_workflow_file)
                == config.workflow_files(head, loader.is_workflow_file))
        with pytest.raises(KeyError):
            reader.workflow_files("0" * 40, loader.is_workflow_file)


def test_a_directory_that_is_not_a_repository_is_a_read_error(tmp_path: Path) -> None:
    with CatFile(tmp_path) as cat, pytest.raises(GitCommandError, match="not a git repository"):
        cat.read("HEAD")
