"""`gitline validate A B C` and `gitline graph A B C` (issue #14): several folders are one
subscription, each folder a source named after it, the first the main one; problems name
their source (`shipit:shippable.yml:L:C`), names resolve across sources, and a name defined
in two sources is an error at both places."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from controller.core import loader
from tests.harness.commands import gitline
from tests.harness.corpus import SHIPPABLE

REPOS = SHIPPABLE / "repos"

MAIN = """\
jobs:
  - name: deploy
    type: runSh
    steps:
      - IN: build
      - IN: shipit_repo
      - TASK:
          script: [echo]
"""
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
          script: [echo]
"""


def folders(tmp_path: Path, **texts: str) -> list[Path]:
    out = []
    for name, text in texts.items():
        (tmp_path / name).mkdir()
        (tmp_path / name / "shippable.yml").write_text(text)
        out.append(tmp_path / name)
    return out


def test_folders_load_as_one_subscription_with_names_across_them(tmp_path):
    main, shipit = folders(tmp_path, app=MAIN, shipit=SHIPIT)
    alone = gitline("validate", main, check=False)
    assert alone.returncode == 1 and "unresolved input 'build'" in alone.stdout
    both = gitline("validate", main, shipit, "--json")
    report = json.loads(both.stdout)
    assert report["errors"] == 0, report["problems"]
    assert [s["source"] for s in report["sources"]] == ["app", "shipit"]
    assert f"{main}/shippable.yml" in report["files"] and "shipit:shippable.yml" in report["files"]


def test_a_gitrepo_on_a_source_tracks_it_without_a_remote():
    wf = loader.load_workflow([("shippable.yml", MAIN), ("shipit:shippable.yml", SHIPIT)],
                              sources=frozenset({"shipit"}))
    res = wf.resources["shipit_repo"]
    assert res.tracks_source == "shipit" and res.tracks_path == ""
    assert not wf.errors


def test_a_problem_names_its_source_file_line_and_column(tmp_path):
    main, shipit = folders(tmp_path, app=MAIN, shipit=SHIPIT + "  - name: [\n")
    done = gitline("validate", main, shipit, check=False)
    assert done.returncode == 1
    assert "shipit:shippable.yml:14:1: error: YAML does not parse" in done.stdout


def test_a_name_defined_in_two_sources_is_an_error_at_both_places(tmp_path):
    twice = SHIPIT.replace("shipit_repo", "other_repo").replace("sourceName: shipit",
                                                                "sourceName: infra")
    main, shipit, infra = folders(tmp_path, app=MAIN, shipit=SHIPIT, infra=twice)
    done = gitline("validate", main, shipit, infra, check=False)
    assert done.returncode == 1
    lines = [ln for ln in done.stdout.splitlines() if "duplicate name 'build'" in ln]
    assert len(lines) == 2, done.stdout
    assert any(ln.startswith("infra:shippable.yml:7:5: error") for ln in lines)
    assert any(ln.startswith("shipit:shippable.yml:7:5: error") for ln in lines)


def test_a_name_defined_twice_in_one_source_is_said_once_as_before():
    text = SHIPIT + SHIPIT.split("jobs:\n", 1)[1]
    wf = loader.load_workflow([("shippable.yml", text)])
    assert sum("duplicate name 'build'" in p.message for p in wf.problems) == 1


def test_folders_with_the_same_source_name_are_refused(tmp_path):
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    one, = folders(tmp_path / "a", shipit=SHIPIT)
    two, = folders(tmp_path / "b", shipit=SHIPIT)
    done = gitline("validate", one, two, check=False)
    assert done.returncode == 1 and "both source shipit" in done.stderr


def test_graph_of_several_folders_names_the_sources(tmp_path):
    main, shipit = folders(tmp_path, app=MAIN, shipit=SHIPIT)
    drawn = gitline("graph", main, shipit).stdout
    assert f"// source shipit: {shipit}" in drawn and "build" in drawn


@pytest.mark.skipif(not REPOS.is_dir(), reason="no corpus beside this checkout (../shared)")
def test_corpus_repositories_of_one_owner_resolve_each_others_names():
    flavors, waffle = REPOS / "SoftSrv__flavors", REPOS / "SoftSrv__waffle-cone"

    def unresolved(*paths: Path) -> list[str]:
        report = json.loads(gitline("validate", *paths, "--json", check=False).stdout)
        return [p["message"] for p in report["problems"] if "unresolved" in p["message"]]

    alone = unresolved(flavors) + unresolved(waffle)
    both = unresolved(flavors, waffle)
    # waffle-cone's pack takes minecraft_img_1.12.2, made by flavors' CI job
    assert any("'minecraft_img_1.12.2' of job 'pack'" in m for m in alone)
    assert not any("'minecraft_img_1.12.2' of job 'pack'" in m for m in both)
    assert len(both) < len(alone)
