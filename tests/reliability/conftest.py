"""Reliability fixtures: a real Gitline home and controller (the end-to-end kit).

The bounded tests run in CI; GITLINE_SOAK=1 makes the storm tests run far longer.
"""

from __future__ import annotations

import os
import signal
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "e2e"))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from e2ekit import Home, gitline, run  # noqa: E402

SOAK = os.environ.get("GITLINE_SOAK", "") not in ("", "0")


def make_home(root: Path) -> Home:
    path = root / "home"
    gitline("init", path)
    work = root / "work"
    run("git", "clone", "-q", path / "config.git", work)
    return Home(path, work)


@pytest.fixture
def home(tmp_path: Path) -> Iterator[Home]:
    h = make_home(tmp_path)
    yield h
    h.stop(signal.SIGKILL)
