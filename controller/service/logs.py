"""A run's log: the recorded one, or the live one followed as it grows until the run ends."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import TYPE_CHECKING

from controller.core import model
from controller.core.errors import Absent
from controller.service.names import check_job, running_names
from controller.service.repos import open_readers
from controller.settings import Settings

if TYPE_CHECKING:
    from controller.service.repos import Config, State


def read_log(config: Config, store: State, job: str, run: int | None) -> str:
    """The log of `job`'s newest finished run, or of run `run`; NotFound naming the
    nearest job for a typo, Absent for a job without that log."""
    text = store.read_log(job, run)
    if text is None:  # a typo gets the suggestion; a job that never finished, the fact
        check_job(running_names(config, store)[0], job)
        raise Absent(f"no log for {job}" + (f" run {run}" if run else ""))
    return text


def newest_run(snap: model.Snapshot, job: str) -> int | None:
    """The newest active run of `job`, else its last one (None: never run)."""
    hist = snap.jobs.get(job)
    if hist is None:
        return None
    return hist.active[-1].number if hist.active else hist.last.number if hist.last else None


def run_end(settings: Settings, job: str, number: int) -> str | None:
    """The final status of `job` run `number`, or None while it is queued or running."""
    _, store, cat = open_readers(settings)  # fresh: the state branch moves under us
    try:
        hist = store.read_snapshot().jobs.get(job)
        if hist is None or any(r.number == number for r in hist.active):
            return None
        if hist.last is not None and hist.last.number == number:
            return hist.last.status
        found = next((e.run for e in store.history(job, 200)
                      if e.run is not None and e.run.number == number), None)
        if found is None:
            raise Absent(f"{job} has no run {number}")
        return found.status
    finally:
        cat.close()


class Follower:
    """Iterate for a run's log as it is written (the live file beside its run folder, from
    the local executor); at the end, the recorded log if there was no live one (a Celery
    worker's). `status` is the run's final status once the iteration is over."""

    def __init__(self, settings: Settings, job: str, number: int | None = None,
                 poll_seconds: float = 0.3) -> None:
        config, store, cat = open_readers(settings)
        try:
            check_job(running_names(config, store)[0], job)
            number = number or newest_run(store.read_snapshot(), job)
        finally:
            cat.close()
        if number is None:
            raise Absent(f"{job} has no run to follow")
        self.settings, self.job, self.number = settings, job, number
        self.poll_seconds = poll_seconds
        self.status: str | None = None

    def __iter__(self) -> Iterator[str]:
        from controller.execution.workspace import job_folder

        live = self.settings.work_root / job_folder(self.job) / f"{self.number}.log"
        printed, checked = 0, 0.0
        while self.status is None:
            if time.monotonic() - checked >= 1.0:  # the state branch once a second
                checked = time.monotonic()
                self.status = run_end(self.settings, self.job, self.number)  # before the file
            if live.exists():
                with live.open("rb") as f:
                    f.seek(printed)
                    chunk = f.read()
                printed += len(chunk)
                if chunk:
                    yield chunk.decode("utf-8", "replace")
            if self.status is None:
                time.sleep(self.poll_seconds)
        if not printed:
            _, store, cat = open_readers(self.settings)
            with cat:
                yield store.read_log(self.job, self.number) or ""
