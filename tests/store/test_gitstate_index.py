"""History in O(versions) through `Gitline-Previous`, the kept-in-step snapshot, gc."""

from __future__ import annotations

import dataclasses
import os
import subprocess
from pathlib import Path

import pygit2
import pytest

from controller.core import model
from controller.store import commitmessages, refs, trees, yamlio
from controller.store.gitstate import GitStateStore
from controller.store.statestore import RunRecord

CAUSE = model.Cause("trigger", "triggers/deploy", "1a2b3c4d5e", "Ada <ada@example.com>")


def _mixed_writes(store: GitStateStore, rounds: int = 5) -> None:
    for n in range(1, rounds + 1):
        store.append_version(model.Version("app", n, f"1.{n}", {"n": n}, created_by="x"))
        store.append_version(model.Version("other", n, created_by="x"))
        run = model.Run("deploy", n, "queued", CAUSE, (model.InputVersion("app", "resource", n),))
        store.record_run(run)
        store.record_run(dataclasses.replace(run, status="running"))
        store.record_run(dataclasses.replace(run, status="succeeded"), log=f"log {n}\n")
        store.record_config(processed=f"{n:040d}", good=f"{n:040d}", problems=())


def test_each_commit_names_the_previous_commit_of_its_object(repo: Path, git) -> None:
    store = GitStateStore(repo)
    _mixed_writes(store, rounds=3)
    shas = git.out("log", "--format=%H", "state", "--", "resources/app", cwd=repo).split()
    previous = [
        git.out("log", "-1", "--format=%(trailers:key=Gitline-Previous,valueonly)", sha,
                cwd=repo)
        for sha in shas
    ]
    assert previous == [*shas[1:], "none"]


def test_history_reads_only_the_chain_of_one_object(repo: Path, monkeypatch) -> None:
    store = GitStateStore(repo)
    _mixed_writes(store, rounds=4)
    for n in range(200):  # a long history of something else
        store.append_version(model.Version("noise", n + 1))
    reads: list[str] = []
    real_get = pygit2.Repository.get

    def counting_get(self, key, default=None):
        reads.append(str(key))
        return real_get(self, key, default)

    monkeypatch.setattr(pygit2.Repository, "get", counting_get)
    numbers = [e.version.number for e in store.history("app")]  # type: ignore[union-attr]
    assert numbers == [4, 3, 2, 1]
    assert len(reads) < 40  # not ~220 commits
    runs = [(e.run.number, e.run.status) for e in store.history("deploy")]  # type: ignore[union-attr]
    assert runs == [(4, "succeeded"), (3, "succeeded"), (2, "succeeded"), (1, "succeeded")]
    assert store.read_log("deploy", 2) == "log 2\n"


@pytest.mark.parametrize("index", ["missing", "stale", "damaged", "foreign tip"])
def test_a_new_reader_rebuilds_or_catches_up_the_index(repo: Path, index: str) -> None:
    store = GitStateStore(repo)
    _mixed_writes(store, rounds=2)
    store.maintain(limit=10**9)  # saves the index at this tip
    _mixed_writes(store, rounds=3)  # numbers 1..3 again: versions 1..3 after 1..2
    path = repo / "gitline" / "index-state.json"
    if index == "missing":
        path.unlink()
    elif index == "damaged":
        path.write_text("{not json")
    elif index == "foreign tip":
        path.write_text('{"tip": "' + "e" * 40 + '", "latest": {"app": "' + "e" * 40 + '"}}')
    reader = GitStateStore(repo)
    numbers = [e.version.number for e in reader.history("app", limit=100)]  # type: ignore[union-attr]
    assert numbers == [3, 2, 1, 2, 1]


def test_commits_without_the_trailer_are_followed_by_a_first_parent_walk(repo: Path) -> None:
    store = GitStateStore(repo)
    raw = pygit2.Repository(str(repo))
    for n in (1, 2):  # written as an older Gitline did: no Previous trailer
        version = model.Version("app", n, created_by="x")
        text = yamlio.version_to_yaml(version).encode()
        message = commitmessages.format_message(commitmessages.version_subject(version),
                                                [("Resource", "app"), ("Version", str(n))])
        edits = {("resources", "app", "version.yml"): text}
        refs.cas_commit(raw, "refs/heads/state", lambda tip, e=edits, m=message: (e, m))
        store.append_version(model.Version("other", n))
    store.append_version(model.Version("app", 3, created_by="x"))
    numbers = [e.version.number for e in GitStateStore(repo).history("app")]  # type: ignore[union-attr]
    assert numbers == [3, 2, 1]


def test_the_kept_snapshot_equals_a_fresh_read(repo: Path) -> None:
    store = GitStateStore(repo)
    store.read_snapshot()
    _mixed_writes(store, rounds=1)
    for n in range(2, 5):
        store.read_snapshot()  # the snapshot is now kept in step by each write
        store.append_version(model.Version("app", n, created_by="y"))
        run = model.Run("deploy", n, "queued", CAUSE)
        store.record_run(run)
        store.record_run(dataclasses.replace(run, status="running"))
        if n == 3:
            store.record_run(dataclasses.replace(run, status="failed", exit_code=1))
        store.record_config(processed=f"{n:040d}", good="", problems=())
    kept = store.read_snapshot()
    assert kept == GitStateStore(repo).read_snapshot()
    assert [r.number for r in kept.jobs["deploy"].active] == [2, 4]


def test_records_read_back_once_written_equal_a_fresh_read(repo: Path) -> None:
    """Each record a write makes is parsed once, when written (jobfolder.run_edits): the
    snapshot kept after a burst, and the job's next record built from the counters read
    back, are what a new store reads from the branch."""
    store = GitStateStore(repo)
    store.read_snapshot()
    jobs = [f"j{i}" for i in range(5)]
    for status in ("queued", "running", "succeeded"):
        store.record_runs([RunRecord(model.Run(j, 1, status, CAUSE, message=" a\tb \n"))
                           for j in jobs])
    store.record_runs([RunRecord(model.Run(j, 2, "queued", CAUSE)) for j in jobs[:2]])
    kept = store.read_snapshot()
    assert kept == GitStateStore(repo).read_snapshot()
    assert kept.jobs["j0"].last_succeeded == 1 and kept.jobs["j4"].active == ()
    raw = pygit2.Repository(str(repo))
    assert raw.revparse_single("state:jobs/j0/job.yml").data == b"lastRun: 2\nlastSucceeded: 1\n"


def test_maintain_packs_loose_objects_and_reads_still_work(repo: Path, git) -> None:
    store = GitStateStore(repo)
    _mixed_writes(store, rounds=20)
    assert store.maintain(limit=0, wait=True)
    count = git.out("count-objects", "-v", cwd=repo)
    assert "count: 0" in count.splitlines()[0]
    store.append_version(model.Version("app", 21, created_by="x"))
    assert [e.version.number for e in store.history("app", 3)] == [21, 20, 19]  # type: ignore[union-attr]
    assert "error" not in git("fsck", "--full", cwd=repo).stderr.lower()
    # and a commit-graph with changed-path Bloom filters for users' `git log -- <path>`
    graphs = repo / "objects" / "info" / "commit-graphs"
    assert list(graphs.glob("graph-*.graph")), "no commit-graph written"
    assert "error" not in git("commit-graph", "verify", cwd=repo).stderr.lower()
    trace = repo.parent / "trace2.txt"
    subprocess.run(["git", "--git-dir", str(repo), "log", "--format=%s", "state", "--",
                    "resources/app/version.yml"], env={**os.environ, "GIT_TRACE2_PERF": str(trace)},
                   capture_output=True, check=True)
    assert '"definitely_not":' in trace.read_text()  # git log skipped commits by their filter
    assert git.out("log", "-1", "--format=%s", "state", "--", "resources/app/version.yml",
                   cwd=repo).startswith("app: version 21")


def _wide_writes(store: GitStateStore) -> None:
    for n in range(300):
        store.append_version(model.Version(f"r{n:03d}", 1, created_by="x"))
    store.append_version(model.Version("r007", 2, files={"a/b": b"1", "c": b"2"}))
    store.append_version(model.Version("r007", 3, files={"c": b"3"}))  # folder replaced
    store.append_version(model.Version("r-a", 1))  # sorts between names, '-' < '0'
    store.append_version(model.Version("r00", 1))  # a prefix of existing names
    for n in range(150):
        store.record_run(model.Run(f"j{n:03d}", 1, "queued", CAUSE))
    store.record_run(model.Run("j005", 1, "succeeded", CAUSE), log="done\n",
                     state_files={"s": b"1"})


def test_wide_trees_are_the_objects_a_treebuilder_writes(tmp_path: Path, git,
                                                         monkeypatch) -> None:
    fast, slow = tmp_path / "fast.git", tmp_path / "slow.git"
    for path in (fast, slow):
        pygit2.init_repository(str(path), bare=True, initial_head="main")
    _wide_writes(GitStateStore(fast))
    monkeypatch.setattr(trees, "WIDE_TREE", 10**9)
    _wide_writes(GitStateStore(slow))
    assert git.out("rev-parse", "state^{tree}", cwd=fast) == \
        git.out("rev-parse", "state^{tree}", cwd=slow)
    result = git("fsck", "--full", "--strict", cwd=fast)
    assert "error" not in result.stderr.lower() and "warning" not in result.stderr.lower()
    store = GitStateStore(fast)
    assert store.read_files("resources/r007/files") == {"c": b"3"}
    assert store.read_snapshot().jobs["j005"].last_succeeded == 1
