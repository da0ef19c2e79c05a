"""The local executor: runs RunSpecs on a pool of threads on this machine.

Each run is `run.execute` (the same function the Celery worker calls) with a
`RunControl`, so that `cancel` reaches its running step and `shutdown(wait=False)`
abandons it.
"""

from __future__ import annotations

import logging
import socket
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from controller.core.clock import now_iso
from controller.core.runspec import Outcome, RunSpec, ran_by
from controller.execution import sandbox
from controller.execution.procgroup import GRACE_SECONDS
from controller.execution.run import HOOK_TIMEOUT_SECONDS, execute
from controller.execution.step import RunControl
from controller.execution.workspace import prune_workdirs

log = logging.getLogger(__name__)


class LocalExecutor:
    """Runs RunSpecs on a pool of `workers` threads, one process group per step."""

    def __init__(
        self,
        work_root: Path,
        workers: int = 4,
        shell: str = "/bin/bash",
        hook_timeout: float = HOOK_TIMEOUT_SECONDS,
        grace: float = GRACE_SECONDS,
        box: sandbox.Sandbox | None = None,
        name: str = "",
    ) -> None:
        self.work_root = Path(work_root)
        self.box = box
        self.name = name or f"local@{socket.gethostname()}"  # the worker runs record
        self.shell = shell
        self.hook_timeout = hook_timeout
        self.grace = grace
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="gitline-run")
        self._lock = threading.Lock()
        self._controls: dict[tuple[str, int], RunControl] = {}
        self._closing = False

    def submit(
        self,
        spec: RunSpec,
        on_started: Callable[[RunSpec, str], None],
        on_done: Callable[[RunSpec, Outcome], None],
    ) -> None:
        """Queue `spec`; returns at once. Callbacks run on a pool thread."""
        key = (spec.job.name, spec.run.number)
        control = RunControl()
        with self._lock:
            self._controls[key] = control
        self._pool.submit(self._run, spec, control, on_started, on_done)

    def _run(
        self,
        spec: RunSpec,
        control: RunControl,
        on_started: Callable[[RunSpec, str], None],
        on_done: Callable[[RunSpec, Outcome], None],
    ) -> None:
        key = (spec.job.name, spec.run.number)
        spec = ran_by(spec, self.name)
        try:
            outcome = execute(
                spec,
                self.work_root,
                control=control,
                on_started=lambda s, at: _quietly(on_started, s, at),
                shell=self.shell,
                hook_timeout=self.hook_timeout,
                grace=self.grace,
                box=self.box,
            )
        finally:
            with self._lock:
                if self._controls.get(key) is control:
                    del self._controls[key]
        if control.abandoned.is_set():
            log.info("run %s %s abandoned at shutdown: no on_done", *key)
            return
        _quietly(on_done, spec, outcome)

    def wait_spawned(self, job: str, number: int, timeout: float) -> bool:
        """Wait until the run's first process has started (a free worker starts it in
        milliseconds); False after `timeout`, or if this executor does not have it."""
        with self._lock:
            control = self._controls.get((job, number))
        return control is not None and control.spawned.wait(timeout)

    def adopt(self, spec: RunSpec, on_started: Callable[[RunSpec, str], None],
              on_done: Callable[[RunSpec, Outcome], None]) -> bool:
        """A local run does not outlive the controller that ran it: never."""
        return False

    def cancel(self, job: str, number: int) -> bool:
        """Cancel a queued or running run; False if this executor does not have it."""
        with self._lock:
            control = self._controls.get((job, number))
        if control is None:
            return False
        control.cancel()
        return True

    def running(self) -> list[tuple[str, int]]:
        """(job, number) of the runs queued or running here."""
        with self._lock:
            return sorted(self._controls)

    def shutdown(self, wait: bool = True) -> None:
        """Stop taking runs.

        wait=True: finish every queued and running run (callbacks as usual).
        wait=False: drop queued runs and kill running ones without hooks and without
        on_done, so that the state branch still says `running` and the controller
        records them `interrupted` (and queues them again) on restart.
        """
        if not wait:
            with self._lock:
                self._closing = True
                controls = list(self._controls.values())
            for control in controls:
                control.abandon()
        self._pool.shutdown(wait=wait, cancel_futures=not wait)


def _quietly(callback: Callable[..., None], *args: object) -> None:
    try:
        callback(*args)
    except Exception:  # a callback must never take a worker thread down
        log.exception("executor callback %r failed", callback)


__all__ = [
    "LocalExecutor",
    "now_iso",  # app.py's import (to move to controller.core.clock)
    "prune_workdirs",  # the CLI's import (to move to workspace)
]
