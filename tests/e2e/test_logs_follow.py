"""`gitline logs -f`: a run's log while it runs (issue #12), against a real controller."""

from __future__ import annotations

import subprocess
import sys

from tests.harness.home import Home
from tests.harness.lines import params_and_job
from tests.harness.wait import wait_for

LINE = params_and_job("slow", """['echo "first line"', 'sleep 3', 'echo "last line"', \
'exit $CODE']""")


def test_logs_follow_prints_lines_as_they_come_and_exits_with_the_run(home: Home) -> None:
    home.start()
    home.write("shippable.yml", LINE.replace("$CODE", "0"))
    home.push("a slow job")
    wait_for(lambda: "slow: run 1 started" in home.subjects(), 60, "the run to start")
    follow = subprocess.Popen([sys.executable, "-m", "controller.cli", "logs", "-f",
                               str(home.path), "slow"], stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True)
    assert follow.stdout is not None
    lines = []
    while "first line" not in "".join(lines):
        lines.append(follow.stdout.readline())
    assert "slow: run 1 succeeded" not in home.subjects()  # seen while it runs
    out, err = follow.communicate(timeout=60)
    assert follow.returncode == 0
    assert "last line" in out and "gitline: slow run 1 succeeded" in err
    assert "slow: run 1 succeeded" in home.subjects()

    home.write("shippable.yml", LINE.replace("$CODE", "3").replace('"1"', '"2"'))
    home.push("a failing one")
    wait_for(lambda: "slow: run 2 started" in home.subjects(), 60, "run 2 to start")
    done = subprocess.run([sys.executable, "-m", "controller.cli", "logs", "-f",
                           str(home.path), "slow"], capture_output=True, text=True, timeout=60)
    assert done.returncode == 1 and "last line" in done.stdout
    assert "gitline: slow run 2 failed" in done.stderr


GATED = params_and_job("slow", """['echo "first line"', 'sleep 2', 'echo "last line"']""",
                       """\
  - name: gated
    type: runSh
    requiresApproval: true
    steps:
      - TASK:
          script: [echo "gated ran", exit 4]
""")


def test_trigger_and_approve_watch_follow_the_run_they_start(home: Home) -> None:
    home.start()
    home.write("shippable.yml", GATED)
    home.push("a slow job and a gated one")
    home.wait_runs("slow", 1, timeout=60)
    done = subprocess.run([sys.executable, "-m", "controller.cli", "trigger", str(home.path),
                           "slow", "--watch"], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "committed triggers/slow" in done.stdout
    assert "first line" in done.stdout and "last line" in done.stdout
    assert "gitline: slow run 2 succeeded" in done.stderr  # run 1 was the push's

    subprocess.run([sys.executable, "-m", "controller.cli", "trigger", str(home.path),
                    "gated"], check=True, capture_output=True)
    wait_for(lambda: "pending_approval" in str(home.status()["jobs"]["gated"]), 60,
             "the gated run to wait for approval")
    done = subprocess.run([sys.executable, "-m", "controller.cli", "approve", str(home.path),
                           "gated", "--watch"], capture_output=True, text=True, timeout=120)
    assert done.returncode == 1, done.stderr  # the approved run failed: exit 4
    assert "gated ran" in done.stdout
    assert "gitline: gated run 1 failed" in done.stderr
