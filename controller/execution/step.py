"""Running one step of a run: a script as `bash -e -o pipefail` in its own process group,
inside the sandbox, its output into the run's log; the result is a `hooks.StepResult`."""

from __future__ import annotations

import subprocess
import threading
from dataclasses import dataclass, field
from pathlib import Path

from controller.core import model
from controller.core.hooks import StepResult
from controller.core.runspec import RunSpec
from controller.execution import procgroup, sandbox, workspace
from controller.execution.logcapture import LogCapture, pump

# A job's PATH when `pass_env` passes none; HOME is its own folder in the workdir
DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
DEFAULT_LANG = "C.UTF-8"


@dataclass
class RunControl:
    """Lets another thread cancel a run: the running step sees it within 50 ms and its
    process group is killed; the run then goes on with on_cancel and always."""

    cancelled: threading.Event = field(default_factory=threading.Event)
    abandoned: threading.Event = field(default_factory=threading.Event)
    spawned: threading.Event = field(default_factory=threading.Event)  # its first process

    def cancel(self) -> None:
        self.cancelled.set()

    def abandon(self) -> None:
        """Kill the run without running any more hooks (executor shutting down)."""
        self.abandoned.set()
        self.cancelled.set()


@dataclass
class StepContext:
    """What every step of one run shares."""

    spec: RunSpec
    workdir: Path
    env: dict[str, str]
    capture: LogCapture
    control: RunControl
    shell: str
    grace: float
    counter: int = 0
    box: sandbox.Sandbox = field(default_factory=lambda: sandbox.Sandbox("none"))
    ci: list[model.CiResult] = field(default_factory=list)  # a CI run's rows (ci_run.py)


def process_env(ctx_env: dict[str, str], workdir: Path) -> dict[str, str]:
    """The job env and nothing of the controller's (that comes only through `pass_env`,
    already in the job env): a fixed PATH with shipctl's dir first, HOME in the workdir,
    LANG C.UTF-8, unless the job env sets them."""
    env = {"PATH": DEFAULT_PATH, "HOME": str(workdir / workspace.HOME_DIR),
           "LANG": DEFAULT_LANG}
    env.update(ctx_env)
    env["PATH"] = f"{workdir / workspace.BIN_DIR}:{env['PATH'] or DEFAULT_PATH}"
    return env


def run_step(
    ctx: StepContext,
    title: str,
    script: tuple[str, ...],
    env: dict[str, str],
    deadline: float | None,
    cancellable: bool = True,
) -> tuple[StepResult, int | None]:
    """Run one script; (result, exit code). Kills its whole group when it ends."""
    ctx.capture.line(f"--- {title} ---")
    if not any(line.strip() for line in script):
        return "ok", 0
    ctx.counter += 1
    path = ctx.workdir / workspace.STEPS_DIR / f"{ctx.counter:02d}.sh"
    path.write_text("\n".join(script) + "\n", encoding="utf-8")
    ctx.box.hand_over(ctx.workdir)  # what the controller wrote since the last step too
    proc = subprocess.Popen(
        ctx.box.wrap([ctx.shell, "-e", "-o", "pipefail", str(path)], ctx.workdir),
        cwd=ctx.workdir,
        env=process_env(env, ctx.workdir),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    ctx.control.spawned.set()
    # bwrap dies with its parent (and its pid namespace with it); a bare group needs a guard
    watch = None if ctx.box.active else procgroup.guard(proc.pid)
    assert proc.stdout is not None
    stop = threading.Event()
    reader = threading.Thread(
        target=pump, args=(proc.stdout.fileno(), ctx.capture, stop), daemon=True
    )
    reader.start()
    waited: procgroup.WaitResult | None = None
    try:
        waited = procgroup.wait(proc, ctx.control.cancelled if cancellable else None, deadline)
    finally:
        # bwrap's pid 1 takes every process of its namespace with it when it exits: only a
        # bare group (or a step still running: cancelled, timed out) is left to kill, and
        # its check scans /proc (a third of a worker thread's time in a fan-out)
        if not (ctx.box.active and waited == "exited"):
            procgroup.kill_group(proc.pid, ctx.grace)
        if watch is not None:
            watch.release()
        proc.wait()
        reader.join(ctx.grace)
        stop.set()
        reader.join(1.0)
        if not reader.is_alive():
            proc.stdout.close()
    code = proc.returncode
    result: StepResult = ("ok" if code == 0 else "failed") if waited == "exited" else waited
    if result != "ok":
        ctx.capture.line(f"gitline: {title}: {result} (exit code {code})")
    return result, code
