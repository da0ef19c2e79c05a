"""The order a run's steps and hooks run in, as data (like Concourse's on_failure/ensure).

A run is a sequence of stages: `on_start`, the TASKs, `on_success`, then `on_cancel` or
`on_failure`, then `always`. Each stage says for which result-so-far it runs; the runner
(`execution/run.py`) walks `STAGES` and asks `runs(stage, progress)`. The vocabulary of
step results ("timeout") is the runner's; `outcome_status` maps it, once, to the
Outcome's ("timed_out").
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from controller.core.runspec import OutcomeStatus

StepResult = Literal["ok", "failed", "timeout", "cancelled"]

TASKS = "tasks"  # the stage of the job's own work (a managed type's, then its TASKs)

OUTCOME_STATUS: dict[StepResult, OutcomeStatus] = {
    "ok": "succeeded",
    "failed": "failed",
    "timeout": "timed_out",
    "cancelled": "cancelled",
}


@dataclass(frozen=True)
class Stage:
    """One step of the run's order.

    `runs_on`: the run's results so far that let it run. `after_job`: it runs once the
    job's work is over: with its own time limit (not the job's), not cancellable, and not
    at all when the run is abandoned. `spares`: stages whose plain failure this one does
    not answer (on_failure is not run again for a failing on_success).
    """

    name: str
    runs_on: frozenset[StepResult]
    after_job: bool = False
    spares: frozenset[str] = frozenset()


_OK: frozenset[StepResult] = frozenset({"ok"})

STAGES: tuple[Stage, ...] = (
    Stage("on_start", _OK),
    Stage(TASKS, _OK),
    Stage("on_success", _OK),
    Stage("on_cancel", frozenset({"cancelled"}), after_job=True),
    Stage("on_failure", frozenset({"failed", "timeout"}), after_job=True,
          spares=frozenset({"on_success"})),
    Stage("always", frozenset(OUTCOME_STATUS), after_job=True),
)


@dataclass(frozen=True)
class Progress:
    """Where a run stands: its result so far and the stage that set it ("" while ok)."""

    result: StepResult = "ok"
    failed_in: str = ""


def runs(stage: Stage, progress: Progress) -> bool:
    """True if `stage` runs after `progress`."""
    if progress.result not in stage.runs_on:
        return False
    return not (progress.result == "failed" and progress.failed_in in stage.spares)


def outcome_status(result: StepResult) -> OutcomeStatus:
    """The Outcome status a run that ended with `result` gets."""
    return OUTCOME_STATUS[result]
