"""Commands as a user runs them: real git with a fixed identity, `gitline` in a subprocess.

GIT_ENV is the one identity every test's git uses; `isolated_git_env` adds no user or
system config on top, for tests that must see the same git behaviour everywhere.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

AUTHOR_NAME = "Ada Lovelace"
AUTHOR_EMAIL = "ada@example.com"

GIT_ENV = {
    "GIT_AUTHOR_NAME": AUTHOR_NAME,
    "GIT_AUTHOR_EMAIL": AUTHOR_EMAIL,
    "GIT_COMMITTER_NAME": AUTHOR_NAME,
    "GIT_COMMITTER_EMAIL": AUTHOR_EMAIL,
    "GIT_CONFIG_NOSYSTEM": "1",
}

ROOT = Path(__file__).resolve().parents[2]  # this checkout


def isolated_git_env(user_home: Path) -> dict[str, str]:
    """os.environ without GIT_*, plus GIT_ENV, an empty user HOME and no global config."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}
    env.update(GIT_ENV, HOME=str(user_home), GIT_CONFIG_GLOBAL=os.devnull,
               GIT_TERMINAL_PROMPT="0")
    return env


def run(*args: str | Path, cwd: Path | None = None, check: bool = True,
        env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    full_env = {**os.environ, **GIT_ENV, **(env or {})}
    return subprocess.run([str(a) for a in args], cwd=cwd, check=check, text=True,
                          capture_output=True, env=full_env, timeout=60)


def gitline(*args: str | Path, check: bool = True) -> subprocess.CompletedProcess[str]:
    return run(sys.executable, "-m", "controller.cli", *args, check=check)


def cli(*args, home_env: str | None = None, cwd=None) -> subprocess.CompletedProcess[str]:
    """`gitline ARGS` from any cwd (this checkout's code), GITLINE_HOME only if given."""
    env = {k: v for k, v in os.environ.items() if k != "GITLINE_HOME"}
    env.update(GIT_ENV, PYTHONPATH=str(ROOT))  # this checkout's code, from any cwd
    if home_env is not None:
        env["GITLINE_HOME"] = home_env
    return subprocess.run([sys.executable, "-m", "controller.cli", *map(str, args)],
                          capture_output=True, text=True, env=env, timeout=60, cwd=cwd)


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
