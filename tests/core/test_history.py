"""A job's history after a run, and a resource's next version, in domain words."""

from __future__ import annotations

import pytest

from controller.core import history, model, versions

CAUSE = model.Cause("input", "x")


def run(number: int, status: str) -> model.Run:
    return model.Run("build", number, status, CAUSE)


def hist(*runs: model.Run) -> model.JobHistory:
    h = model.JobHistory()
    for r in runs:
        h = history.after_run(h, r)
    return h


def summary(h: model.JobHistory) -> tuple[int, int, list[tuple[int, str]]]:
    return (h.last.number if h.last else 0, h.last_succeeded,
            [(r.number, r.status) for r in h.active])


@pytest.mark.parametrize("name, runs, expected", [
    ("a queued run is the newest and in flight", [run(1, "queued")], (1, 0, [(1, "queued")])),
    ("a finished run leaves the runs in flight", [run(1, "queued"), run(1, "succeeded")],
     (1, 1, [])),
    ("a newer queued run stays newest when an older one ends",
     [run(1, "running"), run(2, "queued"), run(1, "failed")], (2, 0, [(2, "queued")])),
    ("an older success does not move last_succeeded back",
     [run(1, "running"), run(2, "running"), run(2, "succeeded"), run(1, "succeeded")],
     (2, 2, [])),
    ("a run in flight changes state in place",
     [run(1, "queued"), run(1, "running")], (1, 0, [(1, "running")])),
    ("an interrupted run is finished", [run(1, "running"), run(1, "interrupted")], (1, 0, [])),
])
def test_job_history_after_a_run(name, runs, expected):
    assert summary(hist(*runs)) == expected, name


def test_records_that_disagree_on_the_newest_run_take_the_higher_number():
    h = history.from_records([run(5, "queued")], run(4, "succeeded"), 4)
    assert summary(h) == (5, 4, [(5, "queued")])


@pytest.mark.parametrize("name, latest, written, replace_values, expected", [
    ("the first version is number 1 with what was written", None, {"a": 1}, True,
     (1, {"a": 1})),
    ("a writer that replaces drops the old values",
     model.Version("img", 3, values={"a": 1, "b": 2}), {"a": 9}, True, (4, {"a": 9})),
    ("a writer that adds keeps the old values under the new",
     model.Version("img", 3, values={"a": 1, "b": 2}), {"a": 9}, False,
     (4, {"a": 9, "b": 2})),
])
def test_next_version(name, latest, written, replace_values, expected):
    v = versions.next_version(latest, "img", written, created_by="build run 1",
                              replace_values=replace_values)
    assert (v.number, v.values) == expected, name


def test_a_job_made_version_keeps_its_definition_and_is_named_by_its_versionname():
    latest = model.Version("img", 3, digest="d1", config_commit="c1")
    v = versions.next_version(latest, "img", {"versionName": "1.2.0"}, created_by="release")
    assert (v.name, v.digest, v.config_commit) == ("1.2.0", "d1", "c1")
