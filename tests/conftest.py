"""Shared fixtures: the real git client with a fixed identity, and a fresh Gitline HOME.

`git(*args, cwd=...)` runs git with GIT_AUTHOR_*/GIT_COMMITTER_* fixed and no user or
system config, so tests see the same behaviour everywhere. `tmp_home` is an initialised
HOME (config.git with its pre-receive hook, gitline.yml); `GITLINE_HOME` points at it.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

# The suite follows local repositories (gitRepo `url:` and `upstream` paths) throughout;
# tests of the default (refused) unset this for their controller.
os.environ.setdefault("GITLINE_ALLOW_LOCAL_REPOS", "1")

AUTHOR_NAME = "Ada Lovelace"
AUTHOR_EMAIL = "ada@example.com"


class Git:
    """Runs the real git client; returns the CompletedProcess (text mode)."""

    def __init__(self, env: dict[str, str], cwd: Path) -> None:
        self.env = env
        self.cwd = cwd

    def __call__(
        self,
        *args: str,
        cwd: Path | str | None = None,
        check: bool = True,
        input: str | None = None,
    ) -> subprocess.CompletedProcess[str]:
        result = subprocess.run(
            ["git", *args],
            cwd=str(cwd or self.cwd),
            env=self.env,
            input=input,
            capture_output=True,
            text=True,
        )
        if check and result.returncode != 0:
            raise AssertionError(
                f"git {' '.join(args)} failed ({result.returncode}):\n"
                f"{result.stdout}\n{result.stderr}"
            )
        return result

    def out(self, *args: str, cwd: Path | str | None = None) -> str:
        """stdout of a git command that must succeed, stripped."""
        return self(*args, cwd=cwd).stdout.strip()


@pytest.fixture
def git_env(tmp_path: Path) -> dict[str, str]:
    user_home = tmp_path / "user"
    user_home.mkdir(exist_ok=True)
    env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}
    env.update(
        HOME=str(user_home),
        GIT_CONFIG_NOSYSTEM="1",
        GIT_CONFIG_GLOBAL=os.devnull,
        GIT_AUTHOR_NAME=AUTHOR_NAME,
        GIT_AUTHOR_EMAIL=AUTHOR_EMAIL,
        GIT_COMMITTER_NAME=AUTHOR_NAME,
        GIT_COMMITTER_EMAIL=AUTHOR_EMAIL,
        GIT_TERMINAL_PROMPT="0",
    )
    return env


@pytest.fixture
def git(git_env: dict[str, str], tmp_path: Path) -> Git:
    return Git(git_env, tmp_path)


@pytest.fixture
def tmp_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """An initialised Gitline HOME (HOME/config.git, HOME/gitline.yml)."""
    from controller.store.repoinit import init_home

    home = tmp_path / "home"
    init_home(home)
    monkeypatch.setenv("GITLINE_HOME", str(home))
    yield home
