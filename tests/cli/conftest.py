"""CLI fixtures: a real home with the sample pushed, and the e2e kit's controller."""

from __future__ import annotations

import shutil
import signal
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "e2e"))

from e2ekit import Home, gitline, run  # noqa: E402

SAMPLE = Path(__file__).resolve().parents[2] / "sample-repo"


@pytest.fixture
def sample_home(tmp_path: Path) -> Iterator[Home]:
    """An initialised HOME with the sample pushed; no controller until `start()`."""
    path = tmp_path / "home"
    gitline("init", path)
    work = tmp_path / "work"
    run("git", "clone", "-q", path / "config.git", work)
    shutil.copytree(SAMPLE, work, dirs_exist_ok=True)
    h = Home(path, work)
    h.push("sample")
    yield h
    h.stop(signal.SIGKILL)
