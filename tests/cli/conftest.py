"""CLI fixtures: a real home with the sample pushed (the controller: `Home.start`)."""

from __future__ import annotations

import shutil
import signal
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.harness.home import Home

SAMPLE = Path(__file__).resolve().parents[2] / "sample-repo"


@pytest.fixture
def sample_home(tmp_path: Path) -> Iterator[Home]:
    """An initialised HOME with the sample pushed; no controller until `start()`."""
    h = Home.create(tmp_path)
    shutil.copytree(SAMPLE, h.work, dirs_exist_ok=True)
    h.push("sample")
    yield h
    h.stop(signal.SIGKILL)
