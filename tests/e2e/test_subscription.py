"""A subscription of three repositories (issue #14): HOME/config.git and two made with
`gitline repo add` (one before `gitline serve`, one while it runs), with inputs across
them, loads as one workflow and a real `git push` to any of them reconciles at once,
against a real `gitline serve` (HTTP and by path).

The controller polls only every 300 s here: what happens within seconds of a push was
noticed by the watcher of that repository (or the HTTP server's post-receive)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from ruamel.yaml import YAML

from tests.harness.commands import gitline
from tests.harness.home import Home
from tests.harness.http import serve_base, token, url
from tests.harness.identity import git
from tests.harness.wait import wait_for
from tests.harness.web import WebClient

# config.git: the job that deploys, taking a job of shipit and a resource of infra
MAIN = """\
jobs:
  - name: deploy
    type: runSh
    steps:
      - IN: build
      - IN: infra_params
      - TASK:
          script:
            - echo "deploying to $REGION"
"""

# shipit: its own repository as a gitRepo (versions on its commits, no network) and a build
SHIPIT = """\
resources:
  - name: shipit_repo
    type: gitRepo
    pointer:
      sourceName: shipit
jobs:
  - name: build
    type: runSh
    steps:
      - IN: shipit_repo
      - TASK:
          script:
            - echo "building $(cat $SHIPIT_REPO_STATE/version.txt)"
"""

INFRA = """\
resources:
  - name: infra_params
    type: params
    versionTemplate:
      params: {{REGION: {region}}}
"""


def commit_push(work: Path, files: dict[str, str], message: str, check: bool = True):
    for rel, text in files.items():
        (work / rel).parent.mkdir(parents=True, exist_ok=True)
        (work / rel).write_text(text)
    git("add", "-A", cwd=work)
    git("commit", "-q", "-m", message, cwd=work)
    return git("push", "origin", "HEAD:main", cwd=work, check=check)


def status(home: Home) -> dict:
    return json.loads(gitline("status", home.path, "--json").stdout)


@pytest.fixture
def three(home: Home, tmp_path: Path):
    """config.git and shipit over HTTP (alice's token), infra by path; nothing pushed."""
    gitline("repo", "add", home.path, "shipit")
    alice = token(home, "alice")
    base = serve_base(home, "--poll", "300")
    # added while the controller runs: taken in at once, no restart
    added = gitline("repo", "add", home.path, "infra").stdout
    assert "The running controller serves it" in added
    works = {}
    for name, remote in (("config", url(base, "alice", alice)),
                         ("shipit", url(base, "alice", alice).replace(
                             "/config.git", "/repos/shipit.git")),
                         ("infra", str(home.path / "repos" / "infra.git"))):
        works[name] = tmp_path / f"w-{name}"
        git("clone", "-q", remote, works[name])
    return works


def test_three_repositories_load_as_one_workflow_and_each_push_reconciles(home, three):
    commit_push(three["infra"], {"shippable.yml": INFRA.format(region="eu")}, "infra")
    commit_push(three["shipit"], {"shippable.yml": SHIPIT, "version.txt": "1.0"}, "shipit")
    commit_push(three["config"], {"shippable.yml": MAIN}, "main")
    # shipit's push versioned shipit_repo on its own commit: build, then deploy, ran
    assert home.wait_runs("build", 1, timeout=60) == ["run 1 succeeded"]
    assert home.wait_runs("deploy", 1, timeout=60) == ["run 1 succeeded"]
    assert "deploying to eu" in home.show("jobs/deploy/log.txt")
    assert "building 1.0" in home.show("jobs/build/log.txt")
    st = status(home)
    assert not [p for p in st["config"]["problems"] if "error" in json.dumps(p)]
    shipit_head = git("rev-parse", "HEAD", cwd=three["shipit"]).stdout.strip()
    assert st["config"]["sources"]["shipit"] == shipit_head
    record = YAML(typ="safe", pure=True).load(home.show("controller/config.yml"))
    assert record["sources"]["shipit"] == {"processed": shipit_head, "good": shipit_head}
    assert set(record["sources"]) == {"shipit", "infra"}
    assert "sources:" in gitline("status", home.path).stdout
    origin = git("remote", "get-url", "origin", cwd=three["config"]).stdout.strip()
    tok, host = origin.split(":", 2)[2].split("@", 1)
    web = WebClient("http://" + host.split("/")[0])
    web.sign_in(tok)
    page = web.get("/config").body
    assert 'id="sources"' in page and shipit_head in page

    # a push to shipit (over HTTP) alone: a new shipit_repo version, build and deploy again
    commit_push(three["shipit"], {"version.txt": "1.1"}, "1.1")
    assert home.wait_runs("build", 2, timeout=30) == ["run 1 succeeded", "run 2 succeeded"]
    assert "building 1.1" in home.show("jobs/build/log.txt")
    home.wait_runs("deploy", 2, timeout=30)
    version = home.show("resources/shipit_repo/version.yml")
    assert git("rev-parse", "HEAD", cwd=three["shipit"]).stdout.strip() in version

    # a push to infra (by path, noticed by its watcher): deploy again, with the new value
    commit_push(three["infra"], {"shippable.yml": INFRA.format(region="us")}, "us")
    home.wait_runs("deploy", 3, timeout=30)
    assert "deploying to us" in home.show("jobs/deploy/log.txt")

    # a broken push to shipit names source:file:line; the last good workflow of all runs on
    commit_push(three["shipit"], {"shippable.yml": SHIPIT + "  - name: [\n"}, "broken")
    wait_for(lambda: any(str(p).startswith("shipit:shippable.yml:")
                         for p in status(home)["config"]["problems"]), 30, "the problem")
    commit_push(three["infra"], {"shippable.yml": INFRA.format(region="ap")}, "ap")
    home.wait_runs("deploy", 4, timeout=30)
    assert "deploying to ap" in home.show("jobs/deploy/log.txt")
    assert "build" in status(home)["jobs"]  # still the workflow of all three

    # a restarted controller runs the same workflow of all three (shipit at its last good)
    home.stop()
    home.start("--poll", "300")
    commit_push(three["infra"], {"shippable.yml": INFRA.format(region="sa")}, "sa")
    home.wait_runs("deploy", 5, timeout=60)
    assert "deploying to sa" in home.show("jobs/deploy/log.txt")
    assert home.runs("build")[-1] == "run 2 succeeded"


def test_a_push_to_a_source_cannot_trigger_or_approve(home, three):
    commit_push(three["infra"], {"shippable.yml": INFRA.format(region="eu")}, "infra")
    commit_push(three["shipit"], {"shippable.yml": SHIPIT, "version.txt": "1"}, "shipit")
    commit_push(three["config"], {"shippable.yml": MAIN}, "main")
    home.wait_runs("deploy", 1, timeout=60)
    home.wait_idle()
    # infra's definitions do not change: nothing but a honoured trigger file could run deploy
    commit_push(three["infra"], {"triggers/deploy.yml": "REASON: sneaky\n",
                                 "approvals/deploy.yml": "approve: true\n"}, "trigger?")
    infra_head = git("rev-parse", "HEAD", cwd=three["infra"]).stdout.strip()
    wait_for(lambda: status(home)["config"]["sources"].get("infra") == infra_head, 30,
             "infra's push processed")
    home.wait_idle()
    assert home.runs("deploy") == ["run 1 succeeded"]
    # the same file in config.git is honoured
    commit_push(three["config"], {"triggers/deploy.yml": "REASON: real\n"}, "trigger")
    assert home.wait_runs("deploy", 2, timeout=30)[-1] == "run 2 succeeded"


def test_source_pushes_may_update_the_branch_only_and_need_a_token(home, three):
    commit_push(three["shipit"], {"shippable.yml": SHIPIT}, "shipit")
    commit_push(three["infra"], {"shippable.yml": INFRA.format(region="eu")}, "infra")
    refused = git("push", "origin", "HEAD:state", cwd=three["shipit"], check=False)
    assert refused.returncode != 0 and "remote rejected" in refused.stderr
    for work in (three["shipit"], three["infra"]):  # over HTTP, and by path (its hook)
        refused = git("push", "origin", "HEAD:other", cwd=work, check=False)
        assert refused.returncode != 0 and "only main takes pushes" in refused.stderr
    shipit = git("remote", "get-url", "origin", cwd=three["shipit"]).stdout.strip()
    base = shipit.split("@", 1)[1].split("/", 1)[0]
    anonymous = git("ls-remote", f"http://{base}/repos/shipit.git", check=False)
    assert anonymous.returncode != 0
    found = git("ls-remote", shipit.replace("repos/shipit.git", "repos/nope.git"), check=False)
    assert found.returncode != 0


def test_a_push_to_a_source_is_answered_with_the_subscription_s_plan(home, three):
    """As a push to config.git is: the pusher sees what the push does to the whole
    workflow, and a broken file by source:file:line (by path through the hook and
    HOME/answers.sock, and over HTTP); with reject_invalid the broken push is refused."""
    commit_push(three["infra"], {"shippable.yml": INFRA.format(region="eu")}, "infra")
    commit_push(three["shipit"], {"shippable.yml": SHIPIT, "version.txt": "1"}, "shipit")
    commit_push(three["config"], {"shippable.yml": MAIN}, "main")
    home.wait_runs("deploy", 1, timeout=60)
    home.wait_idle()
    # by path: infra's new value is a new version, and deploy will run
    said = commit_push(three["infra"], {"shippable.yml": INFRA.format(region="us")}, "us")
    assert "infra_params: version 2" in said.stderr and "deploy" in said.stderr, said.stderr
    home.wait_runs("deploy", 2, timeout=30)
    home.wait_idle()
    # over HTTP: shipit's new commit versions shipit_repo; build then deploy will run
    said = commit_push(three["shipit"], {"version.txt": "2"}, "2")
    assert "shipit_repo: version 2" in said.stderr and "build" in said.stderr, said.stderr
    home.wait_runs("deploy", 3, timeout=30)
    home.wait_idle()
    # broken, by path and over HTTP: named at push time; accepted (reject_invalid off)
    for name in ("infra", "shipit"):
        said = commit_push(three[name], {"shippable.yml": "resources: [\n"}, "broken")
        assert f"{name}:shippable.yml:" in said.stderr and "error" in said.stderr, said.stderr
        git("reset", "-q", "--hard", "HEAD~1", cwd=three[name])
        git("push", "-q", "-f", "origin", "HEAD:main", cwd=three[name])
    # with reject_invalid: true the broken push is refused and the branch stays
    with (home.path / "gitline.yml").open("a") as f:
        f.write("reject_invalid: true\n")
    for name in ("infra", "shipit"):
        before = git("ls-remote", "origin", "main", cwd=three[name]).stdout.split()[0]
        said = commit_push(three[name], {"shippable.yml": "resources: [\n"}, "broken",
                           check=False)
        assert said.returncode != 0 and f"{name}:shippable.yml:" in said.stderr, said.stderr
        assert git("ls-remote", "origin", "main", cwd=three[name]).stdout.split()[0] == before
