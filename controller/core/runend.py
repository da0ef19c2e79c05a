"""What a run's end records: the versions its outputs publish, then the run's final
record, or its next attempt when the job retries.

Pure: a RunSpec and the executor's Outcome in, transitions out, which the reactor applies
in order (versions first, so a crash in between re-records nothing the run already
published: the run is still active and its outcome is lost, so it is interrupted).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from controller.core import model
from controller.core import runspec as rs


@dataclass(frozen=True)
class Publish:
    """A new version of an output, written by the run (or copied by `replicate`)."""

    resource: str
    values: dict[str, Any]
    created_by: str
    config_commit: str
    name: str = ""
    replace_values: bool = True
    files: dict[str, bytes] | None = None


@dataclass(frozen=True)
class Retry:
    """Record the failed attempt (with its log) as the run queued again, one attempt on."""

    run: model.Run
    subject: str


@dataclass(frozen=True)
class Finish:
    """Record the run's final state; `keep_state`: its JOB_STATE files too."""

    run: model.Run
    keep_state: bool


@dataclass(frozen=True)
class Ending:
    publish: tuple[Publish, ...]
    not_outputs: tuple[str, ...]  # resources the run wrote that are not its OUTs: ignored
    end: Retry | Finish


RETRIED = frozenset({"failed", "timed_out"})


def end_run(spec: rs.RunSpec, outcome: rs.Outcome) -> Ending:
    """The versions a finished run publishes and how its record ends."""
    run = spec.run
    made_by = f"{run.job} run {run.number}"
    outs = {o.name for o in spec.outputs}
    publish = [Publish(u.resource, dict(u.values), made_by, run.config_commit,
                       name=u.version_name, replace_values=u.replace, files=u.files)
               for u in outcome.outputs
               if u.resource in outs and spec.job.publishes(u.resource, outcome.status)]
    if outcome.status == "succeeded":
        publish += replicas(spec, {u.resource for u in outcome.outputs})
    final = replace(
        run, status=outcome.status, started_at=outcome.started_at,
        finished_at=outcome.finished_at, exit_code=outcome.exit_code,
        message="; ".join(m for m in (run.message, outcome.message, _truncated(outcome)) if m),
        notifications=outcome.notifications, ci=outcome.ci)
    not_outputs = tuple(u.resource for u in outcome.outputs if u.resource not in outs)
    return Ending(tuple(publish), not_outputs, _retry_or_finish(spec, outcome, final))


def _retry_or_finish(spec: rs.RunSpec, outcome: rs.Outcome, final: model.Run) -> Retry | Finish:
    """A failed or timed out attempt of a job with retries left runs again (never a run
    cancelled before it started); the record keeps its worker until the next starts."""
    retries = spec.job.retries
    if outcome.status in RETRIED and final.attempt <= retries and not spec.cancel_reason:
        what = outcome.status.replace("_", " ")
        again = replace(final, status="queued", attempt=final.attempt + 1,
                        message=f"attempt {final.attempt} {what}: {outcome.message}; "
                                f"retrying ({final.attempt + 1} of {retries + 1})")
        return Retry(again, f"{final.job}: run {final.number} attempt {final.attempt} {what}, "
                            "retrying")
    return Finish(final, keep_state=outcome.status == "succeeded" or bool(outcome.state_files))


def replicas(spec: rs.RunSpec, written: set[str]) -> list[Publish]:
    """`OUT: x, replicate: y`: x gets a copy of input y's version, unless the run wrote x."""
    found = []
    for out in spec.outputs:
        src = next((i for i in spec.inputs if i.name == out.replicate), None)
        if out.name in written or src is None or src.version is None:
            continue
        found.append(Publish(out.name, dict(src.version.values),
                             f"{spec.run.job} run {spec.run.number}", spec.run.config_commit,
                             name=src.version.name))
    return found


def unrecordable(spec: rs.RunSpec, outcome: rs.Outcome, err: str) -> Finish:
    """The state branch refused the outcome: the run ends failed with the reason (its log
    is kept, what was refused is not)."""
    reason = f"outcome could not be recorded: {err}"
    return Finish(replace(spec.run, status="failed", started_at=outcome.started_at,
                          finished_at=outcome.finished_at, exit_code=outcome.exit_code,
                          message="; ".join(m for m in (spec.run.message, reason) if m)),
                  keep_state=False)


def _truncated(outcome: rs.Outcome) -> str:
    """The run record says when its log.txt is only the head and tail of the output."""
    return "log truncated (only its first and last parts are kept)" if outcome.log_truncated \
        else ""
