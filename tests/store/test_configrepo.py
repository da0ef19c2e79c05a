"""ConfigRepo against repositories built and pushed with the real git client."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from controller.store.configrepo import ConfigRepo, NotAFile


@pytest.fixture
def work(tmp_home: Path, git, tmp_path: Path) -> Path:
    path = tmp_path / "work"
    git("clone", "-q", str(tmp_home / "config.git"), str(path))
    return path


@pytest.fixture
def repo(tmp_home: Path) -> Path:
    return tmp_home / "config.git"


def commit(git, work: Path, message: str, files: dict[str, str]) -> str:
    for name, text in files.items():
        path = work / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        git("add", name, cwd=work)
    git("commit", "-qm", message, cwd=work)
    return git.out("rev-parse", "HEAD", cwd=work)


def push(git, work: Path, ref: str = "HEAD:main", *extra: str) -> None:
    git("push", "-q", *extra, "origin", ref, cwd=work)


def test_head(repo: Path, work: Path, git) -> None:
    config = ConfigRepo(repo)
    assert config.head() is None
    sha = commit(git, work, "one", {"a.yml": "x: 1\n"})
    push(git, work)
    assert config.head() == sha


def test_workflow_files_skip_symlinks_and_submodules(repo, work, git) -> None:
    commit(git, work, "files", {"pipelines/a.yml": "a: 1\n", "b.yml": "b: 2\n", "README": "r"})
    (work / "link.yml").symlink_to("b.yml")
    git("add", "link.yml", cwd=work)
    git("update-index", "--add", "--cacheinfo", f"160000,{'1' * 40},sub.yml", cwd=work)
    sha = commit(git, work, "link and submodule", {})
    push(git, work)
    files = ConfigRepo(repo).workflow_files(sha, lambda p: p.endswith(".yml"))
    assert files == [("b.yml", b"b: 2\n"), ("pipelines/a.yml", b"a: 1\n")]


def test_tree_id_matches_git(repo, work, git) -> None:
    sha = commit(git, work, "one", {"app/src/main.c": "int x;\n", "other.txt": "o"})
    push(git, work)
    config = ConfigRepo(repo)
    assert config.tree_id(sha, "app") == git.out("rev-parse", f"{sha}:app", cwd=repo)
    assert config.tree_id(sha, "") == git.out("rev-parse", f"{sha}^{{tree}}", cwd=repo)
    assert config.tree_id(sha, "other.txt") == git.out("rev-parse", f"{sha}:other.txt", cwd=repo)
    assert config.tree_id(sha, "missing") is None
    # A change outside the folder leaves its digest alone; one inside changes it.
    sha2 = commit(git, work, "two", {"other.txt": "changed"})
    sha3 = commit(git, work, "three", {"app/src/main.c": "int y;\n"})
    push(git, work)
    assert config.tree_id(sha2, "app") == config.tree_id(sha, "app")
    assert config.tree_id(sha3, "app") != config.tree_id(sha, "app")


def test_read_blob_reports_symlinks_and_folders(repo, work, git) -> None:
    commit(git, work, "one", {"triggers/deploy": "env=prod\n", "triggers/dir/x": "x"})
    (work / "triggers" / "link").symlink_to("deploy")
    git("add", "triggers/link", cwd=work)
    sha = commit(git, work, "link", {})
    push(git, work)
    config = ConfigRepo(repo)
    assert config.read_blob(sha, "triggers/deploy") == b"env=prod\n"
    assert config.read_blob(sha, "triggers/missing") is None
    with pytest.raises(NotAFile) as link:
        config.read_blob(sha, "triggers/link")
    assert link.value.kind == "symlink"
    with pytest.raises(NotAFile) as folder:
        config.read_blob(sha, "triggers/dir")
    assert folder.value.kind == "directory"


def test_commits_between_linear(repo, work, git) -> None:
    old = commit(git, work, "base", {"pipeline.yml": "a\n"})
    c1 = commit(git, work, "trigger deploy", {"triggers/deploy": "1\n"})
    c2 = commit(git, work, "edit two files", {"pipeline.yml": "b\n", "x/y.txt": "y"})
    git("rm", "-q", "triggers/deploy", cwd=work)
    c3 = commit(git, work, "remove trigger", {})
    push(git, work)
    commits, rewritten = ConfigRepo(repo).commits_between(old, c3)
    assert not rewritten
    assert [c.sha for c in commits] == [c1, c2, c3]
    assert commits[0].author == "Ada Lovelace <ada@example.com>"
    assert commits[0].message == "trigger deploy"
    assert commits[0].changed_paths == ("triggers/deploy",)
    assert commits[1].changed_paths == ("pipeline.yml", "x/y.txt")
    assert commits[2].changed_paths == ("triggers/deploy",)


def test_commits_between_same_and_from_root(repo, work, git) -> None:
    first = commit(git, work, "first", {"a": "1"})
    second = commit(git, work, "second", {"b": "2"})
    push(git, work)
    config = ConfigRepo(repo)
    assert config.commits_between(second, second) == ([], False)
    commits, rewritten = config.commits_between(None, second)
    assert [c.sha for c in commits] == [first, second]
    assert commits[0].changed_paths == ("a",)
    assert not rewritten


def test_force_push_is_flagged(repo, work, git) -> None:
    base = commit(git, work, "base", {"a": "1"})
    old = commit(git, work, "old", {"b": "2"})
    push(git, work)
    git("reset", "-q", "--hard", base, cwd=work)
    new = commit(git, work, "rewritten", {"c": "3"})
    push(git, work, "HEAD:main", "--force")
    commits, rewritten = ConfigRepo(repo).commits_between(old, new)
    assert rewritten
    assert [c.sha for c in commits] == [new]
    assert commits[0].changed_paths == ("c",)
    assert ConfigRepo(repo).commits_between("f" * 40, new) == (commits, True)


def test_pull_merge_does_not_repeat_processed_triggers(repo, work, git, tmp_path) -> None:
    commit(git, work, "base", {"a": "1"})
    push(git, work)
    other = tmp_path / "other"
    git("clone", "-q", str(repo), str(other))
    old = commit(git, other, "server side trigger", {"triggers/deploy": "1\n"})
    push(git, other)
    mine = commit(git, work, "my trigger", {"triggers/test": "1\n"})
    git("pull", "-q", "--no-rebase", "--no-edit", "origin", "main", cwd=work)
    merge = git.out("rev-parse", "HEAD", cwd=work)
    push(git, work)
    commits, rewritten = ConfigRepo(repo).commits_between(old, merge)
    assert not rewritten
    assert [c.sha for c in commits] == [mine, merge]
    assert commits[0].changed_paths == ("triggers/test",)
    assert commits[1].changed_paths == ()  # triggers/deploy was processed at `old`


def test_server_side_merge_reports_the_branch_files(repo, work, git) -> None:
    commit(git, work, "base", {"a": "1"})
    git("checkout", "-q", "-b", "feature", cwd=work)
    commit(git, work, "feature trigger", {"triggers/deploy": "1\n"})
    git("checkout", "-q", "main", cwd=work)
    commit(git, work, "main change", {"b": "2"})
    push(git, work)
    old = git.out("rev-parse", "HEAD", cwd=work)
    git("merge", "-q", "--no-edit", "feature", cwd=work)
    merge = git.out("rev-parse", "HEAD", cwd=work)
    push(git, work)
    commits, _ = ConfigRepo(repo).commits_between(old, merge)
    assert [c.sha for c in commits] == [merge]
    assert commits[0].changed_paths == ("triggers/deploy",)


def test_commit_file_creates_and_appends(repo, git, tmp_path) -> None:
    config = ConfigRepo(repo)
    first = config.commit_file("triggers/deploy", b"env=prod\n", "trigger deploy", "Bob", "b@x")
    assert config.head() == first
    assert git.out("log", "--format=%an <%ae>|%s", "main", cwd=repo) == "Bob <b@x>|trigger deploy"
    second = config.commit_file("approvals/deploy", b"yes\n", "approve", "Bob", "b@x")
    assert git.out("rev-parse", "main~1", cwd=repo) == first
    assert git.out("show", f"{second}:triggers/deploy", cwd=repo) == "env=prod"
    commits, _ = config.commits_between(first, second)
    assert commits[0].changed_paths == ("approvals/deploy",)
    git("fsck", "--full", cwd=repo)
    clone = tmp_path / "clone"
    git("clone", "-q", str(repo), str(clone))
    assert (clone / "approvals" / "deploy").read_text() == "yes\n"


def test_commit_file_refuses_unsafe_paths(repo) -> None:
    config = ConfigRepo(repo)
    for path in ("../x", "/abs", "a//b", ".git/config"):
        with pytest.raises(ValueError):
            config.commit_file(path, b"x", "m", "Bob", "b@x")
    assert config.head() is None


def test_concurrent_commit_file_loses_nothing(repo, git) -> None:
    def writer(tag: str) -> None:
        own = ConfigRepo(repo)
        for n in range(20):
            own.commit_file(f"triggers/{tag}", f"{n}\n".encode(), f"{tag} {n}", "Bob", "b@x")

    threads = [threading.Thread(target=writer, args=(t,)) for t in ("a", "b")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert git.out("rev-list", "--count", "main", cwd=repo) == "40"
