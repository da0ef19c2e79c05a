"""Issue #14 done: a subscription of three repositories as a user sets it up, against a real
`gitline serve` and real pushes to each.

- `config` (HOME/config.git): `deploy`, taking `shipit_runCI` and infra's `infra_params`;
- `infra` (made with `gitline repo add`, pushed by path): `infra_params` and `smoke`,
  which takes config's `deploy`;
- `shipit` (followed: its upstream is on a git host, a `git daemon` here): a CI section,
  so it gets `shipit_runCI`, whose statuses go to the host's commit-status API (a local
  server that checks each request against GitHub's) through gitline.yml's `commit_status`.

The workflow loads with no unresolved name (`gitline validate` of the three folders, and
the running controller); a push to shipit's upstream versions `shipit_ciRepo` on that
commit, runs `shipit_runCI` (its JUnit report summarised in `gitline status`), then
`deploy` and `smoke`, and posts pending then success on the commit it built."""

from __future__ import annotations

from pathlib import Path

from tests.harness.commands import gitline, run
from tests.harness.githosts import GitDaemon, StatusApi, push_files
from tests.harness.home import Home
from tests.harness.leaks import state_blobs
from tests.harness.wait import wait_for

TOKEN = "ghp-whole-subscription-61f0"
WEB = "https://ci.example.com"

RUN_TESTS = """\
#!/bin/bash
set -e
mkdir -p shippable/testresults
cat > shippable/testresults/junit.xml <<'XML'
<testsuite name="shipit" tests="3">
  <testcase classname="t" name="packs"/>
  <testcase classname="t" name="ships"/>
  <testcase classname="t" name="later"><skipped/></testcase>
</testsuite>
XML
echo "shipit tests of $(cat version.txt) ran"
"""

SHIPIT = """\
language: node_js
build:
  ci: [bash run_tests.sh]
"""

CONFIG = """\
resources:
  - name: release_params
    type: params
    versionTemplate: {{params: {{RELEASE: "{release}"}}}}
jobs:
  - name: deploy
    type: runSh
    steps:
      - IN: shipit_runCI
      - IN: infra_params
      - IN: release_params
      - TASK:
          script:
            - echo "deploying release $RELEASE to $REGION"
"""

INFRA = """\
resources:
  - name: infra_params
    type: params
    versionTemplate: {{params: {{REGION: {region}}}}}
jobs:
  - name: smoke
    type: runSh
    steps:
      - IN: deploy
      - TASK:
          script:
            - echo "smoke test after deploy $DEPLOY_VERSIONNUMBER"
"""


def commit_push(work: Path, files: dict[str, str], message: str) -> str:
    for rel, text in files.items():
        (work / rel).parent.mkdir(parents=True, exist_ok=True)
        (work / rel).write_text(text)
    run("git", "add", "-A", cwd=work)
    run("git", "commit", "-q", "-m", message, cwd=work)
    run("git", "push", "-q", "origin", "HEAD:main", cwd=work)
    return run("git", "rev-parse", "HEAD", cwd=work).stdout.strip()


def errors(problems: list) -> list:
    return [p for p in problems if ": error:" in str(p) or "unresolved" in str(p)
            or "not defined" in str(p)]


def test_three_repositories_one_workflow_ci_runs_and_statuses_reach_the_host(
        home: Home, tmp_path: Path) -> None:
    with GitDaemon(tmp_path / "served") as host, StatusApi("github", TOKEN) as api:
        upstream = host.create("acme/shipit")
        dev = tmp_path / "shipit-dev"
        first = push_files(upstream, dev, {"shippable.yml": SHIPIT, "version.txt": "1.0\n",
                                           "run_tests.sh": RUN_TESTS}, "shipit with CI")
        # what the user writes: the followed source, where its CI statuses go, the secret
        with (home.path / "gitline.yml").open("a") as f:
            f.write(f"web_url: {WEB}\nsources:\n  shipit:\n    upstream: '{upstream}'\n"
                    "    poll_seconds: 1\n    commit_status: {integration: gh}\n")
        (home.path / "secrets.yml").write_text(
            f"gh: {{token: {TOKEN}, url: '{host.url}', apiUrl: '{api.base}', "
            "resources: [shipit_ciRepo]}\n")
        (home.path / "secrets.yml").chmod(0o600)
        assert "Created" in gitline("repo", "add", home.path, "infra").stdout
        infra = tmp_path / "infra"
        run("git", "clone", "-q", home.path / "repos" / "infra.git", infra)
        commit_push(infra, {"shippable.yml": INFRA.format(region="eu")}, "infra")

        # offline first: the three folders are one subscription, no unresolved name
        folders = tmp_path / "v"
        for name in ("config", "infra", "shipit"):
            (folders / name).mkdir(parents=True)
        (folders / "config" / "shippable.yml").write_text(CONFIG.format(release="1"))
        (folders / "infra" / "shippable.yml").write_text(INFRA.format(region="eu"))
        (folders / "shipit" / "shippable.yml").write_text(SHIPIT)
        three = (folders / "config", folders / "infra", folders / "shipit")
        checked = gitline("validate", "--strict", *three)  # exit 0: no error, no warning
        assert "3 resources, 3 jobs, 0 errors, 0 warnings" in checked.stderr, checked
        assert "unresolved" not in gitline("graph", *three).stdout

        home.start("--poll", "300")
        home.write("shippable.yml", CONFIG.format(release="1"))
        home.push("deploy after shipit's CI")

        assert home.wait_runs("shipit_runCI", 1, timeout=90) == ["run 1 succeeded"]
        assert home.wait_runs("deploy", 1, timeout=60) == ["run 1 succeeded"]
        assert home.wait_runs("smoke", 1, timeout=60) == ["run 1 succeeded"]
        assert "deploying release 1 to eu" in home.show("jobs/deploy/log.txt")
        assert "smoke test after deploy" in home.show("jobs/smoke/log.txt")
        assert "shipit tests of 1.0 ran" in home.show("jobs/shipit_runCI/log.txt")
        # shipit_ciRepo versions on shipit's own commit, from its local copy
        assert first in home.show("resources/shipit_ciRepo/version.yml")
        assert api.wait(2)[:2] and [(p.repo, p.sha, p.body["state"]) for p in api.posted] == [
            ("acme/shipit", first, "pending"), ("acme/shipit", first, "success")]
        assert api.posted[1].body == {
            "state": "success", "context": "gitline/shipit_runCI",
            "description": "Gitline: shipit_runCI run 1 succeeded",
            "target_url": f"{WEB}/jobs/shipit_runCI/runs/1"}

        home.wait_idle(timeout=30)
        st = home.status()
        assert errors(st["config"]["problems"]) == [], st["config"]["problems"]
        assert set(st["config"]["sources"]) == {"shipit", "infra"}
        text = gitline("status", home.path).stdout
        assert "CI succeeded: 2 passed, 0 failed, 1 skipped" in text, text

        # a push to shipit's upstream: its CI, then deploy and smoke, statuses on the commit
        second = push_files(upstream, dev, {"version.txt": "1.1\n"}, "1.1")
        assert home.wait_runs("shipit_runCI", 2, timeout=60)[-1] == "run 2 succeeded"
        assert "shipit tests of 1.1 ran" in home.show("jobs/shipit_runCI/log.txt")
        assert home.wait_runs("deploy", 2, timeout=60)[-1] == "run 2 succeeded"
        assert home.wait_runs("smoke", 2, timeout=60)[-1] == "run 2 succeeded"
        api.wait(4)
        assert [(p.sha, p.body["state"]) for p in api.posted[2:]] == [
            (second, "pending"), (second, "success")]

        # a push to infra (served, by path): deploy with the new region, then smoke; no CI
        commit_push(infra, {"shippable.yml": INFRA.format(region="us")}, "us")
        assert home.wait_runs("deploy", 3, timeout=60)[-1] == "run 3 succeeded"
        assert "deploying release 1 to us" in home.show("jobs/deploy/log.txt")
        assert home.wait_runs("smoke", 3, timeout=60)[-1] == "run 3 succeeded"

        # a push to config.git: deploy and smoke again, shipit's CI not
        home.write("shippable.yml", CONFIG.format(release="2"))
        home.push("release 2")
        assert home.wait_runs("deploy", 4, timeout=60)[-1] == "run 4 succeeded"
        assert "deploying release 2 to us" in home.show("jobs/deploy/log.txt")
        home.wait_runs("smoke", 4, timeout=60)
        home.wait_idle(timeout=30)
        assert home.runs("shipit_runCI") == ["run 1 succeeded", "run 2 succeeded"]
        assert len(api.posted) == 4 and api.refused == []
        wait_for(lambda: "commit status shipit_ciRepo" in home.show(
            "notifications/shipit_runCI.yml"), 30, "the statuses recorded")
        record = home.show("notifications/shipit_runCI.yml")
        assert second in record and "status: delivered" in record
        home.stop()
    for text in (state_blobs(home.repo), home.server_log()):
        assert TOKEN not in text


GL_TOKEN = "glpat-whole-subscription-0b7e"


def test_a_served_source_and_config_git_post_their_ci_statuses_where_gitline_yml_says(
        home: Home, tmp_path: Path) -> None:
    """`commit_status: {integration, repo}` for config.git and for a source made with
    `gitline repo add` (GitLab's API here): each one's runCI posts on its own commits."""
    with StatusApi("gitlab", GL_TOKEN) as api:
        gitline("repo", "add", home.path, "tool")
        settings = home.path / "gitline.yml"
        settings.write_text(settings.read_text().replace(
            "tool: {}", "tool: {commit_status: {integration: gl, repo: acme/libs/tool}}")
            + "commit_status: {integration: gl, repo: acme/shop}\n")
        listed = gitline("repo", "list", home.path).stdout
        assert "statuses to acme/libs/tool (gl)" in listed, listed
        (home.path / "secrets.yml").write_text(
            f"gl: {{token: {GL_TOKEN}, apiUrl: '{api.base}', "
            "resources: [tool_ciRepo, config_ciRepo]}\n")
        (home.path / "secrets.yml").chmod(0o600)
        home.start("--poll", "300")
        tool = tmp_path / "tool"
        run("git", "clone", "-q", home.path / "repos" / "tool.git", tool)
        failing = commit_push(tool, {"shippable.yml": "build:\n  ci: ['test -f ok']\n"},
                              "tool CI, failing")
        home.write("shippable.yml", "build:\n  ci: [echo main CI]\n")
        main_sha = home.push("config.git's CI")
        assert home.wait_runs("tool_runCI", 1, timeout=60)[-1].startswith("run 1 failed")
        assert home.wait_runs("config_runCI", 1, timeout=60) == ["run 1 succeeded"]
        passing = commit_push(tool, {"ok": "yes\n"}, "tool CI, passing")
        assert home.wait_runs("tool_runCI", 2, timeout=60)[-1] == "run 2 succeeded"
        api.wait(6)
        home.wait_idle(timeout=30)
        home.stop()
    assert api.refused == []
    on = {repo: [(p.sha, p.body["state"]) for p in api.posted if p.repo == repo]
          for repo in ("acme/libs/tool", "acme/shop")}
    assert on["acme/libs/tool"] == [(failing, "running"), (failing, "failed"),
                                    (passing, "running"), (passing, "success")]
    assert on["acme/shop"] == [(main_sha, "running"), (main_sha, "success")]
    assert api.posted[-1].body["name"] == "gitline/tool_runCI"
