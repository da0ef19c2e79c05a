"""The local executor: runs each RunSpec as shell processes on this machine.

`execute(spec, work_root, ...)` is the whole run as a plain function (a Celery task can
call it too): prepare the workspace, run the on_start hook, the TASKs in order, then
on_success / on_failure / on_cancel and always, each as one `bash -e -o pipefail` script
in its own process group; collect JOB_STATE files and output versions; return an Outcome.

Timeout (job.timeout_minutes) and cancel kill the whole process group (SIGTERM, then
SIGKILL after a grace period); when a script ends, whatever it left running in its group
is killed too. The log (stdout and stderr merged) is kept within spec.log_limit: its
first and last parts, with a marker where the middle was dropped; the pipe is always
drained. Secret values are masked. `LocalExecutor` runs `execute` on a thread pool.
"""

from __future__ import annotations

import contextlib
import logging
import os
import select
import shutil
import signal
import socket
import subprocess
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import BinaryIO

from controller.core import runenv
from controller.core.runspec import Outcome, OutcomeStatus, OutputUpdate, RunSpec, ran_by
from controller.execution import managed, sandbox, workspace
from controller.masking import StreamMasker, mask, mask_bytes, ordered

log = logging.getLogger(__name__)

KEEP_WORKDIRS = 3
GRACE_SECONDS = 2.0
HOOK_TIMEOUT_SECONDS = 300.0
# A job's PATH when `pass_env` passes none; HOME is its own folder in the workdir
DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
DEFAULT_LANG = "C.UTF-8"

StepResult = str  # "ok" | "failed" | "timeout" | "cancelled"



def now_iso() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


# --- log capture ---------------------------------------------------------------------


class LogCapture:
    """Keeps the first and last `limit/2` bytes of a stream; counts what it drops."""

    def __init__(self, limit: int, secrets: Iterable[str] = (),
                 live: BinaryIO | None = None) -> None:
        limit = max(int(limit), 0)
        self.masker = StreamMasker(secrets)  # before the cut: a cut never halves a secret
        # the masked stream as it comes, for `gitline logs -f` (up to `limit` bytes)
        self.live, self.live_room = live, limit
        self.head_cap = limit // 2
        self.tail_cap = limit - self.head_cap
        self.head = bytearray()
        self.tail: deque[bytes] = deque()
        self.tail_len = 0
        self.dropped = 0
        self._lock = threading.Lock()

    @property
    def truncated(self) -> bool:
        return self.dropped > 0

    def write(self, data: bytes) -> None:
        with self._lock:
            masked = self.masker.feed(data)
            self._follow(masked)
            self._keep(masked)

    def _follow(self, data: bytes) -> None:
        if self.live is None or not data:
            return
        try:
            if len(data) > self.live_room:
                data = data[:self.live_room] + b"\n[... the live log stops here; the run's " \
                    b"log keeps its head and tail ...]\n"
                self.live_room = 0
            else:
                self.live_room -= len(data)
            self.live.write(data)
            self.live.flush()
            if not self.live_room:
                self.live = None
        except OSError:  # a full disk stops the live copy, never the run
            self.live = None

    def _keep(self, data: bytes) -> None:
        room = self.head_cap - len(self.head)
        if room > 0:
            self.head += data[:room]
            data = data[room:]
        if data:
            self.tail.append(bytes(data))
            self.tail_len += len(data)
            self._trim()

    def line(self, text: str) -> None:
        self.write((text.rstrip("\n") + "\n").encode("utf-8", "replace"))

    def _trim(self) -> None:
        while self.tail_len > self.tail_cap and self.tail:
            excess = self.tail_len - self.tail_cap
            first = self.tail[0]
            if len(first) <= excess:
                self.tail.popleft()
                cut = len(first)
            else:
                self.tail[0] = first[excess:]
                cut = excess
            self.tail_len -= cut
            self.dropped += cut

    def render(self, secrets: list[str]) -> str:
        with self._lock:
            rest = self.masker.flush()
            self._follow(rest)
            self._keep(rest)
            marker = b""
            if self.dropped:
                marker = f"\n[... log truncated: {self.dropped} bytes omitted ...]\n".encode()
            blob = bytes(self.head) + marker + b"".join(self.tail)
        return mask(blob.decode("utf-8", "replace"), secrets)


def spec_secret_values(spec: RunSpec) -> list[str]:
    """The run's secret strings, longest first: what its log and files are masked with."""
    return ordered(v for v in spec.secrets.values() if isinstance(v, str))


def mask_files(files: dict[str, bytes], secrets: list[str]) -> dict[str, bytes]:
    """State files with every secret value replaced by `****`."""
    return {path: mask_bytes(data, secrets) for path, data in files.items()}


def mask_output(update: OutputUpdate, secrets: list[str]) -> OutputUpdate:
    """An output version's values, name and files with secret values masked."""
    if not secrets:
        return update
    values = {k: mask(v, secrets) if isinstance(v, str) else v for k, v in update.values.items()}
    files = mask_files(update.files, secrets) if update.files is not None else None
    return replace(update, values=values, version_name=mask(update.version_name, secrets),
                   files=files)


# --- process groups ------------------------------------------------------------------


def group_alive(pgid: int) -> bool:
    """True while a non-zombie process is in group `pgid` (via /proc, else killpg 0)."""
    try:
        # The usual case after a step ends (its leader already reaped): the group is
        # empty, and asking the kernel is ~1000x cheaper than scanning all of /proc.
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass
    try:
        entries = os.listdir("/proc")
    except OSError:
        entries = None
    if entries is None:
        try:
            os.killpg(pgid, 0)
        except (ProcessLookupError, PermissionError):
            return False
        return True
    for entry in entries:
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as fh:
                stat = fh.read()
        except OSError:
            continue
        fields = stat[stat.rfind(b")") + 2 :].split()
        if len(fields) > 2 and fields[0] != b"Z" and int(fields[2]) == pgid:
            return True
    return False


def kill_group(pgid: int, grace: float = GRACE_SECONDS) -> None:
    """SIGTERM the group, wait up to `grace` s for it to go, then SIGKILL it."""
    if not group_alive(pgid):
        return
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, signal.SIGTERM)
    end = time.monotonic() + grace
    while time.monotonic() < end:
        if not group_alive(pgid):
            return
        time.sleep(0.02)
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, signal.SIGKILL)


# --- run control ---------------------------------------------------------------------


@dataclass
class RunControl:
    """Lets another thread cancel a run: the running step sees it within 50 ms and its
    process group is killed; the run then goes on with on_cancel and always."""

    cancelled: threading.Event = field(default_factory=threading.Event)
    abandoned: threading.Event = field(default_factory=threading.Event)

    def cancel(self) -> None:
        self.cancelled.set()

    def abandon(self) -> None:
        """Kill the run without running any more hooks (executor shutting down)."""
        self.abandoned.set()
        self.cancelled.set()


def _pump(fd: int, capture: LogCapture, stop: threading.Event) -> None:
    """Read `fd` until EOF (or `stop` with nothing to read), keeping what fits."""
    while True:
        ready, _, _ = select.select([fd], [], [], 0.1)
        if ready:
            try:
                chunk = os.read(fd, 65536)
            except OSError:
                return
            if not chunk:
                return
            capture.write(chunk)
        elif stop.is_set():
            return


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
    assert proc.stdout is not None
    stop = threading.Event()
    reader = threading.Thread(
        target=_pump, args=(proc.stdout.fileno(), ctx.capture, stop), daemon=True
    )
    reader.start()
    try:
        result = _wait(proc, ctx.control if cancellable else None, deadline)
    finally:
        kill_group(proc.pid, ctx.grace)
        proc.wait()
        reader.join(ctx.grace)
        stop.set()
        reader.join(1.0)
        if not reader.is_alive():
            proc.stdout.close()
    code = proc.returncode
    if result == "exited":
        result = "ok" if code == 0 else "failed"
    if result != "ok":
        ctx.capture.line(f"gitline: {title}: {result} (exit code {code})")
    return result, code


def _wait(
    proc: subprocess.Popen[bytes], control: RunControl | None, deadline: float | None
) -> StepResult:
    while True:
        if proc.poll() is not None:
            return "exited"
        if control is not None and control.cancelled.is_set():
            return "cancelled"
        if deadline is not None and time.monotonic() >= deadline:
            return "timeout"
        if control is not None:
            control.cancelled.wait(0.05)
        else:
            time.sleep(0.05)


# --- one run -------------------------------------------------------------------------


@dataclass
class RunState:
    """How the run is going: the result so far, the exit code and a message."""

    result: StepResult = "ok"
    exit_code: int | None = 0
    message: str = ""
    notifications: list[str] = field(default_factory=list)


def run_hook(
    ctx: StepContext, state: RunState, name: str, deadline: float | None, cancellable: bool
) -> tuple[StepResult, int | None]:
    hook = ctx.spec.job.hooks.get(name)
    if hook is None:
        return "ok", 0
    state.notifications.extend(f"{name}: NOTIFY {n.name}" for n in hook.notify)
    if not hook.script:
        return "ok", 0
    return run_step(ctx, name, hook.script, ctx.env, deadline, cancellable)


def _fail(state: RunState, result: StepResult, code: int | None, what: str) -> None:
    state.result, state.exit_code = result, code
    if result == "failed":
        state.message = f"{what} failed with exit code {code}"
    elif result == "timeout":
        state.message = f"timed out during {what}"
    else:
        state.message = f"cancelled during {what}"


def run_steps(
    ctx: StepContext, state: RunState, deadline: float | None, hook_timeout: float
) -> None:
    """on_start, TASKs, then the hooks the result calls for, then always.

    A failing on_success fails the run (on_failure is not run again for it); a timeout
    runs on_failure; a cancel runs on_cancel. Hooks after the run get `hook_timeout` s.
    """
    if ctx.spec.cancel_reason:
        state.result, state.exit_code, state.message = "cancelled", None, ctx.spec.cancel_reason
    else:
        result, code = run_hook(ctx, state, "on_start", deadline, True)
        if result != "ok":
            _fail(state, result, code, "on_start")
    if state.result == "ok" and ctx.spec.job.type in managed.MANAGED_TYPES:
        managed.run(ctx.spec, ctx.workdir, ctx.capture.line)
    for index, task in enumerate(ctx.spec.job.tasks, start=1):
        if state.result != "ok":
            break
        title = f"TASK {task.name or index}"
        result, code = run_step(ctx, title, task.script, runenv.task_env(ctx.env, task), deadline)
        if result != "ok":
            _fail(state, result, code, title)
    success_failed = False
    if state.result == "ok":
        result, code = run_hook(ctx, state, "on_success", deadline, True)
        if result != "ok":
            _fail(state, result, code, "on_success")
            success_failed = result == "failed"
    if ctx.control.abandoned.is_set():
        return
    after = time.monotonic() + hook_timeout
    if state.result == "cancelled":
        run_hook(ctx, state, "on_cancel", after, False)
    elif state.result != "ok" and not success_failed:
        run_hook(ctx, state, "on_failure", after, False)
    run_hook(ctx, state, "always", time.monotonic() + hook_timeout, False)


STATUS: dict[StepResult, OutcomeStatus] = {
    "ok": "succeeded",
    "failed": "failed",
    "timeout": "timed_out",
    "cancelled": "cancelled",
}


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
) -> Outcome:
    """Run `spec` in a fresh workdir under `work_root`; never raises.

    Every step runs in `box` (default: bwrap when it works here, see sandbox.default)."""
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
        capture.live = live
        claim = workspace.claim(workdir)  # no pruner, in any worker process, removes it now
        started = now_iso()
        if on_started is not None and not spec.cancel_reason:
            on_started(spec, started)
        return _run(spec, workdir, capture, control, shell, hook_timeout, grace, started, box)
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
            _prune_quietly(workdir.parent)


def _run(
    spec: RunSpec,
    workdir: Path,
    capture: LogCapture,
    control: RunControl,
    shell: str,
    hook_timeout: float,
    grace: float,
    started: str,
    box: sandbox.Sandbox,
) -> Outcome:
    env = runenv.job_env(spec, str(workdir))
    ctx = StepContext(spec, workdir, env, capture, control, shell, grace, box=box)
    minutes = spec.job.timeout_minutes
    deadline = time.monotonic() + minutes * 60 if minutes else None
    state = RunState()
    run_steps(ctx, state, deadline, hook_timeout)
    if state.result == "timeout":
        state.message = f"timed out after {minutes:g} minutes ({state.message})"
    notes: list[str] = []
    outputs, state_files = workspace.collect(spec, workdir, notes)
    status = STATUS[state.result]
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
    )


def _shipctl_events(workdir: Path) -> list[str]:
    events = []
    for event in workspace.read_notifications(workdir):
        options = event.get("options") or {}
        extra = " ".join(f"--{k}={v}" for k, v in sorted(options.items()))
        events.append(f"shipctl: NOTIFY {event.get('resource', '')}{' ' + extra if extra else ''}")
    return events


def prune_workdirs(job_dir: Path, keep: int = KEEP_WORKDIRS) -> list[Path]:
    """Delete all but the newest `keep` run workdirs of a job, never one a run holds (in
    this process or another worker's: `workspace.claim`)."""
    runs = sorted(
        (p for p in job_dir.iterdir() if p.name.isdigit() and p.is_dir() and not p.is_symlink()),
        key=lambda p: int(p.name),
    )
    removed = []
    for old in runs[: max(len(runs) - keep, 0)]:
        claim = workspace.claim(old, wait=False)
        if claim is None:
            continue  # a run is using it
        try:
            shutil.rmtree(old, ignore_errors=True)
            workspace.live_log(old).unlink(missing_ok=True)
        finally:
            os.close(claim)
        removed.append(old)
    return removed


def _prune_quietly(job_dir: Path) -> None:
    try:
        prune_workdirs(job_dir)
    except OSError:
        log.warning("could not prune old workdirs in %s", job_dir, exc_info=True)


# --- the executor --------------------------------------------------------------------


class LocalExecutor:
    """Runs RunSpecs on a pool of `workers` threads, one process group per step."""

    def __init__(
        self,
        work_root: Path,
        workers: int = 4,
        shell: str = "/bin/bash",
        hook_timeout: float = HOOK_TIMEOUT_SECONDS,
        grace: float = GRACE_SECONDS,
        box: sandbox.Sandbox | None = None,
        name: str = "",
    ) -> None:
        self.work_root = Path(work_root)
        self.box = box
        self.name = name or f"local@{socket.gethostname()}"  # the worker runs record
        self.shell = shell
        self.hook_timeout = hook_timeout
        self.grace = grace
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="gitline-run")
        self._lock = threading.Lock()
        self._controls: dict[tuple[str, int], RunControl] = {}
        self._closing = False

    def submit(
        self,
        spec: RunSpec,
        on_started: Callable[[RunSpec, str], None],
        on_done: Callable[[RunSpec, Outcome], None],
    ) -> None:
        """Queue `spec`; returns at once. Callbacks run on a pool thread."""
        key = (spec.job.name, spec.run.number)
        control = RunControl()
        with self._lock:
            self._controls[key] = control
        self._pool.submit(self._run, spec, control, on_started, on_done)

    def _run(
        self,
        spec: RunSpec,
        control: RunControl,
        on_started: Callable[[RunSpec, str], None],
        on_done: Callable[[RunSpec, Outcome], None],
    ) -> None:
        key = (spec.job.name, spec.run.number)
        spec = ran_by(spec, self.name)
        try:
            outcome = execute(
                spec,
                self.work_root,
                control=control,
                on_started=lambda s, at: _quietly(on_started, s, at),
                shell=self.shell,
                hook_timeout=self.hook_timeout,
                grace=self.grace,
                box=self.box,
            )
        finally:
            with self._lock:
                if self._controls.get(key) is control:
                    del self._controls[key]
        if control.abandoned.is_set():
            log.info("run %s %s abandoned at shutdown: no on_done", *key)
            return
        _quietly(on_done, spec, outcome)

    def cancel(self, job: str, number: int) -> bool:
        """Cancel a queued or running run; False if this executor does not have it."""
        with self._lock:
            control = self._controls.get((job, number))
        if control is None:
            return False
        control.cancel()
        return True

    def running(self) -> list[tuple[str, int]]:
        """(job, number) of the runs queued or running here."""
        with self._lock:
            return sorted(self._controls)

    def shutdown(self, wait: bool = True) -> None:
        """Stop taking runs.

        wait=True: finish every queued and running run (callbacks as usual).
        wait=False: drop queued runs and kill running ones without hooks and without
        on_done, so that the state branch still says `running` and the controller
        records them `interrupted` (and queues them again) on restart.
        """
        if not wait:
            with self._lock:
                self._closing = True
                controls = list(self._controls.values())
            for control in controls:
                control.abandon()
        self._pool.shutdown(wait=wait, cancel_futures=not wait)


def _quietly(callback: Callable[..., None], *args: object) -> None:
    try:
        callback(*args)
    except Exception:  # a callback must never take a worker thread down
        log.exception("executor callback %r failed", callback)


__all__ = [
    "LocalExecutor",
    "LogCapture",
    "RunControl",
    "execute",
    "kill_group",
    "prune_workdirs",
]
