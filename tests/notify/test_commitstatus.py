"""notify/commitstatus: what is posted, skipped or failed, and how it is recorded, against
the local status API (tests/harness/githosts.py)."""

from __future__ import annotations

from typing import Any

from controller.core import loader, model
from controller.core.runspec import InputSpec, Outcome, RunSpec
from controller.notify.commitstatus import StatusPoster
from controller.secrets import parse
from tests.harness.githosts import StatusApi

SHA = "c" * 40
TOKEN = "tok-81f2c3"
LINE = """\
resources:
  - name: app
    type: gitRepo
    integration: gh
    versionTemplate: {sourceName: acme/app}
jobs:
  - name: j
    type: runSh
    steps:
      - IN: app
        showBuildStatus: true
      - TASK: {script: [echo]}
"""


def poster(api: StatusApi, secret: dict[str, Any], records: list, **kw: Any) -> StatusPoster:
    wf = loader.load_workflow([("shippable.yml", LINE)])
    return StatusPoster(lambda: wf, lambda: {"gh": parse("gh", secret)},
                        lambda job, run, done: records.append((job, run, done)),
                        backoff=0.01, **kw)


def spec(line: str = LINE) -> RunSpec:
    wf = loader.load_workflow([("shippable.yml", line)])
    version = model.Version("app", 4, SHA, {"commit": SHA})
    return RunSpec(model.Run("j", 7, "running", model.Cause("version", "app version 4")),
                   wf.jobs["j"], (InputSpec("app", "resource", "gitRepo", version),))


def finish(p: StatusPoster, status: str = "succeeded") -> None:
    p(spec(), Outcome(status, 0, "", "", ""))  # type: ignore[arg-type]
    batch = p._queue.get_nowait()
    assert batch is not None
    p.deliver(batch)


def test_a_run_result_is_posted_and_recorded_with_its_commit_and_state():
    records: list = []
    with StatusApi("gitea", TOKEN) as api:
        finish(poster(api, {"token": TOKEN, "url": "https://git.example.com",
                            "apiUrl": api.base}, records, web_url="https://ci"), "timed_out")
    assert api.refused == [] and [p.body for p in api.posted] == [
        {"state": "error", "context": "gitline/j", "target_url": "https://ci/jobs/j/runs/7",
         "description": "Gitline: j run 7 timed out"}]
    [(job, run, [done])] = records
    assert (job, run, done["status"], done["state"], done["commit"]) == (
        "j", 7, "delivered", "error", SHA)


def test_a_refused_token_is_not_retried_and_never_recorded():
    records: list = []
    with StatusApi("github", "another-token") as api:
        finish(poster(api, {"token": TOKEN, "url": "https://git.example.com",
                            "apiUrl": api.base}, records))
    [(_, _, [done])] = records
    assert (done["status"], done["attempts"], done["error"]) == ("failed", 1, "HTTP 401")
    assert TOKEN not in str(records)


def test_a_host_that_keeps_failing_is_tried_a_bounded_number_of_times():
    records: list = []
    with StatusApi("gitlab", TOKEN, fail_first=9) as api:
        finish(poster(api, {"token": TOKEN, "url": "https://git.example.com",
                            "apiUrl": api.base}, records, attempts=3))
    [(_, _, [done])] = records
    assert (done["status"], done["attempts"], done["error"]) == ("failed", 3, "HTTP 502")


def test_a_secret_not_for_the_resource_or_an_unknown_host_posts_nothing():
    records: list = []
    with StatusApi("github", TOKEN) as api:
        finish(poster(api, {"token": TOKEN, "url": "https://github.com",
                            "apiUrl": api.base, "resources": ["other"]}, records))
        finish(poster(api, {"token": TOKEN, "url": "https://git.example.com"}, records))
    assert api.posted == [] and api.refused == []
    errors = [r[2][0]["error"] for r in records]
    assert [r[2][0]["status"] for r in records] == ["skipped", "skipped"]
    assert "secret gh is not for resource app" in errors[0]
    assert "cannot tell GitHub, GitLab or Gitea from git.example.com" in errors[1]


def test_a_run_without_show_build_status_owes_nothing():
    line = LINE.replace("showBuildStatus: true", "switch: on")
    wf = loader.load_workflow([("shippable.yml", line)])
    p = StatusPoster(lambda: wf, dict, lambda *a: None)
    p.started(spec(line))
    assert p._queue.empty()
