"""The controller at rest and alone: an idle `gitline serve` sleeps, and a second one on
the same HOME refuses to start (issue #10)."""

from __future__ import annotations

import re
import signal
import time

from tests.harness.commands import gitline, run
from tests.harness.home import Home
from tests.harness.lines import PAINT_LINE
from tests.harness.wait import wait_for

PASS_LINE = re.compile(r"reconcile pass (\d+) \((poked|poll)\)")


def _started(home: Home) -> None:
    log = home.logs[-1]  # this start's log, not an earlier one's
    wait_for(lambda: "gitline: watching" in log.read_text(), 30, "the controller to start")


def _passes(home: Home) -> int:
    return len(PASS_LINE.findall(home.server_log()))


def test_an_idle_controller_runs_one_pass_per_poll_interval(home):
    home.start("-v")  # --poll 2 (Home.start); -v logs one line per reconcile pass
    home.write("shippable.yml", PAINT_LINE.format(color="red"))
    home.push("a line")
    assert home.wait_runs("paint", 1) == ["run 1 succeeded"]
    home.wait_idle()
    time.sleep(1)
    before = _passes(home)
    # What a user does beside a resting controller: read the refs it watches, ask status.
    for _ in range(20):
        (home.repo / "refs" / "heads" / "main").read_text()
        (home.repo / "HEAD").read_text()
    home.status()
    run("git", "--git-dir", home.repo, "log", "-1", "main")
    time.sleep(6)
    idle = _passes(home) - before
    # 6-7 s at --poll 2 is at most 4 polls; a loop woken by its own reads makes hundreds
    assert idle <= 4, f"{idle} reconcile passes in ~7 s of idleness:\n{home.server_log()[-2000:]}"
    assert idle >= 1, "the safety-net poll stopped"


def test_a_push_still_wakes_a_resting_controller_at_once(home):
    home.start("--poll", "60")  # the poll is no help here: only the watcher can wake it
    _started(home)
    home.write("shippable.yml", PAINT_LINE.format(color="red"))
    home.push("a line")
    assert home.wait_runs("paint", 1, timeout=20) == ["run 1 succeeded"]


def test_a_request_wakes_a_resting_controller_at_once(home):
    home.start("--poll", "60")
    _started(home)
    home.write("shippable.yml", PAINT_LINE.format(color="red"))
    home.push("a line")
    home.wait_runs("paint", 1, timeout=20)
    home.wait_idle()
    replay = gitline("replay", home.path, "paint", "1")
    assert replay.stdout.strip() == "queued paint run 2, a replay of run 1", replay.stdout
    assert home.wait_runs("paint", 2, timeout=20)[-1] == "run 2 succeeded"
    assert not list((home.path / "requests").glob("*.yml"))  # handled and removed


def test_a_second_serve_on_the_same_home_exits_at_once(home):
    home.start()
    _started(home)
    first = home.proc
    assert first is not None
    second = gitline("serve", home.path, "--listen", "none", check=False)
    assert second.returncode == 1
    assert re.search(rf"{re.escape(str(home.path))} is served by pid {first.pid} since "
                     r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", second.stderr), second.stderr
    assert "Traceback" not in second.stderr
    lock = (home.path / "serve.lock").read_text()
    assert f"pid: {first.pid}\n" in lock

    # the read-only commands work beside it, and the first controller still runs jobs
    home.write("shippable.yml", PAINT_LINE.format(color="red"))
    home.push("a line")
    assert home.wait_runs("paint", 1) == ["run 1 succeeded"]
    status = home.status()
    assert status["jobs"]["paint"]["lastRun"]["status"] == "succeeded"
    assert status["controller"]["pid"] == first.pid
    assert f"controller: pid {first.pid} since " in gitline("status", home.path).stdout
    assert "run 1 succeeded" in gitline("log", home.path, "paint").stdout
    assert "painting red" in gitline("logs", home.path, "paint").stdout
    assert gitline("validate", home.work).returncode == 0
    assert first.poll() is None
    assert home.runs("paint") == ["run 1 succeeded"]  # once, not once per controller


def test_kill_9_leaves_nothing_to_clean_up(home):
    home.start()
    _started(home)
    home.stop(signal.SIGKILL)
    assert "pid: " in (home.path / "serve.lock").read_text()  # stale words, no lock
    assert home.status()["controller"] is None
    home.start()  # the kernel dropped the lock with the killed process
    _started(home)
    assert home.proc is not None
    again = gitline("serve", home.path, "--listen", "none", check=False)
    assert again.returncode == 1 and f"served by pid {home.proc.pid} " in again.stderr
    home.stop()  # a clean stop empties the file: nobody serves HOME now
    assert (home.path / "serve.lock").read_text() == ""
    assert home.status()["controller"] is None
    assert "controller: not running" in gitline("status", home.path).stdout
