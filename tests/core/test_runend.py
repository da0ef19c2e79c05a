"""What a run's end records, in domain words: the versions it publishes, then its final
record or its next attempt."""

from __future__ import annotations

import pytest

from controller.core import model, runend
from controller.core import runspec as rs

LOC = model.Location("shippable.yml", 1, 1)


def spec(*, retries: int = 0, attempt: int = 1, on_failure: bool = False,
         cancel_reason: str = "", replicate: str = "") -> rs.RunSpec:
    job = model.Job("build", "runSh", LOC, retries=retries,
                    outputs=(model.Output("img", LOC, on_failure=on_failure),
                             model.Output("copy", LOC, replicate=replicate)))
    run = model.Run("build", 4, "running", model.Cause("input", "x"), attempt=attempt,
                    config_commit="c1")
    src = model.Version("app", 3, "v3", {"sha": "abc"})
    return rs.RunSpec(run=run, job=job,
                      inputs=(rs.InputSpec("app", "resource", "params", src),),
                      outputs=(rs.OutputSpec("img", "image", None),
                               rs.OutputSpec("copy", "params", None, replicate=replicate)),
                      cancel_reason=cancel_reason)


def outcome(status: str = "succeeded", *written: str, message: str = "",
            state: dict[str, bytes] | None = None) -> rs.Outcome:
    return rs.Outcome(status, 0 if status == "succeeded" else 1, "log", "t0", "t1",  # type: ignore[arg-type]
                      outputs=tuple(rs.OutputUpdate(n, {"tag": n}) for n in written),
                      state_files=state or {}, message=message)


@pytest.mark.parametrize("name, status, on_failure, published", [
    ("a succeeded run publishes what it wrote", "succeeded", False, ["img"]),
    ("a failed run publishes nothing", "failed", False, []),
    ("a failed run publishes an OUT marked on_failure", "failed", True, ["img"]),
    ("a timed out run publishes an OUT marked on_failure", "timed_out", True, ["img"]),
])
def test_what_a_run_publishes(name, status, on_failure, published):
    got = runend.end_run(spec(on_failure=on_failure), outcome(status, "img"))
    assert [p.resource for p in got.publish] == published, name
    for p in got.publish:
        assert (p.created_by, p.config_commit) == ("build run 4", "c1")


def test_what_a_run_writes_outside_its_outs_is_ignored_and_named():
    got = runend.end_run(spec(), outcome("succeeded", "img", "elsewhere"))
    assert [p.resource for p in got.publish] == ["img"]
    assert got.not_outputs == ("elsewhere",)


@pytest.mark.parametrize("name, written, copied", [
    ("a replicated OUT gets a copy of its input's version", (), True),
    ("unless the run wrote it itself", ("copy",), False),
])
def test_replicate(name, written, copied):
    got = runend.end_run(spec(replicate="app"), outcome("succeeded", *written))
    copies = [p for p in got.publish if p.resource == "copy" and p.values == {"sha": "abc"}]
    assert bool(copies) == copied, name
    if copied:
        assert copies[0].name == "v3"


@pytest.mark.parametrize("name, status, retries, attempt, cancel_reason, ends", [
    ("a failed run with retries left runs again", "failed", 2, 1, "", "Retry"),
    ("a timed out run with retries left runs again", "timed_out", 1, 1, "", "Retry"),
    ("the last attempt's failure is final", "failed", 1, 2, "", "Finish"),
    ("a job without retries fails once", "failed", 0, 1, "", "Finish"),
    ("a run cancelled before it started is never retried", "failed", 2, 1, "rejected",
     "Finish"),
    ("a cancelled run is not retried", "cancelled", 2, 1, "", "Finish"),
    ("success is final", "succeeded", 2, 1, "", "Finish"),
])
def test_retry_policy(name, status, retries, attempt, cancel_reason, ends):
    got = runend.end_run(spec(retries=retries, attempt=attempt, cancel_reason=cancel_reason),
                         outcome(status))
    assert type(got.end).__name__ == ends, name


def test_a_retry_is_the_same_run_queued_one_attempt_on_and_says_why():
    got = runend.end_run(spec(retries=2), outcome("failed", message="exit 1"))
    assert isinstance(got.end, runend.Retry)
    assert (got.end.run.number, got.end.run.status, got.end.run.attempt) == (4, "queued", 2)
    assert got.end.run.message == "attempt 1 failed: exit 1; retrying (2 of 3)"
    assert got.end.subject == "build: run 4 attempt 1 failed, retrying"


@pytest.mark.parametrize("name, status, state, kept", [
    ("a succeeded run keeps its JOB_STATE", "succeeded", None, True),
    ("a failed run that wrote state keeps it", "failed", {"f": b"1"}, True),
    ("a failed run without state keeps the previous", "failed", None, False),
])
def test_job_state_after_a_run(name, status, state, kept):
    got = runend.end_run(spec(), outcome(status, state=state))
    assert isinstance(got.end, runend.Finish)
    assert got.end.keep_state == kept, name


def test_an_outcome_the_store_refuses_ends_the_run_failed_with_the_reason():
    got = runend.unrecordable(spec(), outcome(), "bad name")
    assert (got.run.status, got.run.message, got.keep_state) == (
        "failed", "outcome could not be recorded: bad name", False)
