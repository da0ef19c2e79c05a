"""The sample assembly line of the quick start, pushed and run as a user would."""

from __future__ import annotations

import shutil
from pathlib import Path

from tests.harness.commands import gitline, run
from tests.harness.wait import wait_for

SAMPLE = Path(__file__).resolve().parents[2] / "sample-repo"


def test_sample_repo_builds_tests_deploys_staging_then_prod_on_trigger(home):
    shutil.copytree(SAMPLE, home.work, dirs_exist_ok=True)
    home.start()
    home.push("sample line")
    assert home.wait_runs("deploy_staging", 1, timeout=60) == ["run 1 succeeded"]
    home.wait_idle()
    assert home.runs("build_app") == ["run 1 succeeded"]
    assert home.runs("test_app") == ["run 1 succeeded"]
    assert home.runs("deploy_prod") == []
    def site(env: str, name: str) -> str:  # what was deployed: files of a state version
        return home.show(f"resources/{env}_site/files/{name}")

    assert site("staging", "greeting.txt") == "Hello from staging\n"
    assert site("staging", "BUILD") == "1.0-1\n"
    assert "staging_site: version 1 (1.0-1) from deploy_staging run 1" in home.subjects()
    assert "PASS: hello, gitline" in gitline("logs", home.path, "test_app").stdout
    assert "not running: no triggering input" in gitline("status", home.path).stdout

    home.write("triggers/deploy_prod", "REASON: first release\n")
    home.push("release to prod")
    wait_for(lambda: "deploy_prod: run 1 pending approval" in home.subjects(), what="gate")
    assert "resources/prod_site" not in home.git("log", "--name-only", "--format=", "state")
    # no approvers listed: any authenticated user may approve, e.g. this unix user
    gitline("approve", home.path, "deploy_prod", "-m", "staging looks good")
    wait_for(lambda: "approvals" in home.git("ls-tree", "--name-only", "main"), what="approval")
    run("git", "pull", "-q", "--rebase", "origin", "main", cwd=home.work)  # the controller's
    assert home.wait_runs("deploy_prod", 1) == ["run 1 succeeded"]
    assert site("prod", "greeting.txt") == "Hello from production\n"
    assert "prod_site: version 1 (1.0-1) from deploy_prod run 1" in home.subjects()
    history = home.show("resources/deploy_history/files/deploys.log").splitlines()
    assert [line.split()[1:] for line in history] == [
        ["staging", "1.0-1", "run", "1"],
        ["prod", "1.0-1", "run", "1", "first", "release"],
    ]

    # a source change rebuilds and redeploys staging, never prod
    home.write("app/VERSION", "1.1\n")
    home.push("bump to 1.1")
    home.wait_runs("deploy_staging", 2, timeout=60)
    home.wait_idle()
    assert site("staging", "BUILD") == "1.1-2\n"
    assert site("prod", "BUILD") == "1.0-1\n"
    assert home.runs("deploy_prod") == ["run 1 succeeded"]

    # a params change redeploys staging only
    text = (home.work / "shippable.yml").read_text()
    home.write("shippable.yml", text.replace('"Hello from staging"', '"Hi from staging"'))
    home.push("friendlier staging")
    home.wait_runs("deploy_staging", 3, timeout=60)
    home.wait_idle()
    assert len(home.runs("build_app")) == 2
    assert site("staging", "greeting.txt") == "Hi from staging\n"
