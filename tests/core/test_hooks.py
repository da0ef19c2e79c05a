"""The order of a run's stages: which stages run after each way a run can go."""

from __future__ import annotations

import pytest

from controller.core import hooks
from controller.core.hooks import Progress


def stages_after(progress: Progress, *, from_stage: str = "") -> list[str]:
    """The stages that run once a run stands at `progress` (after `from_stage`)."""
    names = [s.name for s in hooks.STAGES]
    rest = hooks.STAGES[names.index(from_stage) + 1:] if from_stage else hooks.STAGES
    return [s.name for s in rest if hooks.runs(s, progress)]


def test_a_run_that_goes_well_runs_on_success_and_always() -> None:
    assert stages_after(Progress()) == ["on_start", hooks.TASKS, "on_success", "always"]


@pytest.mark.parametrize("failed_in", ["on_start", hooks.TASKS])
def test_a_failure_runs_on_failure_then_always(failed_in: str) -> None:
    after = stages_after(Progress("failed", failed_in), from_stage=failed_in)
    assert after == ["on_failure", "always"]


def test_a_failing_on_success_does_not_run_on_failure() -> None:
    assert stages_after(Progress("failed", "on_success"), from_stage="on_success") == ["always"]


def test_a_timeout_even_in_on_success_runs_on_failure() -> None:
    after = stages_after(Progress("timeout", "on_success"), from_stage="on_success")
    assert after == ["on_failure", "always"]


def test_a_cancel_runs_on_cancel_never_on_failure() -> None:
    assert stages_after(Progress("cancelled", hooks.TASKS)) == ["on_cancel", "always"]


def test_hooks_after_the_job_are_the_after_job_stages() -> None:
    after = [s.name for s in hooks.STAGES if s.after_job]
    assert after == ["on_cancel", "on_failure", "always"]


def test_every_step_result_has_one_outcome_status() -> None:
    assert {r: hooks.outcome_status(r) for r in ("ok", "failed", "timeout", "cancelled")} == {
        "ok": "succeeded", "failed": "failed", "timeout": "timed_out", "cancelled": "cancelled"}
