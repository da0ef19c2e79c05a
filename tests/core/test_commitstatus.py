"""core/commitstatus: which statuses a run owes, and each host's documented request."""

from __future__ import annotations

import pytest

from controller.core import commitstatus as cs
from controller.core import loader

SHA = "a" * 40
WF = """\
resources:
  - name: app
    type: gitRepo
    integration: gh
    versionTemplate: {sourceName: acme/app}
  - name: lib
    type: gitRepo
    versionTemplate: {sourceName: acme/lib, showBuildStatus: true}
  - name: p
    type: params
    versionTemplate: {params: {A: "1"}}
jobs:
  - name: j
    type: runSh
    steps:
      - IN: app
        showBuildStatus: true
      - IN: lib
      - IN: p
      - TASK: {script: [echo]}
  - name: k
    type: runSh
    steps:
      - IN: app
      - TASK: {script: [echo]}
"""


def test_a_run_owes_a_status_to_each_gitrepo_that_asks_for_one():
    wf = loader.load_workflow([("shippable.yml", WF)])
    commits = {"app": SHA, "lib": "b" * 40}
    owed = cs.owed(wf, wf.jobs["j"], 3, "started", commits)
    assert [(o.resource, o.sha, o.event) for o in owed] == [
        ("app", SHA, "started"), ("lib", "b" * 40, "started")]
    assert cs.owed(wf, wf.jobs["k"], 1, "succeeded", commits) == []


@pytest.mark.parametrize(("api_url", "repo_url", "provider", "base"), [
    ("", "https://github.com/acme/app.git", "github", "https://api.github.com"),
    ("", "https://gitlab.example.com/acme/app.git", "gitlab",
     "https://gitlab.example.com/api/v4"),
    ("", "git@gitea.example.com:acme/app.git", "gitea", "https://gitea.example.com/api/v1"),
    ("https://ghe.example.com/api/v3/", "https://ghe.example.com/a/b.git", "github",
     "https://ghe.example.com/api/v3"),
    ("http://127.0.0.1:9/api/v4", "git://127.0.0.1:8/a/b.git", "gitlab",
     "http://127.0.0.1:9/api/v4"),
])
def test_the_host_is_told_by_the_api_url_or_the_repository(api_url, repo_url, provider, base):
    assert cs.provider_of(api_url, repo_url) == provider
    assert cs.api_base(provider, api_url, repo_url) == base


def test_an_unknown_host_needs_an_api_url():
    with pytest.raises(cs.StatusError, match="set apiUrl"):
        cs.provider_of("", "https://git.example.com/a/b.git")


@pytest.mark.parametrize(("provider", "event", "state"), [
    ("github", "started", "pending"), ("github", "timed_out", "error"),
    ("gitlab", "started", "running"), ("gitlab", "failed", "failed"),
    ("gitlab", "cancelled", "canceled"), ("gitea", "failed", "failure"),
])
def test_each_host_has_its_own_words_for_a_run(provider, event, state):
    assert cs.state_of(provider, event) == state
    assert state in cs.ALLOWED[provider]


def test_the_requests_are_as_documented():
    gh = cs.request("github", "https://api.github.com", "acme/app", SHA, state="success",
                    context="gitline/j", description="ok", target_url="https://ci/x",
                    token="T")
    assert gh.url == f"https://api.github.com/repos/acme/app/statuses/{SHA}"
    assert gh.headers["Authorization"] == "Bearer T"
    assert gh.body == {"state": "success", "context": "gitline/j", "description": "ok",
                       "target_url": "https://ci/x"}
    gl = cs.request("gitlab", "https://gl/api/v4", "acme/libs/lib", SHA, state="running",
                    context="gitline/j", description="d" * 200, target_url="", token="T")
    assert gl.url == f"https://gl/api/v4/projects/acme%2Flibs%2Flib/statuses/{SHA}"
    assert gl.headers["PRIVATE-TOKEN"] == "T" and "Authorization" not in gl.headers
    assert gl.body == {"state": "running", "name": "gitline/j", "description": "d" * 140}
    gt = cs.request("gitea", "https://gt/api/v1", "acme/tool", SHA, state="failure",
                    context="c", description="", target_url="", token="T")
    assert gt.headers["Authorization"] == "token T"
    with pytest.raises(cs.StatusError):
        cs.request("gitea", "https://gt/api/v1", "a/b", SHA, state="running", context="c",
                   description="", target_url="", token="T")
    with pytest.raises(cs.StatusError, match="not a commit sha"):
        cs.request("github", "https://x", "a/b", "main", state="success", context="c",
                   description="", target_url="", token="T")


def test_a_run_links_to_its_page_only_when_the_web_url_is_set():
    assert cs.run_url("", "j", 1) == ""
    assert cs.run_url("https://ci.example.com/", "Deploy (prod)", 2) == \
        "https://ci.example.com/jobs/Deploy%20%28prod%29/runs/2"
