"""One suite on both StateStores: the git store and the in-memory one read back the same
snapshot (job histories, versions, waiting triggers), history, logs and files after the
same writes, so tests of the reactor against the memory store hold for the real one."""

from __future__ import annotations

from pathlib import Path

import pytest

from controller.core import model
from controller.store.gitstate import GitStateStore
from controller.store.memstore import MemoryStateStore
from controller.store.statestore import StateStore

CAUSE = model.Cause("input", "app version 1")


@pytest.fixture(params=["git", "memory"])
def store(request: pytest.FixtureRequest, repo: Path) -> StateStore:
    return GitStateStore(repo, "state") if request.param == "git" else MemoryStateStore()


def run(number: int, status: str, **kw) -> model.Run:
    return model.Run("build", number, status, CAUSE, **kw)  # type: ignore[arg-type]


def jobs(store: StateStore) -> dict[str, tuple[int, int, list[tuple[int, str]]]]:
    return {name: (h.last.number if h.last else 0, h.last_succeeded,
                   [(r.number, r.status) for r in h.active])
            for name, h in store.read_snapshot().jobs.items()}


@pytest.mark.parametrize("name, runs, expected", [
    ("queued then succeeded", [run(1, "queued"), run(1, "running"), run(1, "succeeded")],
     (1, 1, [])),
    ("an older run ending leaves the newer in flight",
     [run(1, "running"), run(2, "queued"), run(1, "failed")], (2, 0, [(2, "queued")])),
    ("an older success does not move last_succeeded back",
     [run(1, "running"), run(2, "running"), run(2, "succeeded"), run(1, "succeeded")],
     (2, 2, [])),
    ("interrupted and queued again",
     [run(1, "running"), run(2, "queued"), run(1, "interrupted")], (2, 0, [(2, "queued")])),
])
def test_job_history_after_runs(store: StateStore, name, runs, expected):
    for r in runs:
        store.record_run(r)
    assert jobs(store) == {"build": expected}, name


def test_versions_files_logs_and_history_read_back(store: StateStore):
    store.append_version(model.Version("tf", 1, "v1", {"a": 1}, files={"s.tfstate": b"1"}))
    store.append_version(model.Version("tf", 2, "v2", {"a": 2}, files={"s.tfstate": b"2"}))
    store.record_run(run(1, "queued"))
    store.record_run(run(1, "succeeded"), log="ran\n", state_files={"out.txt": b"x"})
    snap = store.read_snapshot()
    assert (snap.versions["tf"].number, snap.versions["tf"].values) == (2, {"a": 2})
    assert store.read_files("resources/tf/files") == {"s.tfstate": b"2"}
    assert store.read_files("jobs/build/state") == {"out.txt": b"x"}
    assert store.read_log("build") == "ran\n"
    assert store.read_log("build", 1) == "ran\n"
    assert [e.version.number for e in store.history("tf") if e.version] == [2, 1]
    assert [(e.run.number, e.run.status) for e in store.history("build") if e.run] == [
        (1, "succeeded")]
    older = next(e.commit for e in store.history("tf") if e.version and e.version.number == 1)
    assert store.read_files("resources/tf/files", at=older) == {"s.tfstate": b"1"}


def test_config_record_and_waiting_triggers(store: StateStore):
    wait = model.TriggerRequest("deploy", "c1", "Ada <a@x>", "triggers/deploy", {"R": "1"},
                                error="waiting for input job build (run 1 running)")
    bad = model.TriggerRequest("nope", "c1", "Ada <a@x>", "triggers/nope", error="no job")
    store.record_config(processed="c1", good="c1", problems=(), triggers=(bad,),
                        waiting=(wait,))
    snap = store.read_snapshot()
    assert (snap.processed_commit, snap.good_commit, snap.waiting_triggers) == ("c1", "c1",
                                                                                (wait,))
    store.record_waiting((), ())
    assert store.read_snapshot().waiting_triggers == ()
    record = store.read_config_record()
    assert [e["path"] for e in record["triggerErrors"]] == ["triggers/nope"]
    assert "waitingTriggers" not in record
