"""The suite's fixtures, on the one harness (tests/harness).

`git(*args, cwd=...)` runs git with the fixed identity and no user or system config, so
tests see the same behaviour everywhere. `tmp_home` is an initialised HOME (config.git
with its pre-receive hook, gitline.yml) that GITLINE_HOME points at; `home` is a HOME
with a user's clone, whose controller a test starts as a subprocess (`home.start()`).
"""

from __future__ import annotations

import os
import signal
from collections.abc import Iterator
from pathlib import Path

import pytest

# assertions in the harness explain themselves as well as the tests' own
pytest.register_assert_rewrite("tests.harness")

from tests.harness.commands import Git, isolated_git_env  # noqa: E402
from tests.harness.home import Home, make_home  # noqa: E402

# The suite follows local repositories (gitRepo `url:` and `upstream` paths) throughout;
# tests of the default (refused) unset this for their controller.
os.environ.setdefault("GITLINE_ALLOW_LOCAL_REPOS", "1")


@pytest.fixture
def git_env(tmp_path: Path) -> dict[str, str]:
    user_home = tmp_path / "user"
    user_home.mkdir(exist_ok=True)
    return isolated_git_env(user_home)


@pytest.fixture
def git(git_env: dict[str, str], tmp_path: Path) -> Git:
    return Git(git_env, tmp_path)


@pytest.fixture
def tmp_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """An initialised Gitline HOME (HOME/config.git, HOME/gitline.yml)."""
    home = make_home(tmp_path / "home")
    monkeypatch.setenv("GITLINE_HOME", str(home))
    yield home


@pytest.fixture
def home(tmp_path: Path) -> Iterator[Home]:
    """A HOME and a user's clone of it; the controller, once started, is killed after."""
    h = Home.create(tmp_path)
    yield h
    h.stop(signal.SIGKILL)
