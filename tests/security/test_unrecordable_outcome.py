"""Issue #9: an outcome the state branch cannot record ends the run as failed, with the
reason, instead of leaving it `running` for ever (also after a restart)."""

from __future__ import annotations

from tests.harness.lines import params_and_job

LINE = params_and_job("odd", """['touch "$JOB_STATE/a\\\\b"', 'echo done']""", """\
  - name: after
    type: runSh
    steps:
      - IN: odd
      - TASK: {script: ['echo after']}
""")


def test_a_state_file_the_branch_cannot_hold_fails_the_run_with_the_reason(home):
    home.start()
    home.write("shippable.yml", LINE)
    home.push("a job that writes an odd file name")
    [run] = home.wait_runs("odd", 1, timeout=60)
    assert run.startswith("run 1 failed"), run
    last = home.status()["jobs"]["odd"]["lastRun"]
    assert "outcome could not be recorded: unsafe path" in last["message"], last
    assert "done" in home.show("jobs/odd/log.txt")  # the log is kept
    home.stop()
    home.start()
    home.wait_idle()
    assert home.status()["jobs"]["odd"]["lastRun"]["status"] == "failed"
    home.git("fsck", "--strict", "--no-progress")  # raises when it fails
