"""controller/service's read side: the dataclasses a page or the CLI shows, as tables."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from controller.core import errors, loader, model
from controller.service import history
from controller.service.views import JobSummary, RunView, problem_view

LINE = """\
resources:
  - {name: cfg, type: params, versionTemplate: {params: {N: "1"}}}
  - {name: img, type: image}
jobs:
  - name: build
    type: runSh
    steps: [{IN: cfg}, {TASK: {script: [echo]}}, {OUT: img}]
"""
WF = loader.load_workflow([("shippable.yml", LINE)])


def run(number: int, status: str = "succeeded", started: str = "",
        finished: str = "") -> model.Run:
    return model.Run("build", number, status, model.Cause("manual", "triggers/build"),  # type: ignore[arg-type]
                     started_at=started, finished_at=finished)


@pytest.mark.parametrize(("started", "finished", "seconds"), [
    ("2026-12-06T05:00:00+00:00", "2026-12-06T05:01:30+00:00", 90.0),
    ("2026-12-06T05:00:00+00:00", "", None),  # still running
    ("", "2026-12-06T05:01:30+00:00", None),  # never started (cancelled while queued)
    ("garbage", "2026-12-06T05:01:30+00:00", None),
])
def test_a_runs_duration_is_start_to_end_of_a_finished_run(started, finished, seconds):
    assert RunView(run(1, started=started, finished=finished)).duration_seconds == seconds


@pytest.mark.parametrize(("text", "where"), [
    ("ci/shippable.yml:12:5: error: unknown type 'runSH'",
     ("ci/shippable.yml", 12, 5, "error", "unknown type 'runSH'")),
    ("something odd", ("", 0, 0, "", "something odd")),
])
def test_a_recorded_problem_is_split_into_file_line_and_message(text, where):
    p = problem_view(text)
    assert (p.file, p.line, p.col, p.severity, p.message) == where and p.text == text


def test_a_job_is_coloured_by_its_newest_run_active_first():
    assert JobSummary("build", "runSh", None).status == ""
    assert JobSummary("build", "runSh", RunView(run(3, "failed"))).status == "failed"
    assert JobSummary("build", "runSh", RunView(run(3, "failed")),
                      (RunView(run(4, "queued")), RunView(run(5, "running")))).status == "running"


@dataclass(frozen=True)
class Entry:
    commit: str
    when: str
    version: model.Version | None = None
    run: model.Run | None = None


class Store:
    def history(self, name: str, limit: int = 100) -> list[Entry]:
        if name == "img":
            return [Entry("c3", "t3", model.Version("img", 2, created_by="build run 2")),
                    Entry("c2", "t2", model.Version("img", 1, created_by="build run 1"))]
        if name == "build":
            return [Entry("c4", "t4", run=run(2)), Entry("c1", "t1", run=run(1))]
        return []


def test_a_run_in_detail_names_the_versions_it_made():
    detail = history.run_detail(Store(), WF, "build", 1)
    assert (detail.commit, detail.run.number) == ("c1", 1)
    assert [(o.version.resource, o.version.number) for o in detail.outputs] == [("img", 1)]
    with pytest.raises(errors.NotFound, match="^build has no run 9$"):
        history.run_detail(Store(), WF, "build", 9)


def test_runs_and_versions_of_unknown_names_are_not_found():
    assert [r.run.number for r in history.runs(Store(), "build", 20, WF.jobs)] == [2, 1]
    assert history.runs(Store(), "idle", 20, {"idle"}) == []  # a job that never ran
    with pytest.raises(errors.NotFound, match="^no job nope$"):
        history.runs(Store(), "nope", 20, WF.jobs)
    assert [v.to_json()["number"] for v in history.versions(Store(), "img", 20, WF.resources)
            ] == [2, 1]
    with pytest.raises(errors.NotFound, match="^no resource nope$"):
        history.versions(Store(), "nope", 20, WF.resources)
