"""`executor: celery` end to end: a real `gitline serve`, redis-server and `gitline worker`s.

A push runs its jobs on Celery workers (a job with `runtime.nodePool: X` on the worker of
queue X), outputs flow downstream, the state branch records every run as with the local
executor, and `gitline cancel` stops a run on its worker.
"""

from __future__ import annotations

import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from controller.execution import sealing
from controller.store.commitmessages import trailers_of
from tests.harness.commands import gitline
from tests.harness.home import Home, record_subjects
from tests.harness.wait import wait_for
from tests.harness.workers import Worker, redis_server

LINE = """\
resources:
  - name: app_cfg
    type: params
    versionTemplate:
      params: {COLOR: blue}
  - name: app_img
    type: image
    versionTemplate: {sourceName: app}
  - name: slow_cfg
    type: params
    versionTemplate:
      params: {NAP: "300"}
jobs:
  - name: build_img
    type: runSh
    runtime: {nodePool: builders}
    steps:
      - IN: app_cfg
      - TASK:
          script:
            - echo "building $COLOR in $PWD"
            - echo "built" > "$JOB_STATE/built.txt"
            - shipctl post_resource_state app_img versionName "2.0.$BUILD_NUMBER"
      - OUT: app_img
  - name: deploy
    type: runSh
    steps:
      - IN: build_img
      - IN: app_img
        switch: off
      - TASK:
          script:
            - echo "deploying $APP_IMG_VERSIONNAME in $PWD"
  - name: slow
    type: runSh
    steps:
      - IN: slow_cfg
      - TASK:
          script:
            - sleep "$NAP"
    on_cancel:
      script:
        - echo "slow was cancelled"
"""


@pytest.fixture(scope="module")
def broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with redis_server(tmp_path_factory.mktemp("redis")) as url:
        yield url


@pytest.fixture
def workers(broker: str, tmp_path: Path, home: Home) -> Iterator[dict[str, Worker]]:
    started: dict[str, Worker] = {}
    sealing.home_key(home.path)  # the key the controller seals runs with, given to workers
    try:
        for queue in ("gitline", "builders"):
            started[queue] = Worker(broker, tmp_path, queues=queue, name=f"e2e-{queue}",
                                    key_file=home.path / sealing.KEY_FILE)
        yield started
    finally:
        for w in started.values():
            w.stop()


def test_push_runs_jobs_on_celery_workers_and_the_state_branch_records_them(
        home: Home, broker: str, workers: dict[str, Worker]) -> None:
    (home.path / "gitline.yml").write_text(
        f"executor: celery\nbroker_url: {broker}\nworker_lost_seconds: 30\n")
    home.start()
    home.write("shippable.yml", LINE)
    home.push("a line on celery")
    assert home.wait_runs("deploy", 1, timeout=60) == ["run 1 succeeded"]
    assert home.runs("build_img") == ["run 1 succeeded"]

    builders, default = (workers[q].work_root.resolve() for q in ("builders", "gitline"))
    assert f"building blue in {builders}/build_img/1" in home.show("jobs/build_img/log.txt")
    assert f"deploying 2.0.1 in {default}/deploy/1" in home.show("jobs/deploy/log.txt")
    assert home.show("jobs/build_img/state/built.txt") == "built\n"
    assert "app_img: version 2 (2.0.1) from build_img run 1" in home.subjects()
    run = home.show("jobs/build_img/run.yml")
    assert "status: succeeded" in run and "startedAt: '20" in run.replace('"', "'")
    subjects = home.subjects()
    assert subjects.index("build_img: run 1 succeeded") < subjects.index("build_img: run 1 started")
    assert "runs go to Celery workers through " + broker in home.server_log()

    # who ran what: the worker's node name in run.yml, the trailers of started and final
    assert "worker: e2e-builders@localhost" in run
    assert "worker: e2e-gitline@localhost" in home.show("jobs/deploy/run.yml")
    assert {k: v for k, v in worker_trailers(home, "build_img").items() if v} == {
        "build_img: run 1 started": "e2e-builders@localhost",
        "build_img: run 1 succeeded": "e2e-builders@localhost"}  # not queued: no worker yet
    log_text = gitline("log", home.path, "deploy").stdout
    assert "run 1 succeeded  (" in log_text and "on e2e-gitline@localhost" in log_text

    # a run on a worker is stopped by `gitline cancel`; on_cancel runs there
    wait_for(lambda: "slow: run 1 started" in home.subjects(), 60, "slow to run")
    assert "worker: e2e-gitline@localhost" in home.show("jobs/slow/active/1.yml")
    assert worker_trailers(home, "slow")["slow: run 1 started"] == "e2e-gitline@localhost"
    assert "run 1 running on e2e-gitline@localhost" in gitline("status", home.path).stdout
    assert home.status()["jobs"]["slow"]["active"][0]["worker"] == "e2e-gitline@localhost"
    gitline("cancel", home.path, "slow")
    assert home.wait_runs("slow", 1, timeout=60) == ["run 1 cancelled"]
    assert "slow was cancelled" in home.show("jobs/slow/log.txt")
    assert worker_trailers(home, "slow")["slow: run 1 cancelled"] == "e2e-gitline@localhost"
    home.wait_idle(timeout=60)

    # a TASK's runtime.nodePool routes a one-TASK job; no worker serves 'gpu': status says so
    home.write("shippable.yml", LINE + """\
  - name: train
    type: runSh
    steps:
      - IN: app_cfg
      - TASK:
          runtime: {nodePool: gpu}
          script: [echo trained]
""")
    home.push("a job for the gpu queue")
    wait_for(lambda: home.status()["jobs"].get("train", {}).get("active"), 60, "train queued")
    waiting = home.status()["jobs"]["train"]["waiting"]
    assert waiting == ("run 1 is queued for a free worker of Celery queue 'gpu' "
                       "(`gitline worker --queues gpu`)")


def worker_trailers(home: Home, job: str) -> dict[str, str]:
    """Subject -> Gitline-Worker trailer of `job`'s commits on the state branch (`%B`)."""
    found: dict[str, str] = {}
    for body in home.git("log", "--format=%B%x00", "state").split("\0"):
        for said in record_subjects(body.strip()):  # several in a commit of a burst
            if said.startswith(f"{job}: run "):
                found[said] = (trailers_of(body, job) or {}).get("Worker", "")
    return found


def test_status_does_not_import_celery(tmp_home: Path) -> None:
    (tmp_home / "gitline.yml").write_text(
        "executor: celery\nbroker_url: redis://127.0.0.1:1/0\n")
    probe = ("import sys\nfrom controller.cli import main\n"
             "try:\n    main(['status', sys.argv[1]])\nexcept SystemExit:\n    pass\n"
             "print('celery imported' if 'celery' in sys.modules else 'no celery')")
    out = subprocess.run([sys.executable, "-c", probe, str(tmp_home)], capture_output=True,
                         text=True, timeout=60)
    assert out.stdout.strip().endswith("no celery"), out.stderr


def test_celery_without_a_broker_url_is_a_clear_error(tmp_home: Path) -> None:
    (tmp_home / "gitline.yml").write_text("executor: celery\n")
    result = gitline("serve", tmp_home, check=False)
    assert result.returncode == 1
    assert "executor: celery needs broker_url" in result.stderr


COUNTED = """\
resources:
  - name: nap_cfg
    type: params
    versionTemplate:
      params: {{NAP: "6"}}
jobs:
  - name: counted
    type: runSh
    steps:
      - IN: nap_cfg
      - TASK:
          script:
            - echo ran >> "{tally}"
            - sleep "$NAP"
            - echo "slept $NAP"
"""


def test_kill_9_of_the_controller_a_run_on_a_worker_executes_once_and_is_recorded(
        home: Home, broker: str, tmp_path: Path) -> None:
    sealing.home_key(home.path)
    tally = tmp_path / "tally"
    worker = Worker(broker, tmp_path, queues="gitline", name="e2e-survivor", sandbox="none",
                    key_file=home.path / sealing.KEY_FILE)
    try:
        (home.path / "gitline.yml").write_text(
            f"executor: celery\nbroker_url: {broker}\nworker_lost_seconds: 30\n")
        home.start()
        home.write("shippable.yml", COUNTED.format(tally=tally))
        home.push("a job that outlives its controller")
        wait_for(lambda: "counted: run 1 started" in home.subjects(), 60, "the run to start")
        home.stop(signal.SIGKILL)  # the controller dies; the worker goes on
        home.start()
        assert home.wait_runs("counted", 1, timeout=60) == ["run 1 succeeded"]
        home.wait_idle(timeout=30)
    finally:
        worker.stop()
    assert tally.read_text().splitlines() == ["ran"]  # executed once
    assert "slept 6" in home.show("jobs/counted/log.txt")
    assert home.runs("counted") == ["run 1 succeeded"]  # nothing interrupted, no run 2
    assert home.subjects().count("counted: run 1 started") == 1
    assert "counted run 1: still going on e2e-survivor@localhost" in home.server_log()
    assert subprocess.run(["git", "fsck", "--strict"], cwd=home.repo, capture_output=True,
                          text=True).returncode == 0


def test_gitline_workers_lists_workers_and_the_queue_nobody_serves(
        home: Home, broker: str, workers: dict[str, Worker]) -> None:
    (home.path / "gitline.yml").write_text(f"executor: celery\nbroker_url: {broker}\n")
    home.start()
    home.write("shippable.yml", LINE.replace("runtime: {nodePool: builders}",
                                             "runtime: {nodePool: nobody}"))
    home.push("build_img on a queue nobody serves")
    wait_for(lambda: home.status()["jobs"].get("build_img", {}).get("active"), 60,
             "build_img queued")
    out = gitline("workers", home.path).stdout
    assert "e2e-gitline@localhost  queues: gitline  slots: 2" in out
    assert "e2e-builders@localhost  queues: builders  slots: 2  runs: idle" in out
    assert "queue nobody: 1 waiting, NO worker serves it" in out
    assert "queue gitline: 0 waiting, served by e2e-gitline@localhost" in out


def test_gitline_workers_on_a_local_home_says_it_runs_jobs_itself(home: Home) -> None:
    done = gitline("workers", home.path, check=False)
    assert done.returncode == 2
    assert "runs jobs itself (executor: local)" in done.stderr


PRINTER = """\
resources:
  - name: go
    type: params
    versionTemplate: {params: {N: "1"}}
jobs:
  - name: printer
    type: runSh
    steps:
      - IN: go
      - TASK:
          script:
            - 'for i in 1 2 3 4; do echo "tick $i on a worker"; sleep 1; done'
"""


def test_a_run_on_a_worker_is_followed_live_by_logs_f(
        home: Home, broker: str, workers: dict[str, Worker]) -> None:
    (home.path / "gitline.yml").write_text(f"executor: celery\nbroker_url: {broker}\n")
    home.start()
    home.write("shippable.yml", PRINTER)
    home.push("a job that prints on a worker")
    wait_for(lambda: "printer: run 1 started" in home.subjects(), 60, "the run to start")
    follow = subprocess.Popen([sys.executable, "-m", "controller.cli", "logs", "-f",
                               str(home.path), "printer"], stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True)
    assert follow.stdout is not None
    lines: list[str] = []
    while "tick 1 on a worker" not in "".join(lines):
        lines.append(follow.stdout.readline())
    assert "printer: run 1 succeeded" not in home.subjects()  # seen while it runs
    out, err = follow.communicate(timeout=60)
    assert follow.returncode == 0, err
    assert "tick 4 on a worker" in out and "gitline: printer run 1 succeeded" in err
    assert home.show("jobs/printer/log.txt").count("tick 4 on a worker") == 1
