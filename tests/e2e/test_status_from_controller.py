"""`gitline status` asks the running controller (HOME/answers.sock) for the status it holds,
instead of loading the workflow again; with no controller it reads the branches itself,
and both say the same."""

from __future__ import annotations

import json
import signal

from tests.harness.commands import gitline
from tests.harness.home import Home
from tests.harness.lines import params_and_job


def test_status_comes_from_the_running_controller_and_matches_a_read_of_the_branches(
        home: Home) -> None:
    home.start()
    home.write("shippable.yml", params_and_job("paint", "['echo painted']"))
    home.push("a job")
    home.wait_runs("paint", 1, timeout=60)
    home.wait_idle(timeout=30)
    held = json.loads(gitline("status", "--json", home.path).stdout)
    assert "repositories" in held  # only the controller knows what it follows
    assert held["controller"]["pid"] > 0
    text = gitline("status", home.path).stdout
    assert "paint" in text and "run 1 succeeded" in text

    home.stop(signal.SIGTERM)
    read = json.loads(gitline("status", "--json", home.path).stdout)
    assert "repositories" not in read and read["controller"] is None
    assert read["jobs"] == held["jobs"] and read["resources"] == held["resources"]
    assert read["config"]["good"] == held["config"]["good"]
