"""The history index on plain commits: no repository, no pygit2 (history_index.py)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from controller.store.commitmessages import format_message, parse_trailers
from controller.store.history_index import HistoryIndex


@dataclass(frozen=True)
class FakeCommit:
    id: str
    message: str
    parent_ids: list[str] = field(default_factory=list)
    commit_time: int = 0


class Branch:
    """A first-parent chain of commits in memory, written as GitStateStore writes them."""

    def __init__(self) -> None:
        self.commits: dict[str, FakeCommit] = {}
        self.tip: FakeCommit | None = None
        self.reads = 0

    def get(self, sha: object) -> FakeCommit | None:
        self.reads += 1
        return self.commits.get(str(sha))

    def append(self, kind: str, name: str, previous: str | None) -> FakeCommit:
        trailers = [(kind, name)] + ([("Previous", previous)] if previous is not None else [])
        sha = f"{len(self.commits) + 1:040d}"
        commit = FakeCommit(sha, format_message(f"{name} {sha[-2:]}", trailers),
                            [self.tip.id] if self.tip else [])
        self.commits[sha] = commit
        self.tip = commit
        return commit


def _index(branch: Branch, tmp_path: Path) -> HistoryIndex[FakeCommit]:
    return HistoryIndex(tmp_path / "index.json", branch.get, lambda sha: sha in branch.commits)


def test_a_writer_chains_each_object_through_previous(tmp_path: Path) -> None:
    branch = Branch()
    written: dict[str, list[str]] = {"app": [], "deploy": []}
    index = _index(branch, tmp_path)
    for n in range(6):
        name, kind = ("app", "Resource") if n % 3 else ("deploy", "Job")
        parent = branch.tip
        commit = branch.append(kind, name, index.previous(parent, name))
        index.advance(parent.id if parent else "", commit.id, (name,))
        written[name].append(commit.id)
    for name, shas in written.items():
        assert [c.id for c, _ in index.commits(name, branch.tip)] == shas[::-1]
    first = branch.commits[written["app"][0]]
    assert parse_trailers(first.message)["Previous"] == "none"


def test_a_reader_catches_up_from_the_saved_index_or_walks_it_all(tmp_path: Path) -> None:
    branch = Branch()
    for n in range(5):  # commits of an older Gitline: no Previous trailer
        branch.append("Resource", "app" if n % 2 == 0 else "other", None)
    writer = _index(branch, tmp_path)
    writer.catch_up(branch.tip)
    writer.save()
    branch.append("Resource", "app", None)
    reader = _index(branch, tmp_path)
    branch.reads = 0
    reader.catch_up(branch.tip)
    assert branch.reads == 1  # from the new tip back to the saved one only
    assert [c.id[-1] for c, _ in reader.commits("app", branch.tip)] == ["6", "5", "3", "1"]
    (tmp_path / "index.json").write_text("{damaged")
    again = _index(branch, tmp_path)
    assert [c.id[-1] for c, _ in again.commits("other", branch.tip)] == ["4", "2"]
    assert list(_index(Branch(), tmp_path).commits("app", None)) == []
