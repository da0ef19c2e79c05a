"""LocalExecutor and execute(): real processes, hooks, timeouts, cancel, logs."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from controller.core import model
from controller.core.runspec import InputSpec, Outcome, OutputSpec, RunSpec
from controller.execution import sandbox
from controller.execution.local import LocalExecutor
from controller.execution.logcapture import LogCapture
from controller.execution.run import execute
from controller.execution.workspace import prune_workdirs
from tests.harness.runspecs import gone, hook, make_spec


def test_gone_helper_sees_live_process(tmp_path: Path) -> None:
    """A running job's process is seen (so the tests below that find one gone mean
    something), and once its run has ended it is gone: a run leaves no process behind."""
    shared = tmp_path / "build" / "1" / "shared"
    done: list[Outcome] = []
    spec = make_spec('echo $$ > "$SHARED_DIR/main.pid"; '
                     'while [ ! -e "$SHARED_DIR/go" ]; do sleep 0.05; done')
    worker = threading.Thread(target=lambda: done.append(execute(spec, tmp_path)))
    worker.start()
    pid = read_pid(shared / "main.pid")
    assert not gone(os.getpid())
    assert pid > 0 and not gone(pid)
    (shared / "go").touch()
    worker.join(30)
    assert done and done[0].status == "succeeded", done
    assert wait_gone(pid)


def wait_gone(pid: int, seconds: float = 5.0) -> bool:
    """gone(pid), allowing the kernel a moment to finish a SIGKILL."""
    end = time.monotonic() + seconds
    while not gone(pid) and time.monotonic() < end:
        time.sleep(0.02)
    return gone(pid)


def read_pid(path: Path) -> int:
    """The host pid of the process whose pid (as the job saw it) is in `path`.

    Jobs run in their own pid namespace (the sandbox): the pid they write is the one
    inside it; the host pid is the process whose NSpid ends with it and whose cwd is the
    workdir. -1 (gone) when no such process runs any more.
    """
    for _ in range(100):
        if path.exists() and path.read_text().strip():
            return host_pid(int(path.read_text()), path.parents[1])
        time.sleep(0.02)
    raise AssertionError(f"no pid in {path}")


def host_pid(pid: int, workdir: Path) -> int:
    if sandbox.default().kind == "none":
        return pid
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            status = Path(f"/proc/{entry}/status").read_text()
            cwd = os.readlink(f"/proc/{entry}/cwd")
        except OSError:
            continue
        nspids = next((ln.split()[1:] for ln in status.splitlines()
                       if ln.startswith("NSpid:")), [])
        if len(nspids) > 1 and nspids[-1] == str(pid) and Path(cwd) == workdir.resolve():
            return int(entry)
    return -1


# --- environment and workspace --------------------------------------------------------


def test_env_seen_by_script(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CONTROLLER_ONLY_SECRET", "leak")
    spec = make_spec(
        model.Task(
            "dump",
            ('env > "$SHARED_DIR/env.txt"', 'cp "$SHARED_DIR/env.txt" "$JOB_STATE/"'),
            (("REGION", "eu-west-1"),),
        ),
        inputs=(InputSpec("cfg", "resource", "params",
                          model.Version("cfg", 2, "", {"params": {"DB_HOST": "db1"}})),),
        params={"COLOR": "blue"},
    )
    outcome = execute(spec, tmp_path)
    assert outcome.status == "succeeded", outcome.log
    env = dict(
        line.split("=", 1) for line in outcome.state_files["env.txt"].decode().splitlines()
        if "=" in line
    )
    wd = str((tmp_path / "build" / "1").resolve())
    assert env["JOB_NAME"] == "build"
    assert env["BUILD_NUMBER"] == "1"
    assert env["JOB_PATH"] == wd
    assert env["JOB_STATE"] == f"{wd}/state"
    assert env["CFG_VERSIONNUMBER"] == "2"
    assert env["DB_HOST"] == "db1"  # params exported as plain variables
    assert env["COLOR"] == "blue"  # trigger params
    assert env["REGION"] == "eu-west-1"  # task env
    assert env["PATH"].startswith(f"{wd}/.gitline/bin:")
    assert "CONTROLLER_ONLY_SECRET" not in env


def test_in_folders_and_previous_state(tmp_path: Path) -> None:
    spec = make_spec(
        "cat IN/shared/state/hosts.txt",
        "test -d IN/app_repo/gitRepo",
        "grep -q '\"versionNumber\": 9' IN/shared/version.json",
        "cat \"$JOB_PREVIOUS_STATE/counter\"",
        "echo $(( $(cat \"$JOB_PREVIOUS_STATE/counter\") + 1 )) > \"$JOB_STATE/counter\"",
        inputs=(
            InputSpec("shared", "resource", "state", model.Version("shared", 9),
                      files={"hosts.txt": b"web1\n"}),
            InputSpec("app_repo", "resource", "gitRepo", model.Version("app_repo", 1, "abc")),
        ),
        previous_state={"counter": b"41"},
    )
    outcome = execute(spec, tmp_path)
    assert outcome.status == "succeeded", outcome.log
    assert "web1" in outcome.log
    assert outcome.state_files == {"counter": b"42\n"}


# --- steps and hooks -------------------------------------------------------------------


def all_hooks() -> dict[str, model.Hook]:
    return {
        name: hook(f"echo {name} >> \"$SHARED_DIR/hooks\"", f"echo HOOK {name}")
        for name in model.HOOK_NAMES
    }


def hooks_ran(outcome: Outcome) -> list[str]:
    return [line.split()[1] for line in outcome.log.splitlines() if line.startswith("HOOK ")]


def test_success_runs_on_start_on_success_always(tmp_path: Path) -> None:
    outcome = execute(make_spec("echo one", "echo two", hooks=all_hooks()), tmp_path)
    assert outcome.status == "succeeded"
    assert outcome.exit_code == 0
    assert hooks_ran(outcome) == ["on_start", "on_success", "always"]
    assert outcome.log.index("--- TASK t1 ---") < outcome.log.index("--- TASK t2 ---")


def test_failing_task_skips_later_tasks(tmp_path: Path) -> None:
    spec = make_spec("echo first", "false; echo not-here", "echo third-task", hooks=all_hooks())
    outcome = execute(spec, tmp_path)
    assert outcome.status == "failed"
    assert outcome.exit_code == 1
    assert "not-here" not in outcome.log
    assert "third-task" not in outcome.log
    assert hooks_ran(outcome) == ["on_start", "on_failure", "always"]
    assert "TASK t2" in outcome.message


def test_pipefail(tmp_path: Path) -> None:
    outcome = execute(make_spec("false | cat", "echo after"), tmp_path)
    assert outcome.status == "failed"
    assert "after" not in outcome.log


def test_failing_on_success_fails_the_run(tmp_path: Path) -> None:
    hooks = all_hooks()
    hooks["on_success"] = hook("echo HOOK on_success", "exit 3")
    post = model.Task("t", ("shipctl post_resource_state v versionName 1.0",))
    spec = make_spec(post, hooks=hooks, outputs=(OutputSpec("v", "version", None),))
    outcome = execute(spec, tmp_path)
    assert outcome.status == "failed"
    assert outcome.exit_code == 3
    assert hooks_ran(outcome) == ["on_start", "on_success", "always"]
    assert outcome.outputs == ()  # a failed run makes no versions


def test_hook_notify_events(tmp_path: Path) -> None:
    hooks = {"on_failure": hook(notify=("ops_slack",)), "on_success": hook(notify=("team",)),
             "always": hook(notify=("audit",))}
    outcome = execute(make_spec("exit 1", hooks=hooks), tmp_path)
    assert outcome.notifications == ("on_failure: NOTIFY ops_slack", "always: NOTIFY audit")


# --- timeout, cancel, leftovers ---------------------------------------------------------


def test_timeout_kills_forked_child_and_runs_on_failure(tmp_path: Path) -> None:
    spec = make_spec(
        "sleep 1000 & echo $! > \"$SHARED_DIR/child.pid\"; sleep 1000",
        "echo never",
        hooks=all_hooks(),
        timeout=0.02,  # 1.2 s
    )
    began = time.monotonic()
    outcome = execute(spec, tmp_path, grace=0.5)
    assert time.monotonic() - began < 10
    assert outcome.status == "timed_out"
    assert outcome.exit_code is None
    assert "timed out" in outcome.message
    assert hooks_ran(outcome) == ["on_start", "on_failure", "always"]
    assert "never" not in outcome.log
    assert wait_gone(read_pid(tmp_path / "build" / "1" / "shared" / "child.pid"))


def test_timeout_sigkills_a_child_ignoring_sigterm(tmp_path: Path) -> None:
    spec = make_spec(
        "(trap '' TERM; echo $BASHPID > \"$SHARED_DIR/stubborn.pid\"; "
        "while true; do sleep 0.1; done) & wait",
        timeout=0.03,
    )
    outcome = execute(spec, tmp_path, grace=0.3)
    assert outcome.status == "timed_out"
    assert wait_gone(read_pid(tmp_path / "build" / "1" / "shared" / "stubborn.pid"))


def test_leftover_background_child_is_killed(tmp_path: Path) -> None:
    spec = make_spec("sleep 1000 & echo $! > \"$SHARED_DIR/bg.pid\"; echo main-done")
    began = time.monotonic()
    outcome = execute(spec, tmp_path)
    assert outcome.status == "succeeded"
    assert time.monotonic() - began < 10
    assert wait_gone(read_pid(tmp_path / "build" / "1" / "shared" / "bg.pid"))


def test_cancel_runs_on_cancel(tmp_path: Path) -> None:
    executor = LocalExecutor(tmp_path, workers=1, grace=0.5)
    started = threading.Event()
    done: list[Outcome] = []
    finished = threading.Event()
    spec = make_spec("echo $$ > \"$SHARED_DIR/main.pid\"; sleep 1000", hooks=all_hooks())

    def on_done(_spec: RunSpec, outcome: Outcome) -> None:
        done.append(outcome)
        finished.set()

    executor.submit(spec, lambda s, at: started.set(), on_done)
    assert started.wait(10)
    pid = read_pid(tmp_path / "build" / "1" / "shared" / "main.pid")
    assert executor.cancel("build", 1) is True
    assert finished.wait(15)
    executor.shutdown()
    outcome = done[0]
    assert outcome.status == "cancelled"
    assert hooks_ran(outcome) == ["on_start", "on_cancel", "always"]
    assert wait_gone(pid)
    assert executor.cancel("build", 1) is False


def test_cancel_before_start(tmp_path: Path) -> None:
    executor = LocalExecutor(tmp_path, workers=1)
    gate = threading.Event()
    outcomes: dict[int, Outcome] = {}
    lock = threading.Lock()

    def on_done(spec: RunSpec, outcome: Outcome) -> None:
        with lock:
            outcomes[spec.run.number] = outcome

    blocker = make_spec('while [ ! -e "$SHARED_DIR/go" ]; do sleep 0.05; done', number=1)
    executor.submit(blocker, lambda s, at: gate.set(), on_done)
    executor.submit(make_spec("echo ran", number=2), lambda s, at: None, on_done)
    assert gate.wait(10)
    assert executor.cancel("build", 2)
    (tmp_path / "build" / "1" / "shared" / "go").touch()
    executor.shutdown(wait=True)
    assert outcomes[1].status == "succeeded"
    assert outcomes[2].status == "cancelled"
    assert "ran" not in outcomes[2].log


# --- log ------------------------------------------------------------------------------


def test_log_cap_with_huge_output(tmp_path: Path) -> None:
    limit = 64 * 1024
    spec = make_spec(
        "echo FIRST-LINE; head -c 50000000 /dev/zero | tr '\\0' 'a'; echo; echo LAST-LINE",
        log_limit=limit,
    )
    outcome = execute(spec, tmp_path)
    assert outcome.status == "succeeded"
    assert outcome.log_truncated
    assert len(outcome.log.encode()) < limit + 1024
    assert outcome.log.startswith("--- TASK t1 ---\nFIRST-LINE")
    assert "LAST-LINE" in outcome.log
    assert "log truncated" in outcome.log


def test_log_capture_unit() -> None:
    cap = LogCapture(10)
    for _ in range(100):
        cap.write(b"0123456789")
    text = cap.render([])
    assert text.startswith("01234") and text.endswith("56789")
    assert cap.dropped == 990
    small = LogCapture(100)
    small.write(b"hello")
    assert small.render([]) == "hello" and not small.truncated


def test_secrets_masked(tmp_path: Path) -> None:
    spec = make_spec(
        "echo token=$API_TOKEN; echo literal hunter2-xyz",
        "exit 1",
        secrets={"API_TOKEN": "hunter2-xyz"},
        hooks={"always": hook("echo $API_TOKEN >&2")},
    )
    outcome = execute(spec, tmp_path)
    assert "hunter2" not in outcome.log
    assert "token=****" in outcome.log
    assert outcome.log.count("****") == 3


# --- pool ------------------------------------------------------------------------------


def test_parallel_runs_overlap(tmp_path: Path) -> None:
    executor = LocalExecutor(tmp_path, workers=2)
    times: dict[str, tuple[float, float]] = {}
    starts: dict[str, float] = {}
    lock = threading.Lock()
    all_done = threading.Event()

    def on_started(spec: RunSpec, at: str) -> None:
        with lock:
            starts[spec.job.name] = time.monotonic()

    def on_done(spec: RunSpec, outcome: Outcome) -> None:
        with lock:
            times[spec.job.name] = (starts[spec.job.name], time.monotonic())
            if len(times) == 2:
                all_done.set()

    began = time.monotonic()
    executor.submit(make_spec("sleep 1", name="a"), on_started, on_done)
    executor.submit(make_spec("sleep 1", name="b"), on_started, on_done)
    assert all_done.wait(20)
    executor.shutdown()
    (a0, a1), (b0, b1) = times["a"], times["b"]
    assert a0 < b1 and b0 < a1  # the intervals overlap
    assert time.monotonic() - began < 10


def test_callbacks_name_the_worker(tmp_path: Path) -> None:
    seen: list[tuple[str, str]] = []
    done = threading.Event()
    executor = LocalExecutor(tmp_path, workers=1)
    executor.submit(make_spec("true"), lambda s, at: seen.append(("started", s.run.worker)),
                    lambda s, o: (seen.append(("done", s.run.worker)), done.set()))
    assert done.wait(20)
    executor.shutdown()
    here = f"local@{socket.gethostname()}"
    assert seen == [("started", here), ("done", here)]
    named = LocalExecutor(tmp_path, workers=1, name="ci@box")
    assert named.name == "ci@box"
    named.shutdown()


def test_shutdown_without_wait_kills_runs_silently(tmp_path: Path) -> None:
    executor = LocalExecutor(tmp_path, workers=1, grace=0.3)
    started = threading.Event()
    calls: list[str] = []
    spec = make_spec('echo $$ > "$SHARED_DIR/main.pid"; sleep 1000', hooks=all_hooks())
    executor.submit(spec, lambda s, at: started.set(), lambda s, o: calls.append("done"))
    executor.submit(make_spec("true", number=2), lambda s, at: calls.append("started 2"),
                    lambda s, o: calls.append("done 2"))
    assert started.wait(10)
    pid = read_pid(tmp_path / "build" / "1" / "shared" / "main.pid")
    executor.shutdown(wait=False)
    assert wait_gone(pid, 10)
    time.sleep(0.5)
    assert calls == []
    assert (tmp_path / "build" / "1" / "shared" / "hooks").read_text() == "on_start\n"


def test_callbacks_that_raise_do_not_break_the_pool(tmp_path: Path) -> None:
    executor = LocalExecutor(tmp_path, workers=1)
    done = threading.Event()

    def bad_started(spec: RunSpec, at: str) -> None:
        raise RuntimeError("boom")

    executor.submit(make_spec("true", number=1), bad_started, lambda s, o: 1 / 0)
    executor.submit(make_spec("true", number=2), lambda s, at: None,
                    lambda s, o: done.set())
    assert done.wait(10)
    executor.shutdown()


def test_internal_error_is_a_failed_outcome(tmp_path: Path) -> None:
    outcome = execute(make_spec("true", name="../escape"), tmp_path)
    assert outcome.status == "failed"
    assert "internal error" in outcome.message
    assert not (tmp_path.parent / "escape").exists()


def test_old_workdirs_pruned(tmp_path: Path) -> None:
    for number in range(1, 6):
        assert execute(make_spec("true", number=number), tmp_path).status == "succeeded"
    # each run's folder and, beside it, its live log (gitline logs -f) go together
    assert sorted(os.listdir(tmp_path / "build")) == ["3", "3.log", "4", "4.log", "5", "5.log"]
    (tmp_path / "build" / "10").mkdir()
    assert prune_workdirs(tmp_path / "build", keep=2) == [tmp_path / "build" / "3",
                                                          tmp_path / "build" / "4"]
    assert sorted(os.listdir(tmp_path / "build")) == ["10", "5", "5.log"]


def test_the_live_log_is_the_masked_stream_as_it_is_written(tmp_path: Path) -> None:
    outcome = execute(make_spec('echo "first $API_TOKEN"', "echo second", name="live",
                                secrets={"API_TOKEN": "hunter2-live"},
                                env={"API_TOKEN": "hunter2-live"}), tmp_path)
    live = (tmp_path / "live" / "1.log").read_text()
    assert "first ****" in live and "second" in live and "hunter2" not in live
    assert live == outcome.log  # a short log: the same text, written as it came


def test_prune_never_removes_a_folder_another_worker_process_runs_in(tmp_path: Path) -> None:
    """Two worker processes (celery --concurrency 2) run the same parallel job: the one
    that prunes must leave the other's live folder alone (it was a per-process list)."""
    job_dir = tmp_path / "build"
    for number in range(1, 6):
        (job_dir / str(number)).mkdir(parents=True)
    holder = subprocess.Popen(
        [sys.executable, "-c", "import sys, time; from pathlib import Path; "
         "from controller.execution import workspace; "
         f"fd = workspace.claim(Path({str(job_dir / '1')!r})); print('held', flush=True); "
         "time.sleep(60)"], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        assert prune_workdirs(job_dir, keep=2) == [job_dir / "2", job_dir / "3"]
        assert (job_dir / "1").is_dir()
    finally:
        holder.kill()
        holder.wait()
    assert prune_workdirs(job_dir, keep=2) == [job_dir / "1"]


def test_a_cut_log_never_keeps_half_a_secret() -> None:
    """The secret is written byte by byte across the point where the log is cut: masking
    happens before the cut, so neither half of it survives."""
    secret = "hunter2-0123456789-abcdefghij"
    for offset in range(0, 40, 3):
        cap = LogCapture(60, [secret])
        cap.write(b"x" * (30 - offset))
        for byte in secret.encode():
            cap.write(bytes([byte]))
        cap.write(b"y" * 500)
        text = cap.render([])
        assert "hunter2" not in text and "abcdefghij" not in text, (offset, text)
        assert "0123456789" not in text
    whole = LogCapture(1000, [secret])
    whole.write(b"a" + secret[:5].encode())
    whole.write(secret[5:].encode() + b"b")
    assert whole.render([]) == "a****b"
