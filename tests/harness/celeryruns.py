"""Runs through a CeleryExecutor: fast timings, callbacks that remember, specs of a pool."""

from __future__ import annotations

import dataclasses
import threading
import time

from controller.core import model
from controller.core.runspec import Outcome, RunSpec
from controller.execution import celery_executor as ce
from tests.harness.runspecs import make_spec

FAST = {"poll_seconds": 0.1, "heartbeat": 0.5, "lost_after": 4.0, "cancel_grace": 15.0}


class Recorder:
    """Callbacks that remember what they were told, and wait for it."""

    def __init__(self) -> None:
        self.started: dict[tuple[str, int], str] = {}
        self.done: dict[tuple[str, int], Outcome] = {}
        self.order: list[tuple[str, tuple[str, int]]] = []
        self.workers: list[tuple[str, tuple[str, int], str]] = []  # (callback, run, worker)
        self._cond = threading.Condition()

    def on_started(self, spec: RunSpec, at: str) -> None:
        with self._cond:
            self.started[(spec.job.name, spec.run.number)] = at
            self.order.append(("started", (spec.job.name, spec.run.number)))
            self.workers.append(("started", (spec.job.name, spec.run.number), spec.run.worker))
            self._cond.notify_all()

    def on_done(self, spec: RunSpec, outcome: Outcome) -> None:
        with self._cond:
            self.done[(spec.job.name, spec.run.number)] = outcome
            self.order.append(("done", (spec.job.name, spec.run.number)))
            self.workers.append(("done", (spec.job.name, spec.run.number), spec.run.worker))
            self._cond.notify_all()

    def wait(self, key: tuple[str, int], table: str = "done", timeout: float = 45.0):
        with self._cond:
            if not self._cond.wait_for(lambda: key in getattr(self, table), timeout):
                raise AssertionError(f"no {table} for {key} within {timeout} s")
            return getattr(self, table)[key]

    def submit(self, ex: ce.CeleryExecutor, spec: RunSpec) -> tuple[str, int]:
        spec = queued_now(spec)
        ex.submit(spec, self.on_started, self.on_done)
        return spec.job.name, spec.run.number


def queued_now(spec: RunSpec) -> RunSpec:
    """`spec` as a run queued now: a run of its own, with a task id of its own (tests reuse
    job names and numbers on one Redis; the state branch never does)."""
    if spec.run.queued_at:
        return spec
    run = dataclasses.replace(spec.run, queued_at=f"2026-12-06T00:00:00.{time.time_ns()}Z")
    return dataclasses.replace(spec, run=run)


def pool_spec(*tasks: str, pool: str, name: str, **kw) -> RunSpec:
    spec = make_spec(*tasks, name=name, **kw)
    return RunSpec(spec.run, model.Job(**{**spec.job.__dict__, "node_pool": pool}),
                   **{k: v for k, v in spec.__dict__.items() if k not in ("run", "job")})
