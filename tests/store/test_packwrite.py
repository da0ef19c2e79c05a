"""Versions decided together: each its own commit, their objects in one pack, one ref move."""

from __future__ import annotations

from pathlib import Path

import pygit2
import pytest

from controller.core import model
from controller.store import maintenance, packwrite, refs
from controller.store.gitstate import GitStateStore


def _version(name: str, number: int) -> model.Version:
    return model.Version(name, number, values={"n": number}, created_by="push")


def _packs(repo: Path) -> list[Path]:
    return sorted((repo / "objects" / "pack").glob("pack-*.pack"))


def _loose(repo: Path) -> list[Path]:
    return [p for p in (repo / "objects").glob("??/*")]


def test_each_version_of_a_burst_is_its_own_commit_in_one_pack(repo: Path, git) -> None:
    store = GitStateStore(repo)
    store.append_version(_version("app", 1))
    before = _loose(repo)
    tip = store.append_versions([_version("db", 1), _version("app", 2), _version("app", 3)])
    subjects = git.out("log", "--format=%s", "state", cwd=repo).splitlines()
    assert subjects == ["app: version 3 from push", "app: version 2 from push",
                        "db: version 1 from push", "app: version 1 from push"]
    assert git.out("rev-parse", "state", cwd=repo).strip() == tip
    shas = git.out("log", "--format=%H", "state", "--", "resources/app", cwd=repo).split()
    previous = [git.out("log", "-1", "--format=%(trailers:key=Gitline-Previous,valueonly)",
                        sha, cwd=repo).strip() for sha in shas]
    assert previous == [*shas[1:], "none"]  # the chain names the commits inside it too
    assert _loose(repo) == before and len(_packs(repo)) == 1  # no loose file for the burst
    assert git("fsck", "--strict", "--no-dangling", cwd=repo).stderr.count("error") == 0
    assert [e.version.number for e in store.history("app", 5)] == [3, 2, 1]  # type: ignore[union-attr]
    fresh = GitStateStore(repo)
    assert fresh.read_snapshot() == store.read_snapshot()
    assert fresh.read_snapshot().versions["app"].values == {"n": 3}
    store.append_version(_version("app", 4))  # a single write after a burst: loose, as before
    assert [e.version.number for e in fresh.history("app", 5)] == [4, 3, 2, 1]  # type: ignore[union-attr]


def test_a_long_burst_is_written_in_packs_of_bounded_size_and_one_ref_move(
        repo: Path, git, monkeypatch: pytest.MonkeyPatch) -> None:
    """A burst no longer holds every object until its end (the first push of 5,000
    resources held ~600 MB): past SPILL_BYTES what is held goes into a pack of its own,
    and still nothing names it before the one ref move."""
    monkeypatch.setattr(packwrite, "SPILL_BYTES", 20_000)
    store = GitStateStore(repo)
    first = store.append_version(_version("r0000", 1))
    seen: list[tuple[int, str]] = []  # (bytes held, where the branch is) at each commit
    spill = packwrite.spill

    def watched(r: pygit2.Repository, limit: int | None = None) -> None:
        seen.append((packwrite._HOLDING[id(r)].size,
                     git.out("rev-parse", "state", cwd=repo).strip()))
        spill(r, limit)

    monkeypatch.setattr(packwrite, "spill", watched)
    tip = store.append_versions([_version(f"r{n:04d}", 1) for n in range(1, 300)])
    assert {at for _, at in seen} == {first}  # the branch moved once, after the last pack
    assert git.out("rev-parse", "state", cwd=repo).strip() == tip
    assert len(_packs(repo)) > 3 and max(size for size, _ in seen) < 20_000 + 30_000
    assert git.out("rev-list", "--count", "state", cwd=repo).strip() == "300"
    assert git("fsck", "--strict", "--no-dangling", cwd=repo).stderr.count("error") == 0
    assert GitStateStore(repo).read_snapshot() == store.read_snapshot()
    assert len(store.read_snapshot().versions) == 300


def test_a_refused_version_writes_nothing(repo: Path) -> None:
    store = GitStateStore(repo)
    tip = store.append_version(_version("app", 1))
    with pytest.raises(ValueError):
        store.append_versions([_version("app", 2), _version("../escape", 1)])
    assert store.tip() == tip and _packs(repo) == []


def test_a_chain_that_loses_the_race_is_written_again_on_the_new_tip(repo: Path) -> None:
    store = GitStateStore(repo)
    store.append_version(_version("app", 1))
    other = GitStateStore(repo)  # another writer of the branch
    raced: list[str] = []

    def change(tip: pygit2.Commit | None) -> tuple[dict[tuple[str, ...], bytes | None], str]:
        if not raced:  # the first try: someone else commits before the ref moves
            raced.append(other.append_version(_version("db", 1)))
        return {("notes.txt",): b"x"}, "note\n"

    base, shas = refs.cas_chain(store._repo, "refs/heads/state", [change, change])
    assert base is not None and str(base.id) == raced[0]
    assert [e.version.number for e in store.history("db", 2)] == [1]  # type: ignore[union-attr]
    assert store.tip() == shas[-1]


def test_housekeeping_rolls_small_packs_up(repo: Path, git) -> None:
    store = GitStateStore(repo)
    for n in range(1, maintenance.PACKS_LIMIT + 1):
        store.append_versions([_version("app", 2 * n - 1), _version("app", 2 * n)])
    assert len(_packs(repo)) == maintenance.PACKS_LIMIT
    assert store.maintain(wait=True)  # no loose objects: started for the packs
    assert len(_packs(repo)) < 5
    assert git("fsck", "--strict", "--no-dangling", cwd=repo).stderr.count("error") == 0
    assert len(list(store.history("app", 100))) == 2 * maintenance.PACKS_LIMIT
    assert GitStateStore(repo).read_snapshot().versions["app"].number == \
        2 * maintenance.PACKS_LIMIT


def test_the_pack_is_git_s_format_with_deltas_of_wide_trees(tmp_path: Path, git) -> None:
    repo = tmp_path / "r.git"
    raw = pygit2.init_repository(str(repo), bare=True)
    sig = pygit2.Signature("t", "t@t")
    with packwrite.held(raw) as held:
        parent: list[pygit2.Oid] = []
        for n in range(3):
            builder = raw.TreeBuilder()
            for i in range(200):
                blob = raw.create_blob(b"%d" % (i if i != 7 else 1000 + n))
                builder.insert(f"entry_{i:03d}", blob, pygit2.enums.FileMode.BLOB)
            parent = [raw.create_commit(None, sig, sig, f"c{n}", builder.write(), parent)]
    packwrite.install(raw, held.objects)
    raw.references.create("refs/heads/main", parent[0])
    verified = git.out("verify-pack", "-v", str(next((repo / "objects" / "pack").glob("*.idx"))),
                       cwd=repo)
    assert "chain length = 1: 1 object" in verified and "chain length = 2: 1 object" in verified
    assert git("fsck", "--strict", cwd=repo).returncode == 0
    assert git.out("rev-list", "--count", "main", cwd=repo).strip() == "3"


def test_run_records_of_one_moment_are_one_commit_in_one_pack(repo: Path, git) -> None:
    from controller.store.gitstate import PACK_FROM_RECORDS
    from controller.store.statestore import RunRecord

    store = GitStateStore(repo)
    cause = model.Cause("manual", "test")
    jobs = [f"job{k}" for k in range(PACK_FROM_RECORDS)]
    for status in ("queued", "succeeded"):
        store.record_runs([RunRecord(model.Run(job, 1, status, cause), log="ok\n")
                           for job in jobs])
    assert _loose(repo) == [] and len(_packs(repo)) == 2
    assert git.out("rev-list", "--count", "state", cwd=repo) == "2"
    assert git("fsck", "--strict", "--no-dangling", cwd=repo).stderr.count("error") == 0
    for job in jobs:
        runs = [e.run.status for e in GitStateStore(repo).history(job, 5) if e.run]
        assert runs == ["succeeded"]  # one entry per run number, its latest state
        assert git.out("log", "--format=%s", "state", "--", f"jobs/{job}/run.yml",
                       cwd=repo).count("\n") == 1  # both records of the run
    assert GitStateStore(repo).read_snapshot() == store.read_snapshot()
