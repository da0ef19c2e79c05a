"""procgroup.Guard: a step's process group dies with the process that runs it."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

from controller.execution import procgroup
from tests.harness.wait import wait_for

RUNNER = """
import subprocess, sys, time
from controller.execution import procgroup
job = subprocess.Popen(["sh", "-c", "sleep 300 & sleep 300 & wait"], start_new_session=True)
procgroup.guard(job.pid)
print(job.pid, flush=True)
time.sleep(300)
"""


def test_a_guard_kills_the_group_when_its_holder_is_killed() -> None:
    runner = subprocess.Popen([sys.executable, "-c", RUNNER], stdout=subprocess.PIPE,
                              text=True)
    assert runner.stdout is not None
    pgid = int(runner.stdout.readline())
    try:
        assert procgroup.group_alive(pgid)
        runner.kill()  # kill -9: no finally, no atexit in the runner
        runner.wait()
        wait_for(lambda: not procgroup.group_alive(pgid), 10, "the group to die")
    finally:
        if procgroup.group_alive(pgid):
            os.killpg(pgid, signal.SIGKILL)


def test_a_released_guard_leaves_quietly() -> None:
    job = subprocess.Popen(["sleep", "300"], start_new_session=True)
    watch = procgroup.guard(job.pid)
    try:
        guard_proc = watch.proc
        assert guard_proc is not None
        procgroup.kill_group(job.pid, 1.0)
        began = time.monotonic()
        watch.release()
        assert guard_proc.returncode == 0 and time.monotonic() - began < 2
    finally:
        job.kill()
        job.wait()
