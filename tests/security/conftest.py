"""Security fixtures: the end-to-end `home` (a real HOME, the controller as a subprocess)."""

from __future__ import annotations

import signal
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "e2e"))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from e2ekit import Home  # noqa: E402


@pytest.fixture
def home(tmp_path: Path) -> Iterator[Home]:
    h = Home.create(tmp_path)
    yield h
    h.stop(signal.SIGKILL)
