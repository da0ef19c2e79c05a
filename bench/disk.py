"""Bench section `disk`: what grows on disk, per run and per version, measured.

The state branch is written by the controller's own store (GitStateStore: the queued,
running and finished record of a run, its log; a version's version.yml), into a HOME made
by `gitline init`; sizes are the files under config.git/objects as written (loose) and
after `gitline gc`'s repack (packed, with the commit-graph). HOME/pushes.jsonl is
measured per entry. Run: `python bench/sections.py disk [--quick]`.
"""

from __future__ import annotations

import dataclasses
import os
import shutil
import tempfile
import time
from pathlib import Path

LOG_LINE = "+ make test  # ok: 42 tests passed in 0.8 s, the usual line of a build log\n"


def _objects_bytes(repo: Path) -> int:
    total = 0
    for folder, _, files in os.walk(repo / "objects"):
        total += sum(os.lstat(os.path.join(folder, f)).st_size for f in files)
    return total


def _packed(repo: Path) -> int:
    from controller.store.maintenance import collect

    collect(repo)
    return _objects_bytes(repo)


def _runs(store: object, jobs: int, runs: int, log_bytes: int, start: int = 0) -> None:
    from controller.core import model

    cause = model.Cause("manual", "bench")
    log = (LOG_LINE * (log_bytes // len(LOG_LINE) + 1))[:log_bytes]
    for n in range(start, start + runs):
        run = model.Run(f"job_{n % jobs:03d}", n // jobs + 1, "queued", cause)
        store.record_run(run)  # type: ignore[attr-defined]
        store.record_run(dataclasses.replace(run, status="running"))  # type: ignore[attr-defined]
        store.record_run(dataclasses.replace(run, status="succeeded"),  # type: ignore[attr-defined]
                         log=f"run {n}\n{log}")


def _versions(store: object, resources: int, versions: int, start: int = 0) -> None:
    from controller.core import model

    for n in range(start, start + versions):
        name = f"res_{n % resources:04d}"
        store.append_version(model.Version(  # type: ignore[attr-defined]
            name, n // resources + 1, f"1.{n}", {"commit": f"{n:040x}", "branch": "main"},
            created_by="bench"))


def _grow(root: Path, label: str, setup, grow, count: int) -> dict:
    """Bytes per item of `grow` (count items) on a fresh HOME after `setup`, loose and
    packed; the setup's own bytes are taken off."""
    from controller.store.gitstate import GitStateStore
    from controller.store.repoinit import init_home

    home = root / label
    init_home(home)
    repo = home / "config.git"
    store = GitStateStore(repo)
    setup(store)
    base_packed = _packed(repo)
    t0 = time.perf_counter()
    grow(store)
    seconds = time.perf_counter() - t0
    loose = _objects_bytes(repo) - base_packed
    packed = _packed(repo) - base_packed
    graph = sum(p.stat().st_size for p in (repo / "objects" / "info").rglob("*graph*")
                if p.is_file())
    return {"count": count, "loose_per_item": round(loose / count),
            "packed_per_item": round(packed / count), "commit_graph_bytes": graph,
            "items_per_s": round(count / seconds)}


def _pushes(root: Path, entries: int) -> dict:
    from controller.store.pushlog import Pusher, PushLog

    log = PushLog(root / "pushlog", rotate_lines=10**9)
    (root / "pushlog").mkdir()
    who = Pusher("ci-bot", "token", "ci@example.com", ("push",))
    for n in range(entries):
        log.record(who, [f"{n:040x}"])
    return {"bytes_per_entry": round(log.path.stat().st_size / entries)}


def disk(quick: bool) -> dict:
    runs = 300 if quick else 2000
    versions = 300 if quick else 2000
    root = Path(tempfile.mkdtemp(prefix="gitline-bench-disk-"))
    try:
        log_bytes = 2000
        out: dict = {"log_bytes": log_bytes}
        out["runs_20_jobs"] = _grow(root, "runs20", lambda s: _runs(s, 20, 20, 0),
                                    lambda s: _runs(s, 20, runs, log_bytes, 20), runs)
        out["runs_1000_jobs"] = _grow(root, "runs1000", lambda s: _runs(s, 1000, 1000, 0),
                                      lambda s: _runs(s, 1000, runs, log_bytes, 1000),
                                      runs)
        out["versions_10_resources"] = _grow(root, "v10", lambda s: _versions(s, 10, 10),
                                             lambda s: _versions(s, 10, versions, 10), versions)
        out["versions_1000_resources"] = _grow(root, "v1000",
                                               lambda s: _versions(s, 1000, 1000),
                                               lambda s: _versions(s, 1000, versions, 1000),
                                               versions)
        out["pushes"] = _pushes(root, 2000)
        return out
    finally:
        shutil.rmtree(root, ignore_errors=True)


def _kb(n: float) -> str:
    return f"{n / 1000:.1f} KB"


def disk_rows(d: dict) -> list[tuple[str, str, str, str]]:
    """Rows of docs/benchmarks.md: bytes per run and per version, and a year of runs."""
    rows = []
    for key, what in (("runs_20_jobs", "20 jobs"), ("runs_1000_jobs", "1,000 jobs")):
        f = d[key]
        rows.append((f"12. state bytes per run ({what}; queued, running, finished record and "
                     f"a {d['log_bytes']:,}-byte log; {f['count']:,} runs)",
                     f"{_kb(f['packed_per_item'])} packed, {_kb(f['loose_per_item'])} as "
                     "written (loose, until the next repack)", "", ""))
    for key, what in (("versions_10_resources", "10"), ("versions_1000_resources", "1,000")):
        f = d[key]
        rows.append((f"12. state bytes per version ({what} resources; {f['count']:,} "
                     "versions)", f"{_kb(f['packed_per_item'])} packed, "
                     f"{_kb(f['loose_per_item'])} loose", "", ""))
    per_run = d["runs_1000_jobs"]["packed_per_item"]
    per_version = d["versions_1000_resources"]["packed_per_item"]
    year = 365 * 1000
    rows.append(("12. a year of 1,000 runs a day (365,000 runs, 1,000 jobs), each run also "
                 "making one version", f"{year * per_run / 1e9:.2f} GB of runs + "
                 f"{year * per_version / 1e9:.2f} GB of versions, packed", "", ""))
    rows.append(("12. HOME/pushes.jsonl per entry (bounded: 100,000 lines × 4 files)",
                 f"{d['pushes']['bytes_per_entry']} bytes "
                 f"(≤ {4 * 100_000 * d['pushes']['bytes_per_entry'] / 1e6:.0f} MB)", "", ""))
    return rows
