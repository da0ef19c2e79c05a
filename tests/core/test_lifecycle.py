"""A run's life before it ends, in domain words: queued or gated, approved or refused,
superseded, expired, interrupted and queued again, cancelled as an orphan, replayed."""

from __future__ import annotations

import pytest

from controller.core import approvals, history, lifecycle, model, planner

LOC = model.Location("shippable.yml", 1, 1)
NOW = "2026-12-06T10:00:00.000Z"
CAUSE = model.Cause("input", "app version 2")


def job(name: str, approvers: tuple[str, ...] | None = None,
        timeout: float | None = None) -> model.Job:
    gate = None if approvers is None else model.Approval(approvers, timeout)
    return model.Job(name, "runSh", LOC, inputs=(model.Input("app", LOC),), approval=gate)


def wf(*jobs: model.Job) -> model.Workflow:
    return model.Workflow(jobs={j.name: j for j in jobs})


def run(job_name: str, number: int, status: str = "queued", queued_at: str = NOW,
        **kw) -> model.Run:
    return model.Run(job_name, number, status, CAUSE, (model.InputVersion("app", "resource", 1),),
                     queued_at=queued_at, **kw)


def snap(*runs: model.Run) -> model.Snapshot:
    s = model.Snapshot()
    for r in runs:
        s = history.with_run(s, r)
    return s


def planned(job_name: str = "deploy") -> planner.PlannedRun:
    return planner.PlannedRun(job_name, CAUSE, (model.InputVersion("app", "resource", 2),))


def kinds(transitions) -> list[str]:
    return [type(t).__name__ for t in transitions]


# --- queueing and gating -----------------------------------------------------------------

@pytest.mark.parametrize("name, workflow, before, expected", [
    ("a job without approval is queued",
     wf(job("deploy")), snap(), ["Queue"]),
    ("a job that requires approval waits for it",
     wf(job("deploy", approvers=())), snap(), ["Gate"]),
    ("a newer due run supersedes the one still waiting for approval",
     wf(job("deploy", approvers=())), snap(run("deploy", 1, "pending_approval")),
     ["Cancel", "Gate"]),
    ("a queued run of a gated job is not superseded",
     wf(job("deploy", approvers=())), snap(run("deploy", 1, "queued")), ["Gate"]),
])
def test_queueing_a_planned_run(name, workflow, before, expected):
    got = lifecycle.queue_run(workflow, before, planned(), config_commit="c1", now=NOW)
    assert kinds(got) == expected, name
    new = got[-1].run
    assert new.number == planner.next_run_number(before, "deploy")
    assert (new.config_commit, new.queued_at) == ("c1", NOW)


def test_a_superseded_run_says_which_run_superseded_it():
    got = lifecycle.queue_run(wf(job("deploy", approvers=())),
                              snap(run("deploy", 1, "pending_approval")), planned(),
                              config_commit="c1", now=NOW)
    assert got[0] == lifecycle.Cancel(run("deploy", 1, "pending_approval"),
                                      "superseded by run 2")


def test_a_run_already_with_the_executor_is_not_superseded_again():
    got = lifecycle.queue_run(wf(job("deploy", approvers=())),
                              snap(run("deploy", 1, "pending_approval")), planned(),
                              config_commit="c1", now=NOW, started={("deploy", 1)})
    assert kinds(got) == ["Gate"]


# --- approval verdicts -------------------------------------------------------------------

BOSS = approvals.Identity("boss", "boss@x", via="token")
INTERN = approvals.Identity("intern", "intern@x", via="token")


def asked(decision: str = "approve", who: approvals.Identity | None = BOSS,
          reason: str = "") -> approvals.ApprovalRequest:
    return approvals.ApprovalRequest("deploy", "abc1234def", "Boss <boss@x>",
                                     "approvals/deploy", decision, reason, identity=who)


@pytest.mark.parametrize("name, workflow, before, request_, verdict, message", [
    ("an approver's approval queues the pending run",
     wf(job("deploy", approvers=("boss",))), snap(run("deploy", 1, "pending_approval")),
     asked(), "Approve", "approved by boss <boss@x> (token) in abc1234"),
    ("an approver's rejection cancels it, with the reason",
     wf(job("deploy", approvers=("boss",))), snap(run("deploy", 1, "pending_approval")),
     asked("reject", reason="red tests"), "Cancel",
     "rejected by boss <boss@x> (token) in abc1234: red tests"),
    ("someone who is not an approver is refused, and the run keeps waiting",
     wf(job("deploy", approvers=("boss",))), snap(run("deploy", 1, "pending_approval")),
     asked(who=INTERN), "Refuse",
     "approve refused in abc1234: intern <intern@x> (token) is not an approver "
     "(approvers: boss)"),
    ("an unauthenticated commit is refused",
     wf(job("deploy", approvers=())), snap(run("deploy", 1, "pending_approval")),
     asked(who=None), "Refuse", None),
    ("a job without approval has nothing to decide",
     wf(job("deploy")), snap(run("deploy", 1)), asked(), "WhyNot", None),
    ("a gated job with no pending run has nothing to decide",
     wf(job("deploy", approvers=())), snap(run("deploy", 1, "queued")), asked(), "WhyNot",
     None),
])
def test_approval_verdicts(name, workflow, before, request_, verdict, message):
    got = lifecycle.decide_approval(workflow, before, request_, now=NOW)
    assert type(got).__name__ == verdict, name
    if message is not None:
        assert isinstance(got, lifecycle.Approve | lifecycle.Refuse | lifecycle.Cancel)
        assert (got.run.message if not isinstance(got, lifecycle.Cancel) else got.reason) \
            == message


def test_an_approval_made_before_the_run_was_queued_is_a_replay_and_refused():
    old = approvals.Identity("boss", "boss@x", via="ssh signature", made_at=1.0)
    got = lifecycle.decide_approval(wf(job("deploy", approvers=())),
                                    snap(run("deploy", 1, "pending_approval")),
                                    asked(who=old), now=NOW)
    assert isinstance(got, lifecycle.Refuse)
    assert "was made before this run was queued" in got.why


# --- expiry ------------------------------------------------------------------------------

@pytest.mark.parametrize("name, queued_at, timeout, expired", [
    ("a run waiting longer than the approval timeout is cancelled",
     "2026-12-06T09:00:00Z", 30, True),
    ("a run waiting less than the timeout keeps waiting", "2026-12-06T09:45:00Z", 30, False),
    ("without a timeout a run waits for ever", "2026-01-01T00:00:00Z", None, False),
    ("an unreadable queued time never expires", "yesterday", 30, False),
])
def test_approval_expiry(name, queued_at, timeout, expired):
    workflow = wf(job("deploy", approvers=(), timeout=timeout))
    got = lifecycle.expire_approvals(
        workflow, snap(run("deploy", 1, "pending_approval", queued_at=queued_at)), now=NOW)
    assert bool(got) == expired, name
    if expired:
        assert got[0].reason == "approval timed out after 30 minutes"


# --- recovery after a crash --------------------------------------------------------------

def test_a_run_left_running_is_queued_again_before_it_is_marked_interrupted():
    left = run("build", 3, "running", attempt=2, config_commit="c0",
               baseline=(model.InputVersion("app", "resource", 5),))
    (got,) = lifecycle.recover(snap(left), now=NOW)
    assert got.rerun is not None
    assert (got.rerun.number, got.rerun.status, got.rerun.cause.detail) == \
        (4, "queued", "run 3 was interrupted")
    assert (got.rerun.inputs, got.rerun.attempt, got.rerun.baseline, got.rerun.config_commit) \
        == (left.inputs, 2, left.baseline, "c0")
    assert (got.run.status, got.run.finished_at) == ("interrupted", NOW)


def test_a_rerun_queued_before_a_second_crash_is_not_queued_twice():
    left = run("build", 3, "running")
    rerun = model.Run("build", 4, "queued", model.Cause("retry", "run 3 was interrupted"))
    (got,) = lifecycle.recover(snap(left, rerun), now=NOW)
    assert got.rerun is None and got.run.status == "interrupted"


def test_two_runs_left_running_get_two_numbers():
    got = lifecycle.recover(snap(run("build", 1, "running"), run("build", 2, "running")),
                            now=NOW)
    assert [t.rerun.number for t in got if t.rerun] == [3, 4]


def test_queued_runs_are_not_interrupted():
    assert lifecycle.recover(snap(run("build", 1, "queued")), now=NOW) == []


# --- orphans and replays -----------------------------------------------------------------

def test_runs_of_a_job_removed_from_the_workflow_are_cancelled_unless_started():
    s = snap(run("gone", 1), run("gone", 2), run("kept", 1))
    got = lifecycle.cancel_orphans(wf(job("kept")), s, now=NOW, started={("gone", 1)})
    assert [(t.run.job, t.run.number, t.run.status, t.run.message) for t in got] == [
        ("gone", 2, "cancelled", "the job was removed from the workflow")]


def test_a_replay_runs_old_inputs_against_the_newest_runs_baseline():
    old = run("build", 1, "succeeded", params={"R": "1"})
    newest = model.Run("build", 2, "succeeded", CAUSE,
                       (model.InputVersion("app", "resource", 7),))
    got = lifecycle.plan_replay(snap(old, newest), "build", old, number=1, by="Bo")
    assert isinstance(got, planner.PlannedRun)
    assert (got.inputs, got.params, got.baseline) == (old.inputs, {"R": "1"}, newest.inputs)
    assert str(got.cause) == "replay: run 1 of build by Bo"


def test_a_replay_of_a_run_that_does_not_exist_says_so():
    got = lifecycle.plan_replay(snap(), "build", None, number=9, by="Bo")
    assert got == lifecycle.WhyNot("build has no run 9 to replay")
