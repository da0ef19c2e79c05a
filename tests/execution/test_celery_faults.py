"""Faults of the broker, with a real redis-server stopped and started under the runs.

Each job counts its executions in a file (the workers here are unsandboxed), so every
test can check what matters to a user: the run executed exactly once and was recorded as
it ended, whatever Redis did meanwhile.
"""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from controller.execution import celery_executor as ce
from controller.execution import celery_verdict as cv
from controller.execution import celery_worker, codec, sealing
from tests.harness.celeryruns import FAST, Recorder, pool_spec, queued_now
from tests.harness.runspecs import make_spec
from tests.harness.workers import RedisServer, Worker, wait_until

FAULTS = {**FAST, "lost_message_after": 2.0}


@pytest.fixture
def redis(tmp_path: Path) -> Iterator[RedisServer]:
    server = RedisServer(tmp_path / "redis")
    yield server
    server.stop()


def counting(tmp_path: Path, name: str, then: str = "true") -> tuple[str, Path]:
    """A step that appends a line to a file each time it runs, then runs `then`."""
    tally = tmp_path / f"{name}.count"
    return f"echo ran >> {tally}; {then}", tally


def executions(tally: Path) -> int:
    return len(tally.read_text().splitlines()) if tally.exists() else 0


def outage_warnings(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if "unreachable" in r.getMessage()]


def test_a_run_that_ends_while_redis_is_down_is_recorded_as_it_ended(
        redis: RedisServer, tmp_path: Path, key_file: Path,
        caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="controller.execution.celery_executor")
    worker = Worker(redis.url, tmp_path, "gitline", concurrency=1, sandbox="none",
                    key_file=key_file)
    ex = ce.CeleryExecutor(redis.url, key=sealing.read_key(key_file), **FAULTS)
    try:
        rec = Recorder()
        step, tally = counting(tmp_path, "slow", "sleep 3; echo finished")
        key = rec.submit(ex, make_spec(step, name="slow"))
        rec.wait(key, "started", timeout=30)
        redis.stop()
        time.sleep(FAULTS["lost_after"] + 4)  # the job ends and outlives lost_after, unheard
        assert key not in rec.done  # no verdict while the broker is away
        redis.start()
        outcome = rec.wait(key, timeout=60)
    finally:
        ex.shutdown(wait=False)
        worker.stop()
    assert outcome.status == "succeeded", outcome.message
    assert "finished" in outcome.log
    assert executions(tally) == 1
    # said once while away (not four times a second), once when back
    assert len(outage_warnings(caplog)) == 1
    assert any("is back after" in r.getMessage() for r in caplog.records)


def test_a_run_filed_while_the_broker_is_down_waits_and_runs_when_it_is_back(
        redis: RedisServer, tmp_path: Path, key_file: Path,
        caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="controller.execution.celery_executor")
    redis.stop()
    ex = ce.CeleryExecutor(redis.url, key=sealing.read_key(key_file), **FAULTS)
    worker = None
    try:
        rec = Recorder()
        step, tally = counting(tmp_path, "early")
        began = time.monotonic()
        key = rec.submit(ex, make_spec(step, name="early"))
        assert time.monotonic() - began < 0.5  # submit does not wait for the broker
        time.sleep(FAULTS["lost_after"] + 2)
        assert key not in rec.done  # waiting, not failed
        warned = outage_warnings(caplog)
        assert len(warned) == 1 and f"127.0.0.1:{redis.port}" in warned[0]
        redis.start()
        worker = Worker(redis.url, tmp_path, "gitline", concurrency=1, sandbox="none",
                        key_file=key_file)
        outcome = rec.wait(key, timeout=60)
    finally:
        ex.shutdown(wait=False)
        if worker is not None:
            worker.stop()
    assert outcome.status == "succeeded", outcome.message
    assert executions(tally) == 1


@pytest.mark.parametrize("aof", [False, True], ids=["no-persistence", "aof"])
def test_a_run_queued_across_a_redis_restart_runs_exactly_once(
        aof: bool, tmp_path: Path, key_file: Path, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="controller.execution.celery_executor")
    redis = RedisServer(tmp_path / "redis", aof=aof)
    ex = ce.CeleryExecutor(redis.url, key=sealing.read_key(key_file), **FAULTS)
    worker = None
    try:
        rec = Recorder()
        step, tally = counting(tmp_path, "queued")
        key = rec.submit(ex, pool_spec(step, pool="later", name="queued"))
        client = ex._redis()
        wait_until(lambda: client.llen("later") == 1, 10, "the message in its queue")
        redis.stop()
        redis.start()  # without AOF the message is gone; with AOF it is back
        assert client.llen("later") == (1 if aof else 0)
        worker = Worker(redis.url, tmp_path, "later", concurrency=1, sandbox="none",
                        key_file=key_file)
        outcome = rec.wait(key, timeout=60)
        time.sleep(2)  # time for a second copy, if there were one, to run
    finally:
        ex.shutdown(wait=False)
        if worker is not None:
            worker.stop()
        redis.stop()
    assert outcome.status == "succeeded", outcome.message
    assert executions(tally) == 1
    lost = [r for r in caplog.records if "lost its message" in r.getMessage()]
    assert len(lost) == (0 if aof else 1)


def test_a_second_delivery_of_one_task_runs_nothing(redis: RedisServer, tmp_path: Path,
                                                    key_file: Path) -> None:
    worker = Worker(redis.url, tmp_path, "gitline", concurrency=2, sandbox="none",
                    key_file=key_file)
    try:
        step, tally = counting(tmp_path, "twice", "sleep 1")
        sealed = sealing.seal(codec.spec_to_json(make_spec(step, name="twice")),
                              sealing.read_key(key_file))
        sender = celery_worker.make_app(redis.url, results=False)
        for _ in range(2):  # as a controller re-sending what it thought lost would
            sender.send_task(celery_worker.TASK_NAME, args=[sealed], task_id="one-task",
                             queue="gitline")
        wait_until(lambda: "; not run" in worker.log(), 40,
                   "the second delivery to be refused")
        results = celery_worker.make_app(redis.url)
        wait_until(lambda: results.backend.get_task_meta("one-task")["status"] == "SUCCESS",
                   30, "the first delivery to finish")
    finally:
        worker.stop()
    assert executions(tally) == 1


# --- judge_pending: when a PENDING task is lost (pure) -----------------------------------


def pending(**kw) -> cv.Tracked:
    return cv.Tracked(make_spec("true"), print, print, "id", "gitline", sent=True, **kw)


@pytest.mark.parametrize("found, started, resent, elapsed, want", [
    (True, False, 0, 100.0, "wait"),     # the message or a claim is there
    (False, True, 0, 100.0, "wait"),     # a started run is followed by its heartbeat
    (False, False, 0, 1.0, "wait"),      # missing, but not for long enough
    (False, False, 0, 5.0, "resend"),    # lost: sent again
    (False, False, 1, 5.0, "fail"),      # lost again after a re-send
])
def test_judge_pending_table(found: bool, started: bool, resent: int, elapsed: float,
                             want: str) -> None:
    t = pending(started=started, resent=resent, unmarked_since=100.0 - elapsed)
    assert cv.judge_pending(t, found, 100.0, after=3.0) == want


def test_judge_pending_starts_counting_at_the_first_miss() -> None:
    t = pending()
    assert cv.judge_pending(t, False, 50.0, after=3.0) == "wait"
    assert cv.judge_pending(t, True, 52.0, after=3.0) == "wait"  # found again: forgiven
    assert cv.judge_pending(t, False, 54.0, after=3.0) == "wait"
    assert cv.judge_pending(t, False, 57.5, after=3.0) == "resend"


def test_workers_survey_names_workers_their_runs_and_unserved_queues(
        redis: RedisServer, tmp_path: Path, key_file: Path) -> None:
    from controller.execution import workerlist

    worker = Worker(redis.url, tmp_path, "gitline,gpu", concurrency=2, name="w-survey",
                    sandbox="none", key_file=key_file)
    ex = ce.CeleryExecutor(redis.url, key=sealing.read_key(key_file), **FAULTS)
    try:
        rec = Recorder()
        busy = rec.submit(ex, make_spec("sleep 30", name="busy", number=7))
        rec.submit(ex, pool_spec("true", pool="nobody", name="stuck", number=2))
        rec.wait(busy, "started", timeout=30)
        found = workerlist.survey(redis.url, sealing.read_key(key_file),
                                  ["gitline", "nobody"])
    finally:
        ex.shutdown(wait=False)
        worker.stop()
    [w] = found.workers
    assert w.name == "w-survey@localhost" and w.queues == ("gitline", "gpu")
    assert [(r.job, r.number) for r in w.runs] == [("busy", 7)]
    assert w.runs[0].beat_age is not None and w.runs[0].beat_age < 10
    queues = {q.name: q for q in found.queues}
    assert queues["nobody"].waiting == 1 and queues["nobody"].served_by == ()
    assert queues["gpu"].served_by == ("w-survey@localhost",)
    text = workerlist.render(found)
    assert "busy #7" in text and "queue nobody: 1 waiting, NO worker serves it" in text


CONTROLLER = """
import sys, time
from pathlib import Path
from controller.execution import celery_executor as ce, codec, sealing
url, key_file, *specs = sys.argv[1:]
ex = ce.CeleryExecutor(url, key=sealing.read_key(Path(key_file)), poll_seconds=0.1,
                       heartbeat=0.5)
for path in specs:
    ex.submit(codec.spec_from_json(Path(path).read_text()),
              lambda spec, at: print("started", spec.job.name, flush=True),
              lambda spec, outcome: print("done", spec.job.name, flush=True))
time.sleep(600)
"""


def test_a_restarted_controller_follows_what_its_predecessor_sent(
        redis: RedisServer, tmp_path: Path, key_file: Path,
        caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="controller.execution.celery_executor")
    step, ran = counting(tmp_path, "running", "sleep 4; echo finished")
    wait_step, waited = counting(tmp_path, "waiting")
    running = queued_now(make_spec(step, name="running", number=3))
    waiting = queued_now(pool_spec(wait_step, pool="later", name="waiting", number=5))
    paths = []
    for spec in (running, waiting):
        paths.append(tmp_path / f"{spec.job.name}.json")
        paths[-1].write_text(codec.spec_to_json(spec))
    worker = Worker(redis.url, tmp_path, "gitline", concurrency=1, sandbox="none",
                    key_file=key_file)
    later = None
    first = subprocess.Popen([sys.executable, "-c", CONTROLLER, redis.url, str(key_file),
                              *map(str, paths)], stdout=subprocess.PIPE, text=True)
    try:
        assert first.stdout is not None
        assert first.stdout.readline().split() == ["started", "running"]
        first.kill()  # kill -9 of the controller, both runs in flight
        first.wait()
        ex = ce.CeleryExecutor(redis.url, key=sealing.read_key(key_file), **FAULTS)
        rec = Recorder()
        assert ex.adopt(running, rec.on_started, rec.on_done)
        rec.submit(ex, waiting)  # a run still queued on the state branch is submitted again
        never = queued_now(make_spec("true", name="never-sent"))
        assert not ex.adopt(never, rec.on_started, rec.on_done)
        later = Worker(redis.url, tmp_path, "later", concurrency=1, sandbox="none",
                       key_file=key_file)
        done = rec.wait(("running", 3), timeout=60)
        done_waiting = rec.wait(("waiting", 5), timeout=60)
        time.sleep(2)  # time for a second copy, if there were one, to run
        ex.shutdown(wait=False)
    finally:
        first.kill()
        worker.stop()
        if later is not None:
            later.stop()
    assert done.status == "succeeded" and "finished" in done.log
    assert done_waiting.status == "succeeded"
    assert executions(ran) == 1 and executions(waited) == 1
    assert any("was sent before" in r.getMessage() for r in caplog.records)


def processes_running(marker: str) -> list[int]:
    """Pids whose command line contains `marker` (the test's own job processes)."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                cmd = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
            except OSError:
                continue
            if marker in cmd and "pytest" not in cmd:
                found.append(int(entry.name))
    return found


@pytest.mark.parametrize("sandbox", ["bwrap", "none"])
@pytest.mark.parametrize("who", ["pool process", "whole worker"])
def test_a_job_dies_with_its_worker(who: str, sandbox: str, redis: RedisServer,
                                    tmp_path: Path, key_file: Path) -> None:
    """bwrap dies with its parent; without it a guard kills the job's process group."""
    worker = Worker(redis.url, tmp_path, "gitline", concurrency=1, sandbox=sandbox,
                    key_file=key_file)
    ex = ce.CeleryExecutor(redis.url, key=sealing.read_key(key_file),
                           **{**FAULTS, "lost_after": 60.0})
    marker = f"sleep 9{os.getpid()}{time.time_ns() % 1000}"  # a job of its own, in ps
    try:
        rec = Recorder()
        key = rec.submit(ex, make_spec(marker, name="orphan"))
        rec.wait(key, "started", timeout=30)
        [pid] = wait_until(lambda: processes_running(marker), 20, "the job")
        if who == "whole worker":
            worker.kill()  # kill -9 of its process group: main and pool processes
        else:
            # the nearest `gitline worker` process above the job: its pool process
            pool = next(p for p in ancestors(pid) if "controller.cli" in cmdline(p))
            os.kill(pool, signal.SIGKILL)
        wait_until(lambda: not processes_running(marker), 15,
                   "the job's processes to die with their worker")
    finally:
        ex.shutdown(wait=False)
        worker.stop()
        for pid in processes_running(marker):
            os.kill(pid, signal.SIGKILL)


def cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return ""


def ancestors(pid: int) -> list[int]:
    """`pid`'s ancestors, nearest first."""
    found = []
    while pid > 1:
        try:
            pid = int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            break
        found.append(pid)
    return found
