"""Trigger files that wait for an input job's run in flight, in domain words."""

from __future__ import annotations

import pytest

from controller.core import history, intake, model

LOC = model.Location("shippable.yml", 1, 1)

WF = model.Workflow(
    resources={"app": model.Resource("app", "params", {}, LOC)},
    jobs={"build": model.Job("build", "runSh", LOC, inputs=(model.Input("app", LOC),)),
          "deploy": model.Job("deploy", "runSh", LOC, inputs=(model.Input("build", LOC),))})


def waiting(job: str = "deploy", commit: str = "c1") -> model.TriggerRequest:
    return model.TriggerRequest(job, commit, "Ada <a@x>", f"triggers/{job}",
                                error="waiting for input job build (run 1 running)")


def snap(*runs: model.Run, waits: tuple[model.TriggerRequest, ...] = ()) -> model.Snapshot:
    s = model.Snapshot(versions={"app": model.Version("app", 1)}, waiting_triggers=waits)
    for r in runs:
        s = history.with_run(s, r)
    return s


def build(status: str) -> model.Run:
    return model.Run("build", 1, status, model.Cause("input", "app version 1"))


@pytest.mark.parametrize("name, state, runs, refused, still, changed", [
    ("nothing waits: nothing to do", snap(build("running")), 0, 0, 0, False),
    ("the run it waits for is still running: it keeps waiting",
     snap(build("running"), waits=(waiting(),)), 0, 0, 1, False),
    ("the run it waited for succeeded: it runs", snap(build("succeeded"),
                                                      waits=(waiting(),)), 1, 0, 0, True),
    ("the run it waited for failed and never succeeded: it is refused",
     snap(build("failed"), waits=(waiting(),)), 0, 1, 0, True),
    ("its job left the workflow: it is refused",
     snap(build("succeeded"), waits=(waiting("gone"),)), 0, 1, 0, True),
])
def test_waiting_trigger_files(name, state, runs, refused, still, changed):
    got = intake.retry_waiting(WF, state)
    assert (len(got.runs), len(got.refused), len(got.waiting), got.changed) == \
        (runs, refused, still, changed), name


def test_a_trigger_that_already_ran_is_dropped_from_the_waiting_list():
    ran = model.Run("deploy", 1, "queued", model.Cause("trigger", "triggers/deploy", "c1"))
    got = intake.retry_waiting(WF, snap(build("succeeded"), ran, waits=(waiting(),)))
    assert (got.runs, got.waiting, got.changed) == ((), (), True)


def test_a_trigger_that_runs_keeps_its_params_and_commit():
    req = model.TriggerRequest("deploy", "c9", "Ada <a@x>", "triggers/deploy", {"R": "1"})
    (planned,) = intake.retry_waiting(WF, snap(build("succeeded"), waits=(req,))).runs
    assert (planned.params, planned.cause.kind, planned.cause.commit) == ({"R": "1"},
                                                                         "trigger", "c9")
