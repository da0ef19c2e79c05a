"""controller/service: the checks the CLI and the API share, as tables."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from controller.core import errors, loader, model
from controller.service import actions, names

LINE = """\
resources:
  - {name: cfg, type: params, versionTemplate: {params: {N: "1"}}}
jobs:
  - name: deploy
    type: runSh
    requiresApproval: {approvers: [ada@example.com]}
    steps: [{IN: cfg}, {TASK: {script: [echo]}}]
  - name: paint
    type: runSh
    steps: [{IN: cfg}, {TASK: {script: [echo]}}]
"""
WF = loader.load_workflow([("shippable.yml", LINE)])


def run(job: str, number: int, status: str) -> model.Run:
    return model.Run(job, number, status, model.Cause("input", "cfg version 1"))  # type: ignore[arg-type]


def snapshot(*active: model.Run) -> model.Snapshot:
    return model.Snapshot(jobs={r.job: model.JobHistory(active=(r,)) for r in active})


@pytest.mark.parametrize(("name", "said"), [
    ("deplyo", "no job 'deplyo'; did you mean 'deploy'?"),
    ("zzz", "no job 'zzz' (jobs: deploy, paint)"),
])
def test_a_job_that_does_not_exist_is_named_with_the_nearest(name, said):
    with pytest.raises(errors.NotFound) as err:
        names.check_job(WF.jobs, name)
    assert str(err.value) == said


@pytest.mark.parametrize(("job", "snap", "error", "said"), [
    ("paint", snapshot(run("paint", 1, "queued")), errors.NeedsNoApproval,
     "job 'paint' does not require approval"),
    ("deploy", snapshot(), errors.Refused, "no run of deploy is pending approval"),
    ("deploy", snapshot(run("deploy", 1, "running")), errors.Refused,
     "no run of deploy is pending approval"),
    ("dploy", snapshot(), errors.NotFound, "no job 'dploy'; did you mean 'deploy'?"),
])
def test_an_approval_needs_a_gated_job_with_a_waiting_run(job, snap, error, said):
    with pytest.raises(error) as err:
        actions.check_approvable(WF, snap, job)
    assert str(err.value) == said


def test_a_waiting_run_of_a_gated_job_can_be_approved():
    actions.check_approvable(WF, snapshot(run("deploy", 2, "pending_approval")), "deploy")


@dataclass(frozen=True)
class Entry:
    run: model.Run | None


class Store:
    def read_snapshot(self) -> model.Snapshot:
        return model.Snapshot()

    def history(self, name: str, limit: int = 0) -> list[Entry]:
        return [Entry(run(name, 1, "succeeded")), Entry(None)]


def test_only_a_run_that_exists_is_replayed():
    actions.check_replayable(Store(), "paint", 1)
    with pytest.raises(errors.NotFound, match="^paint has no run 2 to replay$"):
        actions.check_replayable(Store(), "paint", 2)


def test_a_request_without_a_controller_waits_for_one(tmp_path):
    asker = actions.Requests(tmp_path, 1, controller_running=lambda: False)
    answer = asker.ask("cancel", actions.Actor("bob", "", "token"), job="paint")
    assert answer.state == "no controller" and "no controller is running" in answer.message
    assert len(list((tmp_path / "requests").glob("*.yml"))) == 1
