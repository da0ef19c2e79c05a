"""A worker killed under a run, end to end: a real `gitline serve`, redis-server and
`gitline worker`s.

The run goes to another worker as attempt 2 of the same run, and the state branch says
so (run.yml `attempt: 2`, the `Gitline-Attempt` trailer, the lost worker in its message);
the job counts its executions by calling an HTTP server of the test's.
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from controller.execution import sealing
from controller.store import yamlio
from tests.harness.commands import gitline
from tests.harness.home import Home
from tests.harness.sinks import HttpSink
from tests.harness.wait import wait_for
from tests.harness.workers import Worker, redis_server

FRAGILE = """\
resources:
  - name: lost_cfg
    type: params
    versionTemplate:
      params: {{NAP: "300"}}
jobs:
  - name: fragile
    type: runSh
    steps:
      - IN: lost_cfg
      - TASK:
          script:
            - curl -s -X POST -d "{{}}" "{url}-$GITLINE_ATTEMPT"
            - if [ "$GITLINE_ATTEMPT" = 1 ]; then sleep "$NAP"; fi
            - while [ ! -e "{gate}" ]; do sleep 0.1; done
            - echo "done as attempt $GITLINE_ATTEMPT"
"""


@pytest.fixture(scope="module")
def broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with redis_server(tmp_path_factory.mktemp("redis")) as url:
        yield url


def test_a_run_whose_worker_is_killed_runs_again_on_another_as_attempt_2(
        home: Home, broker: str, tmp_path: Path) -> None:
    sealing.home_key(home.path)
    key_file = home.path / sealing.KEY_FILE
    first = Worker(broker, tmp_path, name="e2e-first", concurrency=1, sandbox="none",
                   key_file=key_file)
    second = None
    with HttpSink() as sink:
        try:
            (home.path / "gitline.yml").write_text(
                f"executor: celery\nbroker_url: {broker}\nworker_lost_seconds: 5\n")
            home.start()
            gate = tmp_path / "gate"
            home.write("shippable.yml", FRAGILE.format(url=sink.url("/ran"), gate=gate))
            home.push("a job whose worker dies under it")
            assert [r.path for r in sink.wait(1, timeout=60)] == ["/ran-1"]
            second = Worker(broker, tmp_path, name="e2e-second", concurrency=1,
                            sandbox="none", key_file=key_file)
            first.kill()  # kill -9 of the whole worker, its run half done
            # while attempt 2 runs, the record and status say so (not attempt 1's start)
            wait_for(lambda: "attempt: 2" in home.show("jobs/fragile/run.yml"), 90,
                     "attempt 2 recorded as running")
            during = yamlio.run_from_yaml(home.show("jobs/fragile/run.yml"))
            assert (during.status, during.worker) == ("running", "e2e-second@localhost")
            assert "the worker of attempt 1 (e2e-first@localhost) was lost" in during.message
            assert "run 1 running (attempt 2) on e2e-second@localhost" in \
                gitline("status", home.path).stdout
            gate.touch()
            assert home.wait_runs("fragile", 1, timeout=90) == ["run 1 succeeded"]
            home.wait_idle(timeout=30)
        finally:
            first.kill()
            if second is not None:
                second.stop()
        assert [r.path for r in sink.received] == ["/ran-1", "/ran-2"]  # exactly twice
    run = yamlio.run_from_yaml(home.show("jobs/fragile/run.yml"))
    assert (run.attempt, run.worker) == (2, "e2e-second@localhost")
    assert run.message.startswith(
        "attempt 2: the worker of attempt 1 (e2e-first@localhost) was lost under it")
    assert "done as attempt 2" in home.show("jobs/fragile/log.txt")
    last = home.git("log", "-1", "--format=%B", "state")
    assert "Gitline-Attempt: 2" in last and "Gitline-Worker: e2e-second@localhost" in last
    assert home.runs("fragile") == ["run 1 succeeded"]  # one run, not a run 2
    assert subprocess.run(["git", "fsck", "--strict"], cwd=home.repo, capture_output=True,
                          text=True).returncode == 0
