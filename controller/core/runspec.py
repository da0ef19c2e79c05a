"""What a run is handed and what it hands back: plain data (pure).

A run goes out as a RunSpec (plain, picklable data: everything a worker needs, so a
Celery worker on another machine needs no access to the store) and comes back as an
Outcome. The core builds them (runenv reads them), executors run them, the reactor
records them; none of them needs to import another for it.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any, Literal

from controller.core import model


@dataclass(frozen=True)
class InputSpec:
    """One IN of a run, with the exact version it uses."""

    name: str
    kind: Literal["resource", "job"]
    type: str  # resource type, or the job's type for a job input
    version: model.Version | None  # None: a resource with no version yet (empty state)
    definition: dict[str, Any] = field(default_factory=dict)
    # resource: files of a state resource; job: the JOB_STATE files of that job's run
    files: dict[str, bytes] = field(default_factory=dict)
    # paths in `files` written executable (a gitRepo checkout's scripts)
    executable: frozenset[str] = frozenset()


@dataclass(frozen=True)
class OutputSpec:
    """One OUT of a run, with its current latest version (put_resource_state adds to it)."""

    name: str
    type: str
    current: model.Version | None
    definition: dict[str, Any] = field(default_factory=dict)
    files: dict[str, bytes] = field(default_factory=dict)
    replicate: str = ""
    overwrite: bool = False


@dataclass(frozen=True)
class RunSpec:
    run: model.Run
    job: model.Job
    inputs: tuple[InputSpec, ...] = ()
    outputs: tuple[OutputSpec, ...] = ()
    previous_state: dict[str, bytes] = field(default_factory=dict)  # JOB_PREVIOUS_STATE
    secrets: dict[str, str] = field(default_factory=dict)  # masked in the log
    # each cliConfig input's secret fields (also in `secrets`, so masked): its tool's
    # files and variables are made from them in the job's HOME (core/cliconfig.py)
    cli_configs: dict[str, dict[str, str]] = field(default_factory=dict)
    env: dict[str, str] = field(default_factory=dict)  # the controller's `pass_env` variables
    # Set when the run is cancelled before it started (approval rejected or timed out):
    # only on_cancel and always run, and the outcome is `cancelled` with this message.
    cancel_reason: str = ""
    log_limit: int = 10 * 1024 * 1024


def ran_as(spec: RunSpec, attempt: int) -> RunSpec:
    """`spec` whose run is attempt `attempt` (a redelivery after its worker was lost)."""
    if attempt <= spec.run.attempt:
        return spec
    return replace(spec, run=replace(spec.run, attempt=attempt))


def ran_by(spec: RunSpec, worker: str) -> RunSpec:
    """`spec` whose run names `worker` (a Celery node name, local@<hostname>) as its runner.

    Executors hand this to on_started / on_done, so the record says who ran the run."""
    if not worker or spec.run.worker == worker:
        return spec
    return replace(spec, run=replace(spec.run, worker=worker))


@dataclass(frozen=True)
class OutputUpdate:
    """What a run wrote to one output resource; the controller numbers the version."""

    resource: str
    values: dict[str, Any]
    replace: bool = True  # post_* replaces the values; put_* adds to the current ones
    version_name: str = ""
    files: dict[str, bytes] | None = None  # state files, when written


OutcomeStatus = Literal["succeeded", "failed", "cancelled", "timed_out"]


@dataclass(frozen=True)
class Outcome:
    status: OutcomeStatus
    exit_code: int | None
    log: str
    started_at: str
    finished_at: str
    log_truncated: bool = False
    outputs: tuple[OutputUpdate, ...] = ()
    state_files: dict[str, bytes] = field(default_factory=dict)  # JOB_STATE at the end
    notifications: tuple[str, ...] = ()  # NOTIFY events the run produced
    message: str = ""
    worker: str = ""  # who ran it (a Celery node name, local@<hostname>); "" if unknown
    # the run's attempt as executed, when its worker died and another delivery ran it again
    # (recorded on the run: attempt 2 of the same run); 0: the attempt it was sent as
    attempt: int = 0
    ci: tuple[model.CiResult, ...] = ()  # a CI run: each matrix row's result and reports
