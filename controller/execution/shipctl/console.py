"""What every shipctl command shares: its error, its argument check, how it prints."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from controller.core import runenv

USAGE_EXIT = 99

Command = Callable[[Sequence[str]], int]


class ShipctlError(Exception):
    """A user-facing error: printed on stderr, exit code `code`."""

    def __init__(self, message: str, code: int = USAGE_EXIT) -> None:
        super().__init__(message)
        self.code = code


def require_args(args: Sequence[str], count: int, text: str) -> None:
    """Refuse fewer than `count` (non-empty) arguments with `Usage: shipctl <text>`."""
    if len(args) < count or any(not a for a in args[:count]):
        raise ShipctlError(f"Usage: shipctl {text}")


def emit(value: Any) -> int:
    """Print `value` as a job's shell reads it (JSON for a list or mapping); exit code 0."""
    print(runenv.env_str(value))
    return 0
