"""End-to-end fixtures."""

from __future__ import annotations

import signal
from collections.abc import Iterator
from pathlib import Path

import pytest
from e2ekit import Home, gitline, run


@pytest.fixture

def home(tmp_path: Path) -> Iterator[Home]:
    path = tmp_path / "home"
    gitline("init", path)
    work = tmp_path / "work"
    run("git", "clone", "-q", path / "config.git", work)
    h = Home(path, work)
    yield h
    h.stop(signal.SIGKILL)
