"""The reconcile pass against the in-memory state store, as a user would notice it: which
runs exist, in which state, with what cause, and what the executor was handed."""

from __future__ import annotations

from controller.core import runspec as rs
from tests.harness.reactorline import Line, make_line

CFG = """\
resources:
  - name: cfg
    type: params
    versionTemplate:
      params: {N: "%s"}
  - name: img
    type: image
    versionTemplate: {sourceName: app}
jobs:
"""

BUILD = """\
  - name: build
    type: runSh
    steps:
      - IN: cfg
      - TASK:
          script: [echo build]
      - OUT: img
"""


def workflow(jobs: str, n: str = "1") -> str:
    return CFG % n + jobs


def handed(line: Line) -> list[str]:
    return [f"{s.run.job} {s.run.number}" + (" (cancel)" if s.cancel_reason else "")
            for s in line.executor.given]


def test_a_push_queues_the_job_and_a_new_version_queues_it_again(line: Line):
    line.push("shippable.yml", workflow(BUILD))
    assert line.runs("build") == ["run 1 queued"]
    assert handed(line) == ["build 1"]
    line.executor.start("build", 1)
    line.run_pass()
    assert line.runs("build") == ["run 1 running"]
    line.executor.end("build", 1)
    line.run_pass()
    assert line.runs("build") == ["run 1 succeeded"]

    line.push("shippable.yml", workflow(BUILD, n="2"))
    assert line.runs("build") == ["run 1 succeeded", "run 2 queued"]
    assert line.run("build", 2).cause.detail == "cfg version 2"
    line.push("README", "nothing the line uses")
    assert line.runs("build") == ["run 1 succeeded", "run 2 queued"]


def test_what_a_run_writes_to_its_out_becomes_a_version_only_when_it_succeeds(line: Line):
    line.push("shippable.yml", workflow(BUILD))
    before = line.version("img")
    line.executor.end("build", 1, "failed", outputs=(rs.OutputUpdate("img", {"tag": "bad"}),))
    line.run_pass()
    assert line.version("img") == before
    line.push("shippable.yml", workflow(BUILD, n="2"))
    line.executor.end("build", 2, outputs=(rs.OutputUpdate("img", {"tag": "good"},
                                                           version_name="1.0"),))
    line.run_pass()
    img = line.version("img")
    assert img is not None and (img.name, img.values, img.created_by) == (
        "1.0", {"tag": "good"}, "build run 2")


GATED = """\
  - name: deploy
    type: runSh
    requiresApproval:
      approvers: [ada@example.com]
      timeoutMinutes: 30
    steps:
      - IN: cfg
      - TASK:
          script: [echo deploy]
"""


def test_a_gated_run_waits_for_approval_and_runs_once_approved(line: Line):
    line.push("shippable.yml", workflow(GATED))
    assert line.runs("deploy") == ["run 1 pending_approval"]
    assert handed(line) == []
    line.push("approvals/deploy", "approve: ship it\n")
    assert line.runs("deploy") == ["run 1 queued"]
    assert "approved by ada <ada@example.com> (token)" in line.run("deploy", 1).message
    assert handed(line) == ["deploy 1"]


def test_a_rejected_run_is_cancelled_with_its_hooks(line: Line):
    line.push("shippable.yml", workflow(GATED))
    line.push("approvals/deploy", "reject: not today\n")
    assert handed(line) == ["deploy 1 (cancel)"]
    line.run_pass()
    assert line.runs("deploy") == ["run 1 cancelled"]
    assert "not today" in line.run("deploy", 1).message


def test_a_newer_version_supersedes_the_run_waiting_for_approval(line: Line):
    line.push("shippable.yml", workflow(GATED))
    line.push("shippable.yml", workflow(GATED, n="2"))
    line.run_pass()
    assert line.runs("deploy") == ["run 1 cancelled", "run 2 pending_approval"]
    assert line.run("deploy", 1).message == "superseded by run 2"


def test_a_run_waiting_longer_than_the_approval_timeout_is_cancelled(line: Line):
    line.push("shippable.yml", workflow(GATED))
    line.now[0] = "2026-12-06T10:20:00.000Z"
    line.run_pass()
    assert line.runs("deploy") == ["run 1 pending_approval"]
    line.now[0] = "2026-12-06T10:31:00.000Z"
    line.run_pass()
    line.run_pass()
    assert line.runs("deploy") == ["run 1 cancelled"]
    assert line.run("deploy", 1).message == "approval timed out after 30 minutes"


def test_after_a_crash_a_running_run_is_interrupted_and_runs_again(line: Line, tmp_path):
    line.push("shippable.yml", workflow(BUILD))
    line.executor.start("build", 1)
    line.run_pass()
    assert line.runs("build") == ["run 1 running"]

    restarted = make_line(tmp_path, store=line.store)  # a new process, the same state
    restarted.run_pass()
    assert restarted.runs("build") == ["run 1 interrupted", "run 2 queued"]
    assert restarted.run("build", 2).cause.detail == "run 1 was interrupted"
    assert handed(restarted) == ["build 2"]
    restarted.run_pass()  # recovery happens once per process
    assert restarted.runs("build") == ["run 1 interrupted", "run 2 queued"]


def test_after_a_crash_a_run_its_executor_still_follows_goes_on_and_is_recorded_once(
        line: Line, tmp_path):
    line.executor.outlives_its_controller = True  # a Celery worker runs it, not the process
    line.push("shippable.yml", workflow(BUILD))
    line.executor.start("build", 1)
    line.run_pass()

    restarted = make_line(tmp_path, store=line.store, executor=line.executor)
    restarted.run_pass()
    assert restarted.runs("build") == ["run 1 running"]  # not interrupted, no re-run
    assert handed(restarted) == ["build 1"]  # given once, by the first process
    restarted.executor.end("build", 1)
    restarted.run_pass()
    assert restarted.runs("build") == ["run 1 succeeded"]


RETRIED = BUILD.replace("type: runSh\n", "type: runSh\n    retries: 1\n")


def test_a_failed_attempt_is_retried_as_the_same_run(line: Line):
    line.push("shippable.yml", workflow(RETRIED))
    line.executor.end("build", 1, "failed")
    line.run_pass()
    assert line.runs("build") == ["run 1 queued"]
    assert line.run("build", 1).attempt == 2
    assert handed(line) == ["build 1", "build 1"]
    line.executor.end("build", 1, "failed")
    line.run_pass()
    assert line.runs("build") == ["run 1 failed"]


def test_a_trigger_file_runs_its_job_once_with_its_params(line: Line):
    line.push("shippable.yml", workflow(BUILD))
    line.executor.end("build", 1)
    line.run_pass()
    line.push("triggers/build", "REASON: hotfix\n")
    assert line.runs("build") == ["run 1 succeeded", "run 2 queued"]
    run = line.run("build", 2)
    assert (run.cause.kind, run.params) == ("trigger", {"REASON": "hotfix"})


def test_a_queued_run_of_a_job_removed_from_the_workflow_is_cancelled(line: Line):
    line.push("shippable.yml", workflow(BUILD))  # run 1 held by the executor
    line.push("triggers/build", "")  # run 2 queued behind it (serial)
    assert line.runs("build") == ["run 1 queued", "run 2 queued"]
    line.push("shippable.yml", workflow(""))
    assert line.runs("build") == ["run 1 queued", "run 2 cancelled"]
    assert line.run("build", 2).message == "the job was removed from the workflow"
