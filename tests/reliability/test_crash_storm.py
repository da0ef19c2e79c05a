"""Crash anywhere: a push storm from several clients while the controller is SIGKILLed at
random moments and restarted; then every push is accounted for, exactly once.

Bounded for CI (a few dozen pushes, several kills); GITLINE_SOAK=1 runs hundreds.
"""

from __future__ import annotations

import random
import signal
import threading
import time
from collections import Counter
from pathlib import Path

from controller.core import model
from controller.store.gitstate import GitStateStore
from tests.harness.commands import run
from tests.harness.home import Home
from tests.harness.storm import SOAK, Client
from tests.harness.wait import wait_for

CLIENTS = 3
FINALS = ("succeeded", "failed", "timed out", "cancelled", "interrupted")


def killer(home: Home, stop: threading.Event, kills: list[float]) -> None:
    while not stop.is_set():
        time.sleep(random.uniform(0.3, 1.5))
        home.stop(signal.SIGKILL)
        kills.append(time.monotonic())
        home.start()


def _runs_by_job(home: Home) -> dict[str, list[model.Run]]:
    store = GitStateStore(home.repo)
    return {f"j{k}": [e.run for e in store.history(f"j{k}", 100_000) if e.run]
            for k in range(CLIENTS)}


def _settled(runs: list[model.Run], run: model.Run) -> bool:
    """The run succeeded, or it was interrupted and its re-run (recursively) settled."""
    if run.status == "succeeded":
        return True
    if run.status != "interrupted":
        return False
    retry = next((r for r in runs if r.cause.kind == "retry"
                  and r.cause.detail == f"run {run.number} was interrupted"), None)
    return retry is not None and _settled(runs, retry)


def test_push_storm_with_random_kills(tmp_path: Path) -> None:
    home = Home.create(tmp_path)
    (home.work / "README").write_text("storm\n")
    home.push("start")
    home.start()
    clients = [Client(home, tmp_path, k) for k in range(CLIENTS)]
    per_client = 120 if SOAK else 14
    errors: list[BaseException] = []
    kills: list[float] = []
    stop = threading.Event()
    chaos = threading.Thread(target=killer, args=(home, stop, kills))
    threads = [threading.Thread(target=c.storm, args=(per_client, errors)) for c in clients]
    try:
        chaos.start()
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=900)
        stop.set()
        chaos.join(timeout=60)
        assert errors == []
        assert len(kills) >= (40 if SOAK else 4)

        head = run("git", "--git-dir", home.repo, "rev-parse", "main").stdout.strip()
        wait_for(lambda: home.status()["config"]["processed"] == head, 180, "catch-up")
        home.wait_idle(180)
        check_everything_accounted_for(home, clients)
    finally:
        stop.set()
        home.stop(signal.SIGKILL)


def check_everything_accounted_for(home: Home, clients: list[Client]) -> None:
    assert run("git", "--git-dir", home.repo, "fsck", "--full").returncode == 0
    assert not list((home.repo / "refs").rglob("*.lock"))
    runs = _runs_by_job(home)
    st = home.status()
    for c in clients:
        job, res = f"j{c.k}", f"r{c.k}"
        # Every changed input has its version: the latest carries the last value pushed.
        assert f'V: "{c.value}"' in home.show(f"resources/{res}/version.yml") or \
            f"V: {c.value}" in home.show(f"resources/{res}/version.yml")
        latest = st["resources"][res]["version"]
        newest = max(runs[job], key=lambda r: r.number)
        assert newest.status == "succeeded", newest
        assert newest.input(res) is not None and newest.input(res).number == latest  # type: ignore[union-attr]
        # Every trigger commit ran exactly once (or was interrupted and re-run).
        by_commit = Counter(r.cause.commit for r in runs[job] if r.cause.kind == "trigger")
        for sha in c.triggers:
            assert by_commit[sha] == 1, (job, sha, by_commit, st["config"]["triggerErrors"])
            (trig,) = [r for r in runs[job] if r.cause.kind == "trigger" and r.cause.commit == sha]
            assert _settled(runs[job], trig), [(r.number, r.status) for r in runs[job]]
        for r in runs[job]:
            if r.status == "interrupted":
                assert _settled(runs[job], r), r
    # No run is recorded twice: one final record per (job, run number).
    finals = Counter(
        tuple(s.split(" ")[:3]) for s in home.subjects()
        if " run " in s and s.split(" ")[3].startswith(FINALS))
    assert all(n == 1 for n in finals.values()), [k for k, n in finals.items() if n > 1]
