"""The `line` fixture: one controller's pass over a config repository and the in-memory
state store (tests/harness/reactorline.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.harness.reactorline import Line, make_line


@pytest.fixture
def line(tmp_path: Path) -> Line:
    return make_line(tmp_path)
