"""CeleryExecutor against a real redis-server and real `gitline worker` processes.

No mocks: specs go through the broker as JSON, run on the worker with `run.execute`,
and come back as Outcomes. `judge` (what a task state means) is also checked as a table.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from controller.core.runspec import Outcome, OutputSpec
from controller.execution import celery_executor as ce
from controller.execution import celery_verdict as cv
from controller.execution import celery_worker, codec, sealing
from tests.harness.celeryruns import FAST, Recorder, pool_spec, queued_now
from tests.harness.runspecs import gone, hook, make_spec
from tests.harness.wait import free_port
from tests.harness.workers import Worker, wait_until


@pytest.fixture
def executor(redis_url: str, key_file: Path) -> Iterator[ce.CeleryExecutor]:
    ex = ce.CeleryExecutor(redis_url, key=sealing.read_key(key_file), **FAST)
    yield ex
    ex.shutdown(wait=False)


# --- on a real worker -----------------------------------------------------------------


def test_runs_come_back_with_logs_outputs_and_state(executor, worker: Worker) -> None:
    rec = Recorder()
    ok = make_spec(
        'echo "hello from $JOB_NAME on $(pwd)"',
        "shipctl post_resource_state img versionName 1.4.$BUILD_NUMBER",
        'echo "kept" > "$JOB_STATE/notes.txt"; printf "\\x00\\xff" > "$JOB_STATE/raw.bin"',
        'echo "token is $API_TOKEN"',
        name="build", number=7, outputs=(OutputSpec("img", "image", None),),
        previous_state={"prev.txt": b"from run 6\n"}, secrets={"API_TOKEN": "hunter2-xyz"},
        env={"API_TOKEN": "hunter2-xyz"})
    bad = make_spec("echo before", "exit 3", "echo never", name="broken", number=1,
                    hooks={"on_failure": hook("echo cleaning up")})
    keys = [rec.submit(executor, ok), rec.submit(executor, bad)]
    out, fail = (rec.wait(k) for k in keys)

    assert out.status == "succeeded" and out.exit_code == 0, out.log
    assert f"hello from build on {worker.work_root.resolve()}/build/7" in out.log
    assert "token is ****" in out.log and "hunter2" not in codec.outcome_to_json(out)
    assert [(u.resource, u.version_name) for u in out.outputs] == [("img", "1.4.7")]
    assert out.state_files["notes.txt"] == b"kept\n" and out.state_files["raw.bin"] == b"\0\xff"
    assert fail.status == "failed" and fail.exit_code == 3
    assert "before" in fail.log and "never" not in fail.log and "cleaning up" in fail.log
    assert fail.message == "TASK t2 failed with exit code 3"
    for key in keys:  # started is reported, and before done
        assert rec.order.index(("started", key)) < rec.order.index(("done", key))
    node = f"{worker.name}@localhost"  # who ran it: the worker's Celery node name
    assert sorted(rec.workers) == sorted((cb, k, node) for cb in ("started", "done") for k in keys)
    assert out.worker == node
    assert executor.running() == []


def test_node_pool_routes_runs_to_its_queue(executor, worker: Worker, redis_url: str,
                                            tmp_path: Path, key_file: Path) -> None:
    gpu = Worker(redis_url, tmp_path, queues="gpu", concurrency=1, name="gpu-worker",
                 key_file=key_file)
    try:
        rec = Recorder()
        here = rec.submit(executor, pool_spec("pwd", pool="gpu", name="train"))
        there = rec.submit(executor, pool_spec("pwd", pool="", name="lint"))
        nowhere = rec.submit(executor, pool_spec("echo ran", pool="arm64", name="port"))
        assert str(gpu.work_root.resolve()) in rec.wait(here).log
        assert str(worker.work_root.resolve()) in rec.wait(there).log
        assert "gitline.run" in gpu.log() and "train run 1" in gpu.log()
        # no worker takes queue arm64: the run waits, queued, until it is cancelled
        time.sleep(1.0)
        assert nowhere not in rec.started and nowhere not in rec.done
        assert executor.running() == [nowhere]
        assert executor.cancel(*nowhere)
        cancelled = rec.wait(nowhere, timeout=10)
        assert cancelled.status == "cancelled"
        assert cancelled.message == "cancelled before a worker started it"
        assert nowhere not in rec.started and not executor.cancel(*nowhere)
    finally:
        gpu.stop()


def test_cancel_stops_a_running_job_and_runs_on_cancel(executor, worker: Worker,
                                                       tmp_path: Path) -> None:
    pidfile = tmp_path / "sleep.pid"
    rec = Recorder()
    key = rec.submit(executor, make_spec(
        f"sleep 300 & echo $! > {pidfile}; wait", name="long", number=3,
        hooks={"on_cancel": hook("echo on_cancel ran"), "always": hook("echo always ran")}))
    rec.wait(key, "started", timeout=30)
    pid = int(wait_until(lambda: pidfile.exists() and pidfile.read_text().strip(), 20,
                         "the sleep's pid"))
    assert not gone(pid)
    began = time.monotonic()
    assert executor.cancel(*key)
    outcome = rec.wait(key, timeout=30)
    assert outcome.status == "cancelled" and outcome.message == "cancelled during TASK t1"
    assert "on_cancel ran" in outcome.log and "always ran" in outcome.log
    assert time.monotonic() - began < 15
    wait_until(lambda: gone(pid), 10, "the sleep to be killed")
    # the worker's process survived the SIGTERM and takes the next run
    again = rec.submit(executor, make_spec("echo next", name="long", number=4))
    assert rec.wait(again).status == "succeeded"


def test_a_worker_that_dies_under_a_run_twice_fails_it(executor, redis_url: str,
                                                      tmp_path: Path, key_file: Path) -> None:
    """Its first death sends the run once more (attempt 2, on the next worker of its
    queue); the second fails it, fenced, and nothing runs it a third time."""
    # unsandboxed: the test follows the job's host pid after the worker dies
    rec = Recorder()
    pidfile = tmp_path / "orphan.pid"
    spec = queued_now(pool_spec(f"sleep 300 & echo $! > {pidfile}; wait", pool="doomed",
                                name="fragile"))
    key = rec.submit(executor, spec)
    pids = []
    try:
        for n in (1, 2):
            doomed = Worker(redis_url, tmp_path, queues="doomed", concurrency=1,
                            name=f"doomed{n}", sandbox="none", key_file=key_file)
            pids.append(int(wait_until(lambda: pidfile.exists() and pidfile.read_text().strip(),
                                       30, "pid")))
            pidfile.unlink()
            doomed.kill()  # the whole worker, -9: nobody is left to report
            wait_until(lambda: gone(pids[-1]), 15, "the job to die with its worker")
        began = time.monotonic()
        outcome = rec.wait(key, timeout=30)
    finally:
        for pid in pids:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
    assert outcome.status == "failed"
    assert outcome.message.startswith("worker lost: no heartbeat from doomed2@localhost for 4 s")
    assert time.monotonic() - began < FAST["lost_after"] + 10
    assert list(rec.started) == [key]  # one run, started once
    # fenced: a redelivery of its message (acks are late) would run nothing
    claim = executor._redis().get(celery_worker.claim_key(executor.task_id(spec)))
    assert claim.startswith(b"done:nobody")
    assert executor._redis().get(celery_worker.attempts_key(executor.task_id(spec))) == b"2"


def test_broker_down_the_run_waits_and_the_log_says_so_once_without_the_password(
        tmp_path: Path, key_file: Path, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger="controller.execution.celery_executor")
    url = f"redis://:pw@127.0.0.1:{free_port()}/0"  # nothing listens there
    ex = ce.CeleryExecutor(url, key=sealing.read_key(key_file), **FAST)
    try:
        rec = Recorder()
        began = time.monotonic()
        key = rec.submit(ex, make_spec("echo never", name="offline"))
        assert time.monotonic() - began < 0.5  # submit does not wait for the broker
        time.sleep(FAST["lost_after"] + 1)
        assert key not in rec.done and key not in rec.started  # waits: not failed
        assert ex.running() == [key]
    finally:
        ex.shutdown(wait=False)
    said = [r.getMessage() for r in caplog.records]
    assert len(said) == 1, said
    assert said[0].startswith(f"celery executor: the broker redis://***@127.0.0.1:"
                              f"{url.rsplit(':', 1)[1]} is unreachable")
    assert "Connection refused" in said[0] and "pw" not in said[0]


def test_shutdown_waits_for_runs_then_refuses_more(executor, worker: Worker) -> None:
    rec = Recorder()
    key = rec.submit(executor, make_spec("sleep 1; echo finished", name="tail"))
    executor.shutdown(wait=True)
    assert rec.done[key].status == "succeeded" and "finished" in rec.done[key].log
    with pytest.raises(RuntimeError, match="shut down"):
        executor.submit(make_spec("true", name="late"), rec.on_started, rec.on_done)


# --- judge: what a task state means (pure) ----------------------------------------------


def tracked(**kw) -> cv.Tracked:
    return cv.Tracked(make_spec("true"), print, print, "id", "gitline", sent=True, **kw)


def test_judge_reports_started_once_then_waits_while_the_heartbeat_moves() -> None:
    t = tracked()
    meta = {"status": "STARTED", "result": {"startedAt": "2024-01-01T00:00:00Z", "beat": 0,
                                            "hostname": "w1@box"}}
    assert cv.judge(t, meta, 100.0, lost_after=5, cancel_grace=5).started_at == \
        "2024-01-01T00:00:00Z"
    assert t.spec.run.worker == "w1@box"  # the spec on_started and on_done get names it
    assert cv.judge(t, meta, 104.0, lost_after=5, cancel_grace=5) == cv.WAIT
    meta["result"]["beat"] = 1
    assert cv.judge(t, meta, 108.0, lost_after=5, cancel_grace=5) == cv.WAIT
    verdict = cv.judge(t, meta, 113.5, lost_after=5, cancel_grace=5)
    lost = verdict.outcome
    assert lost.status == "failed" and lost.message.startswith("worker lost: no heartbeat")
    assert verdict.relaunch and verdict.fence  # sent once more, if Redis agrees (else failed)
    t.relaunched = 1
    assert not cv.judge(t, meta, 120.0, lost_after=5, cancel_grace=5).relaunch  # never twice
    t.relaunched, t.cancel = 0, True
    assert not cv.judge(t, meta, 120.0, lost_after=5, cancel_grace=5).relaunch


def test_judge_records_the_attempt_a_redelivery_ran_as() -> None:
    outcome = Outcome("succeeded", 0, "", "2024-01-01T00:00:01Z", "2024-01-01T00:00:02Z",
                      worker="w2@box", attempt=2)
    t = tracked(started=True)
    cv.judge(t, {"status": "SUCCESS", "result": codec.outcome_to_json(outcome)}, 1.0,
             lost_after=5, cancel_grace=5)
    assert (t.spec.run.attempt, t.spec.run.worker) == (2, "w2@box")


@pytest.mark.parametrize("status, result, cancel, started, want", [
    ("PENDING", None, False, False, None),
    ("PENDING", None, True, False, ("cancelled", "cancelled before a worker started it")),
    ("FAILURE", RuntimeError("boom"), False, True,
     ("failed", "the worker failed: RuntimeError: boom")),
    ("SUCCESS", "not codec json", False, True, ("failed", "the worker's outcome is unreadable")),
    ("REVOKED", None, True, False, ("cancelled", "cancelled")),
    ("REVOKED", None, False, False, ("cancelled", "revoked on the broker")),
    ("REVOKED", None, True, True, None),  # within the grace: on_cancel is still running
    ("RECEIVED", None, False, False, None),
], ids=["queued", "cancelled-queued", "task-error", "garbage", "revoked-by-us",
        "revoked-by-someone", "revoked-running", "unknown-state"])
def test_judge_table(status, result, cancel, started, want) -> None:
    verdict = cv.judge(tracked(cancel=cancel, started=started),
                       {"status": status, "result": result}, 50.0, lost_after=5,
                       cancel_grace=5)
    if want is None:
        assert verdict.outcome is None
    else:
        assert (verdict.outcome.status, verdict.outcome.message[:len(want[1])]) == want


def test_judge_a_fast_run_is_started_and_done_at_once() -> None:
    outcome = Outcome("succeeded", 0, "hi\n", "2024-01-01T00:00:01Z", "2024-01-01T00:00:02Z",
                      worker="w2@box")
    t = tracked()
    verdict = cv.judge(t, {"status": "SUCCESS", "result": codec.outcome_to_json(outcome)},
                       1.0, lost_after=5, cancel_grace=5)
    assert verdict.outcome == outcome and verdict.started_at == "2024-01-01T00:00:01Z"
    assert t.spec.run.worker == "w2@box"  # never seen STARTED: the outcome names its worker


def test_broker_urls_are_shown_without_credentials_and_queue_names() -> None:
    from controller.core.remotes import sanitize_url

    assert sanitize_url("redis://u:secret@h:6379/0") == "redis://***@h:6379/0"
    assert sanitize_url("redis://127.0.0.1:6379/0") == "redis://127.0.0.1:6379/0"
    assert ce.queue_for(pool_spec("true", pool=" gpu ", name="j"), "gitline") == "gpu"
    assert ce.queue_for(make_spec("true"), "builds") == "builds"


def test_no_pickle_is_accepted() -> None:
    from controller.execution.celery_worker import make_app

    conf = make_app("redis://127.0.0.1:1/0").conf
    assert conf.accept_content == ["json"] and conf.result_accept_content == ["json"]
    assert conf.task_serializer == conf.result_serializer == "json"


def test_shutdown_without_wait_abandons_runs_without_hooks(redis_url: str, worker: Worker,
                                                           tmp_path: Path,
                                                           key_file: Path) -> None:
    ex = ce.CeleryExecutor(redis_url, key=sealing.read_key(key_file), **FAST)
    pidfile, marker = tmp_path / "sleep.pid", tmp_path / "hook-ran"
    rec = Recorder()
    key = rec.submit(ex, make_spec(
        f"sleep 300 & echo $! > {pidfile}; wait", name="abandoned",
        hooks={"on_cancel": hook(f"touch {marker}"), "always": hook(f"touch {marker}")}))
    rec.wait(key, "started", timeout=30)
    pid = int(wait_until(lambda: pidfile.exists() and pidfile.read_text().strip(), 20, "pid"))
    ex.shutdown(wait=False)
    wait_until(lambda: gone(pid), 15, "the abandoned run's sleep to be killed")
    time.sleep(1.0)
    assert key not in rec.done and not marker.exists()  # the controller reruns it on restart


def test_a_worker_process_killed_under_a_run_runs_it_once_more_as_attempt_2(
        redis_url: str, worker: Worker, tmp_path: Path, key_file: Path) -> None:
    # a long lost_after keeps the heartbeat rule from answering before the redelivery
    executor = ce.CeleryExecutor(redis_url, key=sealing.read_key(key_file),
                                 **{**FAST, "lost_after": 30.0})
    pids, tally = tmp_path / "pids", tmp_path / "victim.count"
    rec = Recorder()
    key = rec.submit(executor, make_spec(
        f"echo ran >> {tally}; if [ ! -e {pids} ]; then sleep 300 & echo $! $PPID > {pids}; "
        "wait; fi; echo second time lucky", name="victim"))
    rec.wait(key, "started", timeout=30)
    sleep_pid, pool_pid = map(int, wait_until(
        lambda: pids.exists() and pids.read_text().split(), 20, "pids"))
    try:
        os.kill(pool_pid, signal.SIGKILL)  # the worker's pool process (OOM killer, kill -9)
        wait_until(lambda: gone(sleep_pid), 15, "the job to die with its pool process")
        outcome = rec.wait(key, timeout=60)
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.kill(sleep_pid, signal.SIGKILL)
        executor.shutdown(wait=False)
    assert outcome.status == "succeeded", outcome.message
    assert "second time lucky" in outcome.log
    assert outcome.message.startswith("attempt 2: the worker of attempt 1 (")
    assert outcome.log.startswith("gitline: attempt 2:") and outcome.attempt == 2
    assert len(tally.read_text().splitlines()) == 2  # exactly once more


# --- sealed task messages -------------------------------------------------------------


def test_a_secret_never_sits_in_the_broker_in_clear(redis_url: str, key_file: Path) -> None:
    """The run waits in a queue nobody serves; what Redis holds is a sealed token."""
    import redis

    ex = ce.CeleryExecutor(redis_url, key=sealing.read_key(key_file), **FAST)
    try:
        Recorder().submit(ex, pool_spec("echo $API_TOKEN", pool="nobody_serves", name="x",
                                        secrets={"API_TOKEN": "hunter2-in-redis"},
                                        env={"API_TOKEN": "hunter2-in-redis"}))
        client = redis.Redis.from_url(redis_url)
        queued = wait_until(lambda: client.lrange("nobody_serves", 0, -1), 20, "the message")
        assert b"hunter2" not in b"".join(queued) and b"echo $API_TOKEN" not in b"".join(queued)
    finally:
        ex.shutdown(wait=False)


def test_a_worker_runs_nothing_it_cannot_unseal(redis_url: str, worker: Worker,
                                               tmp_path: Path) -> None:
    """Someone who can write to Redis but has not the key (or a controller with another
    HOME) gets a failed run with the reason, and no step ran."""
    other = tmp_path / "other-home"
    other.mkdir()
    ex = ce.CeleryExecutor(redis_url, key=sealing.home_key(other), **FAST)
    marker = tmp_path / "ran"
    try:
        rec = Recorder()
        key = rec.submit(ex, make_spec(f"touch {marker}", name="forged"))
        outcome = rec.wait(key, timeout=30)
    finally:
        ex.shutdown(wait=False)
    assert outcome.status == "failed"
    assert "not sealed with this worker's key" in outcome.message
    assert not marker.exists()


def test_a_worker_without_the_key_does_not_start(redis_url: str) -> None:
    import subprocess
    import sys

    done = subprocess.run([sys.executable, "-m", "controller.cli", "worker", "--broker",
                           redis_url], capture_output=True, text=True, timeout=60,
                          env={k: v for k, v in os.environ.items()
                               if not k.startswith("GITLINE_WORKER_KEY")})
    assert done.returncode == 2
    assert "give the controller's HOME/worker.key with --key-file" in done.stderr
