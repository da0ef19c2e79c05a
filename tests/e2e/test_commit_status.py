"""Issue #14, statuses back on commits: a run from a gitRepo with `showBuildStatus: true`
posts pending, then its result, to the commit it built, through the API of GitHub,
GitLab or Gitea (a local server that checks every request against the provider's
documented API), retried and recorded like notifications; the token never shows."""

from __future__ import annotations

from tests.harness.githosts import GitDaemon, StatusApi, push_files
from tests.harness.leaks import state_blobs

GH_TOKEN = "ghp-status-token-5a1c"
GL_TOKEN = "glpat-status-token-93d0"
GT_TOKEN = "gitea-status-token-7e42"
WEB = "https://ci.example.com"

ONE_REPO = """\
resources:
  - name: app_repo
    type: gitRepo
    integration: gh
    versionTemplate: {sourceName: acme/app, branch: main, pollSeconds: 1}
jobs:
  - name: build
    type: runSh
    steps:
      - IN: app_repo
        showBuildStatus: true
      - TASK: {script: ['test -f "$APP_REPO_STATE/ok" || exit 3']}
  - name: quiet
    type: runSh
    steps:
      - IN: app_repo
      - TASK: {script: ['echo no status from me']}
"""


def secrets(home, text: str) -> None:
    (home.path / "secrets.yml").write_text(text)
    (home.path / "secrets.yml").chmod(0o600)


def test_github_gets_pending_then_the_result_retried_and_recorded(home, tmp_path):
    with GitDaemon(tmp_path / "served") as git, StatusApi("github", GH_TOKEN,
                                                          fail_first=1) as api:
        url = git.create("acme/app")
        dev = tmp_path / "dev"
        first = push_files(url, dev, {"ok": "yes\n"}, "works")
        secrets(home, f"gh: {{token: {GH_TOKEN}, url: '{git.url}', apiUrl: '{api.base}', "
                      "resources: [app_repo]}\n")
        (home.path / "gitline.yml").write_text(
            (home.path / "gitline.yml").read_text() + f"web_url: {WEB}\n")
        home.start()
        home.write("shippable.yml", ONE_REPO)
        home.push("build app_repo with statuses")
        assert home.wait_runs("build", 1, timeout=60) == ["run 1 succeeded"]
        posted = api.wait(2)
        second = push_files(url, dev, {"ok": None}, "breaks")
        assert home.wait_runs("build", 2, timeout=60)[-1] == "run 2 failed (exit 3)"
        posted = api.wait(4)
        home.wait_idle()
        home.stop()
    assert api.refused == [] and api.failed == 1  # the first try failed, and was retried
    assert [(p.repo, p.sha, p.body["state"]) for p in posted] == [
        ("acme/app", first, "pending"), ("acme/app", first, "success"),
        ("acme/app", second, "pending"), ("acme/app", second, "failure")]
    assert posted[1].body == {"state": "success", "context": "gitline/build",
                              "description": "Gitline: build run 1 succeeded",
                              "target_url": f"{WEB}/jobs/build/runs/1"}
    assert home.runs("quiet") == ["run 1 succeeded", "run 2 succeeded"]  # and no status
    record = home.show("notifications/build.yml")
    assert "commit status app_repo" in record and second in record
    assert "state: failure" in record and "status: delivered" in record
    history = home.git("log", "-p", "state", "--", "notifications/build.yml")
    assert "attempts: 2" in history  # run 1's pending, after the 502
    for text in (state_blobs(home.repo), home.server_log()):
        assert GH_TOKEN not in text


TWO_HOSTS = """\
resources:
  - name: lib_repo
    type: gitRepo
    integration: gl
    versionTemplate: {sourceName: acme/libs/lib, branch: main, pollSeconds: 1}
  - name: tool_repo
    type: gitRepo
    integration: gt
    versionTemplate: {sourceName: acme/tool, branch: main, pollSeconds: 1, showBuildStatus: true}
jobs:
  - name: both
    type: runSh
    steps:
      - IN: lib_repo
        showBuildStatus: true
      - IN: tool_repo
      - TASK: {script: ['echo built']}
"""


def test_gitlab_and_gitea_get_their_own_states_without_a_web_url(home, tmp_path):
    with GitDaemon(tmp_path / "served") as git, StatusApi("gitlab", GL_TOKEN) as gl, \
            StatusApi("gitea", GT_TOKEN) as gt:
        lib = git.create("acme/libs/lib")
        tool = git.create("acme/tool")
        lib_sha = push_files(lib, tmp_path / "lib", {"a": "1\n"}, "lib")
        tool_sha = push_files(tool, tmp_path / "tool", {"b": "1\n"}, "tool")
        secrets(home, f"gl: {{token: {GL_TOKEN}, url: '{git.url}', apiUrl: '{gl.base}', "
                      "resources: [lib_repo]}\n"
                      f"gt: {{token: {GT_TOKEN}, url: '{git.url}', apiUrl: '{gt.base}', "
                      "resources: [tool_repo]}\n")
        home.start()
        home.write("shippable.yml", TWO_HOSTS)
        home.push("two hosts")
        assert home.wait_runs("both", 1, timeout=60) == ["run 1 succeeded"]
        gl.wait(2)
        gt.wait(2)
        home.stop()
    assert gl.refused == [] and gt.refused == []
    assert [(p.repo, p.sha, p.body["state"]) for p in gl.posted] == [
        ("acme/libs/lib", lib_sha, "running"), ("acme/libs/lib", lib_sha, "success")]
    assert gl.posted[0].body == {"state": "running", "name": "gitline/both",
                                 "description": "Gitline: both run 1 started"}
    assert [(p.repo, p.sha, p.body["state"]) for p in gt.posted] == [
        ("acme/tool", tool_sha, "pending"), ("acme/tool", tool_sha, "success")]
    assert "target_url" not in gt.posted[1].body  # no web_url set: no link
    for text in (state_blobs(home.repo), home.server_log()):
        assert GL_TOKEN not in text and GT_TOKEN not in text
