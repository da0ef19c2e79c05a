"""What to do when a test needs a program this machine lacks: skip it, saying what to
install, except on CI (CI or GITLINE_CI set, as .ci/run does), where it fails: CI
installs everything, so a missing program there is a broken CI, not a reason to skip."""

from __future__ import annotations

import os
from typing import NoReturn

import pytest


def on_ci() -> bool:
    return any(os.environ.get(k, "").lower() not in ("", "0", "false", "no")
               for k in ("CI", "GITLINE_CI"))


def missing(why: str) -> NoReturn:
    """Skip with `why`, or fail with it on CI."""
    if on_ci():
        pytest.fail(f"{why}; on CI it must be there (.ci/run installs it)")
    pytest.skip(why)
