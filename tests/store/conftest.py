"""Fixtures of the store tests."""

from __future__ import annotations

from pathlib import Path

import pygit2
import pytest


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """An empty bare repository whose HEAD is main, as `gitline init` makes it."""
    path = tmp_path / "config.git"
    pygit2.init_repository(str(path), bare=True, initial_head="main")
    return path
