"""`gitline gc HOME`: the housekeeping at once, and what it freed, on a real home."""

from __future__ import annotations

import json

from tests.harness.commands import gitline, run
from tests.harness.home import Home


def test_gc_packs_indexes_prunes_and_trims_and_says_what_it_freed(sample_home: Home) -> None:
    h = sample_home
    h.start()
    h.wait_runs("build_app", 1, timeout=60)
    h.wait_idle(60)
    h.stop()
    loose = run("git", "--git-dir", h.repo, "count-objects", "-v").stdout.splitlines()[0]
    assert loose != "count: 0"  # the controller's commits left loose objects
    runs = h.path / "work" / "build_app"
    for number in range(2, 8):  # folders of older runs, as a busy job leaves them
        (runs / str(number)).mkdir(parents=True, exist_ok=True)
        (runs / str(number) / "out.bin").write_bytes(b"x" * 50_000)
    with (h.path / "pushes.jsonl").open("a") as f:
        for n in range(30):
            f.write(json.dumps({"sha": f"{n:040d}", "pusher": "ci", "via": "token"}) + "\n")

    done = gitline("gc", h.path, "--keep-pushes", "10")
    lines = done.stdout.splitlines()
    assert lines[0].startswith(f"packed {h.repo} and wrote its commit-graph: ")
    assert lines[1].startswith(f"removed 4 old run folder(s) under {h.path / 'work'}: ")
    assert lines[2].startswith("dropped ") and lines[2].endswith(" of pushes.jsonl")
    assert run("git", "--git-dir", h.repo, "count-objects", "-v").stdout.startswith("count: 0")
    assert list((h.repo / "objects" / "info" / "commit-graphs").glob("*.graph"))
    assert sorted(int(p.name) for p in runs.iterdir()) == [5, 6, 7]
    assert len((h.path / "pushes.jsonl").read_text().splitlines()) == 10
    assert run("git", "--git-dir", h.repo, "fsck", "--full").returncode == 0
    assert gitline("status", h.path).returncode == 0  # everything still reads


def test_gc_removes_folders_of_jobs_and_mirrors_no_longer_used(sample_home: Home) -> None:
    import os
    import time

    h = sample_home
    h.start()
    h.wait_runs("build_app", 1, timeout=60)
    h.wait_idle(60)
    h.stop()
    gone_job = h.path / "work" / "removed_job"
    for number in (1, 2):
        (gone_job / str(number)).mkdir(parents=True)
        (gone_job / str(number) / "out.bin").write_bytes(b"x" * 10_000)
    mirrors = h.path / "cache" / "repos"
    old, fresh = mirrors / "0123456789abcdef0123.git", mirrors / "fedcba9876543210fedc.git"
    for mirror in (old, fresh):
        run("git", "init", "-q", "--bare", mirror)
    hour_ago = time.time() - 7200
    os.utime(old, (hour_ago, hour_ago))

    lines = gitline("gc", h.path).stdout.splitlines()
    assert "loose objects packed" in lines[0] and " objects in 1 pack(s)" in lines[0]
    assert lines[1].startswith("removed 2 old run folder(s) under ")
    assert lines[2] == "dropped 0 old entries of pushes.jsonl"
    assert lines[3].startswith(f"removed 1 mirror(s) of repositories no resource follows "
                               f"under {mirrors}: ")
    assert lines[4].startswith("freed ") and lines[4].endswith(" in all")
    assert not old.exists() and fresh.exists()  # a fresh one may serve a run right now
    assert list(gone_job.iterdir()) == []
    assert (h.path / "work" / "build_app" / "1").is_dir()  # a defined job keeps its newest
    commit_graphs = h.repo / "objects" / "info" / "commit-graphs"
    assert len(list(commit_graphs.glob("*.graph"))) == 1  # one layer after gc
