"""`commit_status:` in gitline.yml (issue #14): where the `<repo>_runCI` of a repository of
the subscription posts its statuses, and which of a run's inputs owe one."""

from __future__ import annotations

import pytest

from controller.core import commitstatus as cs
from controller.core import loader, subscription
from controller.core.subscription import SourceSpec, StatusTarget
from controller.settings import Settings, SettingsError
from controller.store.repoinit import init_home
from tests.harness.commands import gitline, run

SHA = "c" * 40
SECTION = "build:\n  ci: [echo]\n"
OTHER = """\
resources:
  - name: shipit_repo
    type: gitRepo
    pointer: {sourceName: shipit}
jobs:
  - name: after
    type: runSh
    steps:
      - IN: shipit_runCI
      - IN: shipit_repo
      - TASK: {script: [echo]}
"""
AFTER = """\
jobs:
  - name: after
    type: runSh
    steps:
      - IN: shipit_runCI
      - TASK: {script: [echo]}
"""


def workflow():
    return loader.load_workflow([("shippable.yml", SECTION), ("shipit:shippable.yml", SECTION),
                                 ("shipit:more.shippable.yml", OTHER)],
                                sources=frozenset({"shipit"}))


def test_commit_status_reads_a_name_or_a_mapping_and_says_what_is_wrong():
    specs = subscription.parse_sources({
        "infra": {"upstream": "git://h/acme/infra.git", "commit_status": "gh"},
        "shipit": {"commit_status": {"integration": "gl", "repo": "acme/libs/shipit"}}})
    assert [s.commit_status for s in specs] == [StatusTarget("gh"),
                                                StatusTarget("gl", "acme/libs/shipit")]
    with pytest.raises(ValueError, match="a served source needs 'repo:'"):
        subscription.parse_sources({"shipit": {"commit_status": "gh"}})
    with pytest.raises(ValueError, match="unknown key 'token'"):
        subscription.parse_sources({"shipit": {"commit_status": {"integration": "gh",
                                                                 "token": "x"}}})
    with pytest.raises(ValueError, match="'integration:'"):
        subscription.parse_sources({"shipit": {"commit_status": {"repo": "a/b"}}})


def test_a_followed_repository_posts_to_its_upstream_unless_repo_says_otherwise():
    specs = (SourceSpec("infra", "git://h/acme/infra.git", commit_status=StatusTarget("gh")),
             SourceSpec("shipit", commit_status=StatusTarget("gh", "acme/shipit")),
             SourceSpec("quiet"))
    assert subscription.status_targets(StatusTarget("gh"), specs, "https://h/acme/main.git") == {
        "": StatusTarget("gh", "https://h/acme/main.git"),
        "infra": StatusTarget("gh", "git://h/acme/infra.git"),
        "shipit": StatusTarget("gh", "acme/shipit")}
    assert subscription.status_targets(None, specs) == {
        "infra": StatusTarget("gh", "git://h/acme/infra.git"),
        "shipit": StatusTarget("gh", "acme/shipit")}


def test_gitline_yml_commit_status_of_the_main_repository(tmp_path):
    init_home(tmp_path)
    settings = tmp_path / "gitline.yml"
    base = settings.read_text()
    settings.write_text(base + "commit_status: {integration: gh, repo: acme/shop}\n")
    assert Settings.load(tmp_path).commit_status == StatusTarget("gh", "acme/shop")
    settings.write_text(base + "commit_status: gh\n")
    with pytest.raises(SettingsError, match="setting commit_status: 'repo:' is needed"):
        Settings.load(tmp_path)
    settings.write_text(base + "commit_status: gh\nupstream: https://h/acme/shop.git\n")
    assert Settings.load(tmp_path).commit_status == StatusTarget("gh")


def test_only_the_ci_checkout_of_a_repository_with_commit_status_owes_one():
    wf = workflow()
    commits = {"shipit_ciRepo": SHA, "config_ciRepo": SHA, "shipit_repo": SHA}
    owed = cs.owed(wf, wf.jobs["shipit_runCI"], 1, "started", commits, {"shipit"})
    assert [(o.resource, o.job) for o in owed] == [("shipit_ciRepo", "shipit_runCI")]
    assert cs.owed(wf, wf.jobs["config_runCI"], 1, "started", commits, {"shipit"}) == []
    assert [o.resource for o in cs.owed(wf, wf.jobs["config_runCI"], 1, "started", commits,
                                        {""})] == ["config_ciRepo"]
    # another job on the same source owes nothing unless it asks (showBuildStatus)
    assert cs.owed(wf, wf.jobs["after"], 1, "started", commits, {"shipit", ""}) == []
    assert cs.owed(wf, wf.jobs["shipit_runCI"], 1, "started", commits) == []


def test_a_repository_of_the_subscription_is_on_its_host_through_commit_status():
    wf = workflow()
    res = wf.resources["shipit_ciRepo"]
    assert cs.on_host(res, "https://git.example.com", StatusTarget("gh", "acme/shipit")) == (
        "https://git.example.com/acme/shipit.git", "acme/shipit")
    assert cs.on_host(res, "", StatusTarget("gh", "git://127.0.0.1:9/acme/libs/ship.git")) \
        == ("git://127.0.0.1:9/acme/libs/ship.git", "acme/libs/ship")
    assert cs.on_host(res, "", StatusTarget("gh", "acme/shipit"))[0] == \
        "https://github.com/acme/shipit.git"
    with pytest.raises(cs.StatusError, match="set commit_status"):
        cs.on_host(res, "", None)
    with pytest.raises(cs.StatusError, match="owner/repo"):
        cs.on_host(res, "", StatusTarget("gh", "https://h/justone.git"))


def test_a_push_answer_counts_a_sources_new_commit(tmp_path):
    """config.git's push says what the same pass does with a source pushed before it: a new
    `shipit_ciRepo` version and `shipit_runCI` (no controller runs: the hook answers)."""
    home = tmp_path / "home"
    init_home(home)
    gitline("repo", "add", home, "shipit")
    for repo, text in (("repos/shipit.git", SECTION), ("config.git", AFTER)):
        work = tmp_path / repo.replace("/", "-")
        run("git", "clone", "-q", home / repo, work)
        (work / "shippable.yml").write_text(text)
        run("git", "add", "-A", cwd=work)
        run("git", "commit", "-q", "-m", "add", cwd=work)
        pushed = run("git", "push", "origin", "HEAD:main", cwd=work)
    assert "shipit_ciRepo: version 1 (first version)" in pushed.stderr, pushed.stderr
    assert "shipit_runCI: shipit_ciRepo changed" in pushed.stderr
    assert "after: after shipit_runCI" in pushed.stderr


def test_repo_list_says_where_statuses_go(tmp_path):
    init_home(tmp_path)
    gitline("repo", "add", tmp_path, "shipit")
    with (tmp_path / "gitline.yml").open("a") as f:
        f.write("commit_status: {integration: gh, repo: acme/shop}\n")
    listed = gitline("repo", "list", tmp_path).stdout.splitlines()
    assert listed[0].endswith("\tstatuses to acme/shop (gh)")
    assert listed[1].startswith("shipit\tserved\t") and "statuses" not in listed[1]
