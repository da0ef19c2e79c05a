"""End-to-end fixtures."""

from __future__ import annotations

import signal
from collections.abc import Iterator
from pathlib import Path

import pytest
from e2ekit import Home


@pytest.fixture
def home(tmp_path: Path) -> Iterator[Home]:
    h = Home.create(tmp_path)
    yield h
    h.stop(signal.SIGKILL)
