"""init_home: the bare repository, the hook that guards the state branch, the settings."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from ruamel.yaml import YAML

from controller.store.repoinit import init_home


def clone_and_commit(git, repo: Path, work: Path, name: str = "pipeline.yml") -> None:
    git("clone", "-q", str(repo), str(work))
    (work / name).write_text("resources: []\n")
    git("add", name, cwd=work)
    git("commit", "-qm", f"add {name}", cwd=work)


def test_init_home_layout(tmp_path: Path, git) -> None:
    home = tmp_path / "home"
    repo = init_home(home)
    assert repo == home / "config.git"
    assert git.out("rev-parse", "--is-bare-repository", cwd=repo) == "true"
    assert git.out("symbolic-ref", "HEAD", cwd=repo) == "refs/heads/main"
    assert git.out("config", "gc.auto", cwd=repo) == "0"
    assert git.out("config", "receive.denyNonFastForwards", cwd=repo) == "false"
    hook = repo / "hooks" / "pre-receive"
    assert os.access(hook, os.X_OK)
    assert hook.read_text().startswith("#!/bin/sh\n")
    settings = YAML(typ="safe", pure=True).load((home / "gitline.yml").read_text())
    assert settings == {
        "branch": "main",
        "state_branch": "state",
        "workers": 4,
        "poll_seconds": 10,
        "listen": "127.0.0.1:8080",
    }


def test_push_to_main_works_and_push_to_state_is_refused(tmp_home: Path, git, tmp_path) -> None:
    repo = tmp_home / "config.git"
    work = tmp_path / "work"
    clone_and_commit(git, repo, work)
    git("push", "-q", "origin", "HEAD:main", cwd=work)
    assert git.out("rev-parse", "main", cwd=repo) == git.out("rev-parse", "HEAD", cwd=work)

    refused = git("push", "origin", "HEAD:state", cwd=work, check=False)
    assert refused.returncode != 0
    assert (
        "gitline: refs/heads/state is written only by the controller; push to main instead"
        in refused.stderr
    )
    assert git("rev-parse", "--verify", "-q", "state", cwd=repo, check=False).returncode != 0


def test_refused_state_update_blocks_the_whole_push(tmp_home: Path, git, tmp_path) -> None:
    repo = tmp_home / "config.git"
    work = tmp_path / "work"
    clone_and_commit(git, repo, work)
    refused = git("push", "origin", "HEAD:main", "HEAD:state", cwd=work, check=False)
    assert refused.returncode != 0
    assert "written only by the controller" in refused.stderr


def test_init_is_idempotent_and_keeps_settings_and_history(tmp_path: Path, git) -> None:
    home = tmp_path / "home"
    repo = init_home(home)
    (home / "gitline.yml").write_text("workers: 9\n")
    work = tmp_path / "work"
    clone_and_commit(git, repo, work)
    git("push", "-q", "origin", "HEAD:main", cwd=work)
    head = git.out("rev-parse", "main", cwd=repo)

    assert init_home(home) == repo
    assert (home / "gitline.yml").read_text() == "workers: 9\n"
    assert git.out("rev-parse", "main", cwd=repo) == head
    assert os.access(repo / "hooks" / "pre-receive", os.X_OK)


def test_custom_branches(tmp_path: Path, git) -> None:
    home = tmp_path / "home"
    repo = init_home(home, branch="trunk", state_branch="gitline-state")
    assert git.out("symbolic-ref", "HEAD", cwd=repo) == "refs/heads/trunk"
    work = tmp_path / "work"
    clone_and_commit(git, repo, work)
    git("push", "-q", "origin", "HEAD:trunk", cwd=work)
    other = git("push", "origin", "HEAD:state", cwd=work, check=False)  # not the state here
    assert other.returncode != 0  # but only the config branch takes pushes (issue #9)
    assert "only trunk takes pushes" in other.stderr
    refused = git("push", "origin", "HEAD:gitline-state", cwd=work, check=False)
    assert refused.returncode != 0
    assert (
        "gitline: refs/heads/gitline-state is written only by the controller; "
        "push to trunk instead" in refused.stderr
    )


@pytest.mark.parametrize(("branch", "state"), [("main", "main"), ("../x", "state"), ("m", "a b")])
def test_bad_branch_names_are_refused(tmp_path: Path, branch: str, state: str) -> None:
    with pytest.raises(ValueError):
        init_home(tmp_path / "home", branch=branch, state_branch=state)
