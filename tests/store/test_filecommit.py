"""One file committed with git plumbing: the commit pygit2 would write, CAS, stale locks."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pygit2
import pytest

from controller.store.filecommit import commit_file


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    path = tmp_path / "config.git"
    pygit2.init_repository(str(path), bare=True, initial_head="main")
    return path


def test_the_commit_is_the_one_pygit2_would_write(repo: Path) -> None:
    first = commit_file(repo, "main", "triggers/deploy", b"A: 1\n", "trigger deploy",
                        " Ada Q. ", "ada@example.com")
    second = commit_file(repo, "main", "approvals/deploy", b"yes\n", "approve\n", "Bob", "b@x")
    git = pygit2.Repository(str(repo))
    commit = git.get(second)
    assert [str(p) for p in commit.parent_ids] == [first]
    assert (commit.author.name, commit.author.email) == ("Bob", "b@x")
    assert (commit.committer.name, commit.committer.email) == ("Gitline", "gitline@localhost")
    assert commit.message == "approve\n"
    assert abs(commit.commit_time - time.time()) < 60
    assert commit.commit_time_offset == commit.author.offset
    assert git.get(first).author.name == "Ada Q."  # trimmed as libgit2 does, nothing else
    assert sorted(e.name for e in commit.tree) == ["approvals", "triggers"]
    assert git.get(commit.tree["triggers/deploy"].id).data == b"A: 1\n"
    assert commit.tree["triggers/deploy"].filemode == pygit2.enums.FileMode.BLOB


def test_a_file_replaces_a_folder_and_a_folder_a_file(repo: Path) -> None:
    commit_file(repo, "main", "triggers/x/y", b"1\n", "m", "Bob", "b@x")
    sha = commit_file(repo, "main", "triggers/x", b"2\n", "m", "Bob", "b@x")
    tree = pygit2.Repository(str(repo)).get(sha).tree
    assert tree["triggers/x"].filemode == pygit2.enums.FileMode.BLOB
    sha = commit_file(repo, "main", "triggers/x/z", b"3\n", "m", "Bob", "b@x")
    tree = pygit2.Repository(str(repo)).get(sha).tree
    assert tree["triggers/x"].filemode == pygit2.enums.FileMode.TREE
    assert pygit2.Repository(str(repo)).get(tree["triggers/x/z"].id).data == b"3\n"


def test_a_bad_author_writes_nothing(repo: Path) -> None:
    for name, email in (("", "b@x"), ("A <b>", "b@x"), ("Bob", "b@x>\n")):
        with pytest.raises(ValueError):
            commit_file(repo, "main", "triggers/x", b"1\n", "m", name, email)
    assert pygit2.Repository(str(repo)).references.get("refs/heads/main") is None


def test_a_stale_lock_left_by_a_killed_writer_is_removed(repo: Path, caplog) -> None:
    commit_file(repo, "main", "triggers/x", b"1\n", "m", "Bob", "b@x")
    lock = repo / "refs" / "heads" / "main.lock"
    lock.write_text("0" * 40 + "\n")
    old = time.time() - 60
    os.utime(lock, (old, old))
    sha = commit_file(repo, "main", "triggers/x", b"2\n", "m", "Bob", "b@x")
    assert not lock.exists()
    assert str(pygit2.Repository(str(repo)).references["refs/heads/main"].target) == sha
    assert any("stale lock" in r.getMessage() for r in caplog.records)


def test_before_update_sees_the_commit_before_the_branch_does(repo: Path) -> None:
    """The API records who made an approval before any reader can see the commit."""
    seen: list[tuple[str, str | None]] = []

    def record(sha: str) -> None:
        ref = pygit2.Repository(str(repo)).references.get("refs/heads/main")
        seen.append((sha, str(ref.target) if ref else None))

    sha = commit_file(repo, "main", "approvals/deploy", b"approve\n", "approve deploy", "ada",
                      "ada@example.com", before_update=record)
    assert seen == [(sha, None)]
