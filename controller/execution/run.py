"""Running a whole run: what `LocalExecutor` and the Celery worker both call.

`execute(spec, work_root, ...)` prepares the workspace, walks the stages of
`core.hooks.STAGES` (on_start, the TASKs, on_success, on_cancel or on_failure, always),
each script a step (`step.run_step`), then collects JOB_STATE files and output versions
and returns an Outcome with every secret value masked. It never raises: an internal
error is a failed run. Timeout (job.timeout_minutes) and cancel kill the running step's
process group; hooks after the job's work get `hook_timeout` s each.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import BinaryIO

from controller.core import hooks, runenv
from controller.core.clock import now_iso
from controller.core.hooks import StepResult
from controller.core.runspec import Outcome, OutputUpdate, RunSpec
from controller.execution import ci_run, cliconfigs, managed, sandbox, workspace
from controller.execution.logcapture import LogCapture
from controller.execution.procgroup import GRACE_SECONDS
from controller.execution.step import RunControl, StepContext, run_step
from controller.masking import mask, mask_files, secret_strings

log = logging.getLogger(__name__)

HOOK_TIMEOUT_SECONDS = 300.0


@dataclass
class RunState:
    """How the run is going: the result so far, where it stopped being ok, the exit code
    and a message."""

    result: StepResult = "ok"
    exit_code: int | None = 0
    message: str = ""
    failed_in: str = ""  # the stage that set a result other than ok
    notifications: list[str] = field(default_factory=list)

    @property
    def progress(self) -> hooks.Progress:
        return hooks.Progress(self.result, self.failed_in)

    def fail(self, stage: str, result: StepResult, code: int | None, what: str) -> None:
        """Record that `what` (a step of `stage`) ended with `result`."""
        self.result, self.exit_code, self.failed_in = result, code, stage
        if result == "failed":
            self.message = f"{what} failed with exit code {code}"
        elif result == "timeout":
            self.message = f"timed out during {what}"
        else:
            self.message = f"cancelled during {what}"


def spec_secret_values(spec: RunSpec) -> list[str]:
    """The run's secret strings, longest first: what its log and files are masked with."""
    return secret_strings(spec.secrets.values())


def mask_output(update: OutputUpdate, secrets: list[str]) -> OutputUpdate:
    """An output version's values, name and files with secret values masked."""
    if not secrets:
        return update
    values = {k: mask(v, secrets) if isinstance(v, str) else v for k, v in update.values.items()}
    files = mask_files(update.files, secrets) if update.files is not None else None
    return replace(update, values=values, version_name=mask(update.version_name, secrets),
                   files=files)


def run_hook(
    ctx: StepContext, state: RunState, name: str, deadline: float | None, cancellable: bool
) -> tuple[StepResult, int | None]:
    """Run the job's hook `name` (its NOTIFY entries first), if the job has one."""
    hook = ctx.spec.job.hooks.get(name)
    if hook is None:
        return "ok", 0
    state.notifications.extend(f"{name}: NOTIFY {n.name}" for n in hook.notify)
    if not hook.script:
        return "ok", 0
    return run_step(ctx, name, hook.script, ctx.env, deadline, cancellable)


def run_work(ctx: StepContext, deadline: float | None, hook_timeout: float = HOOK_TIMEOUT_SECONDS
             ) -> tuple[StepResult, int | None, str]:
    """The job's own work: its managed type's or its CI section's, then its TASKs in order
    until one is not ok; (result, exit code, the step's title)."""
    if ctx.spec.job.type in managed.MANAGED_TYPES:
        managed.run(ctx.spec, ctx.workdir, ctx.capture.line)
    if ctx.spec.job.ci is not None:
        result, code, title = ci_run.run(ctx, deadline, hook_timeout)
        if result != "ok":
            return result, code, title
    for index, task in enumerate(ctx.spec.job.tasks, start=1):
        title = f"TASK {task.name or index}"
        result, code = run_step(ctx, title, task.script, runenv.task_env(ctx.env, task), deadline)
        if result != "ok":
            return result, code, title
    return "ok", 0, ""


def run_steps(
    ctx: StepContext, state: RunState, deadline: float | None, hook_timeout: float
) -> None:
    """Every stage of `hooks.STAGES` that the run's progress calls for, in order.

    Stages of the job's work share the job's `deadline` and can be cancelled; the hooks
    after it get `hook_timeout` s each and are not run at all once the run is abandoned.
    """
    if ctx.spec.cancel_reason:
        state.result, state.exit_code, state.message = "cancelled", None, ctx.spec.cancel_reason
    for stage in hooks.STAGES:
        if not hooks.runs(stage, state.progress):
            continue
        if stage.after_job:
            if ctx.control.abandoned.is_set():
                return
            run_hook(ctx, state, stage.name, time.monotonic() + hook_timeout, False)
            continue
        if stage.name == hooks.TASKS:
            result, code, title = run_work(ctx, deadline, hook_timeout)
        else:
            result, code = run_hook(ctx, state, stage.name, deadline, True)
            title = stage.name
        if result != "ok":
            state.fail(stage.name, result, code, title)


def execute(
    spec: RunSpec,
    work_root: Path,
    *,
    control: RunControl | None = None,
    on_started: Callable[[RunSpec, str], None] | None = None,
    shell: str = "/bin/bash",
    hook_timeout: float = HOOK_TIMEOUT_SECONDS,
    grace: float = GRACE_SECONDS,
    box: sandbox.Sandbox | None = None,
    live_tee: Callable[[bytes], None] | None = None,
) -> Outcome:
    """Run `spec` in a fresh workdir under `work_root`; never raises.

    Every step runs in `box` (default: bwrap when it works here, see sandbox.default).
    The live log goes beside the workdir, and to `live_tee` too (a Celery worker's: to
    the controller through Redis); a tee that fails is dropped, never the run."""
    box = box or sandbox.default()
    control = control or RunControl()
    started = now_iso()
    if control.cancelled.is_set():
        return Outcome("cancelled", None, "", started, now_iso(), message="cancelled before start")
    workdir: Path | None = None
    claim: int | None = None
    live: BinaryIO | None = None
    capture = LogCapture(spec.log_limit, spec_secret_values(spec))
    try:
        workdir = workspace.prepare(spec, Path(work_root))
        live = workspace.live_log(workdir).open("wb")  # beside the folder: not the job's
        capture.live = live if live_tee is None else Tee(live, live_tee)
        claim = workspace.claim(workdir)  # no pruner, in any worker process, removes it now
        started = now_iso()
        if on_started is not None and not spec.cancel_reason:
            on_started(spec, started)
        env = runenv.job_env(spec, str(workdir))
        env.update(cliconfigs.prepare(spec, workdir, env, capture.line))  # tools' config
        ctx = StepContext(spec, workdir, env, capture, control, shell, grace, box=box)
        return _run(ctx, hook_timeout, started)
    except Exception as exc:  # an internal error becomes a failed run, never an exception
        log.exception("run %s %s failed internally", spec.job.name, spec.run.number)
        capture.line(f"gitline: internal error: {exc}")
        secrets = spec_secret_values(spec)
        return Outcome(
            "failed",
            None,
            capture.render(secrets),
            started,
            now_iso(),
            log_truncated=capture.truncated,
            message=mask(f"internal error: {type(exc).__name__}: {exc}", secrets),
        )
    finally:
        if live is not None:
            live.close()
        if claim is not None:
            os.close(claim)
        if workdir is not None:
            workspace.prune_quietly(workdir.parent)


def _run(ctx: StepContext, hook_timeout: float, started: str) -> Outcome:
    spec, workdir, capture = ctx.spec, ctx.workdir, ctx.capture
    minutes = spec.job.timeout_minutes
    deadline = time.monotonic() + minutes * 60 if minutes else None
    state = RunState()
    run_steps(ctx, state, deadline, hook_timeout)
    if state.result == "timeout":
        state.message = f"timed out after {minutes:g} minutes ({state.message})"
    notes: list[str] = []
    outputs, state_files = workspace.collect(spec, workdir, notes)
    status = hooks.outcome_status(state.result)
    outputs = tuple(o for o in outputs if spec.job.publishes(o.resource, status))
    state.notifications.extend(_shipctl_events(workdir))
    for note in notes:
        capture.line(f"gitline: {note}")
    secrets = spec_secret_values(spec)
    # what goes to the state branch never holds a secret: files and values are masked too
    state_files = mask_files(state_files, secrets)
    outputs = tuple(mask_output(o, secrets) for o in outputs)
    return Outcome(
        status=status,
        exit_code=state.exit_code if status in ("succeeded", "failed") else None,
        log=capture.render(secrets),
        started_at=started,
        finished_at=now_iso(),
        log_truncated=capture.truncated,
        outputs=outputs,
        state_files=state_files,
        notifications=tuple(mask(n, secrets) for n in state.notifications),
        message=mask("; ".join(m for m in [state.message, *notes] if m), secrets),
        ci=tuple(replace(r, note=mask(r.note, secrets)) for r in ctx.ci),
    )


def _shipctl_events(workdir: Path) -> list[str]:
    """The NOTIFY lines of the events `shipctl notify` recorded."""
    events = []
    for event in workspace.read_notifications(workdir):
        options = event.get("options") or {}
        extra = " ".join(f"--{k}={v}" for k, v in sorted(options.items()))
        events.append(f"shipctl: NOTIFY {event.get('resource', '')}{' ' + extra if extra else ''}")
    return events


class Tee:
    """The live log file, whose every write also goes to `also` (until that fails)."""

    def __init__(self, file: BinaryIO, also: Callable[[bytes], None]) -> None:
        self.file = file
        self.also: Callable[[bytes], None] | None = also

    def write(self, data: bytes, /) -> int:
        written = self.file.write(data)
        if self.also is not None:
            try:
                self.also(bytes(data))
            except Exception:  # the copy elsewhere stops; the run and its log go on
                log.warning("the live log's copy stopped", exc_info=True)
                self.also = None
        return written

    def flush(self) -> None:
        self.file.flush()
