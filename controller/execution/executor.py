"""The Executor protocol: where runs execute (locally, or on Celery workers).

An executor gets a RunSpec and reports an Outcome (both plain data, `core/runspec.py`).
Only the controller writes the state branch; executors never touch it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

from controller.core.runspec import Outcome, RunSpec


class Executor(Protocol):
    """Runs RunSpecs somewhere and reports back through callbacks (any thread).

    The spec given to the callbacks names who runs it in `spec.run.worker` (runspec.ran_by:
    the Celery node name, or local@<hostname>), so the controller records it."""

    def submit(
        self,
        spec: RunSpec,
        on_started: Callable[[RunSpec, str], None],
        on_done: Callable[[RunSpec, Outcome], None],
    ) -> None: ...

    def adopt(
        self,
        spec: RunSpec,
        on_started: Callable[[RunSpec, str], None],
        on_done: Callable[[RunSpec, Outcome], None],
    ) -> bool:
        """Follow `spec`, which an earlier controller process handed over and recorded as
        running, if it provably goes on (or ended) out of that process's reach; False
        means it cannot be followed and the controller runs it again."""
        ...

    def cancel(self, job: str, number: int) -> bool: ...

    def shutdown(self, wait: bool = True) -> None: ...
