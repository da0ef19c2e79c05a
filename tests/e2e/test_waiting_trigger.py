"""A trigger file committed while an input job of its job is running waits for that run,
as a pending build does in Concourse, instead of being refused for good (it was lost);
it survives a kill -9 of the controller, and runs once, with its parameters."""

from __future__ import annotations

import signal

from tests.harness.commands import gitline
from tests.harness.home import Home
from tests.harness.lines import params_and_job
from tests.harness.wait import wait_for

LINE = params_and_job("slow_up", "['sleep 4', 'echo up done']", """\
  - name: down
    type: runSh
    steps:
      - IN: slow_up
        switch: off
      - TASK: {script: ['echo "down with REASON=$REASON"']}
""")


def test_a_trigger_waits_for_the_input_jobs_run_and_then_runs_once(home: Home) -> None:
    home.start()
    home.write("shippable.yml", LINE)
    home.push("a slow upstream")
    wait_for(lambda: "slow_up: run 1 started" in home.subjects(), 60, "slow_up to start")
    home.write("triggers/down", "REASON: release\n")
    sha = home.push("run down")
    wait_for(lambda: home.status()["config"]["processed"] == sha, 30, "the trigger read")
    [waits] = home.status()["config"]["waitingTriggers"]
    assert waits.startswith(f"triggers/down in {sha[:7]} by Ada Lovelace <ada@example.com>: "
                            "waiting for input job slow_up (run 1 ")
    assert "waits: triggers/down" in gitline("status", home.path).stdout
    assert not home.status()["config"]["refused"]

    home.stop(signal.SIGKILL)  # the waiting trigger is on the state branch, not in memory
    home.start()
    assert home.wait_runs("down", 1, timeout=90) == ["run 1 succeeded"]
    assert "down with REASON=release" in home.show("jobs/down/log.txt")
    run = home.show("jobs/down/run.yml")
    assert "trigger" in run and sha in run
    home.wait_idle(60)
    assert home.runs("down") == ["run 1 succeeded"]  # once, not once more per pass
    assert home.status()["config"]["waitingTriggers"] == []
    assert home.runs("slow_up")[-1] == "run 1 succeeded" or "run 2 succeeded" in \
        home.runs("slow_up")  # interrupted by the kill and run again, or done before it
