"""Ticks of `time` resources: apscheduler fires, a tick becomes a version, the loop is poked.

Decides nothing itself: `core/timing.py` says when the next tick is and what a restart
must catch up. Each tick is one apscheduler date job (id `<resource>@<tick>`), so every
fire knows the exact tick it stands for; the next one is armed when it fires. A tick is
recorded only if it is newer than the resource's latest version on the state branch, so
a restart never fires a tick twice and a race never records one twice.

`sync(workflow)` runs after every reconcile pass: schedules follow pushes (added,
changed, removed) without a restart.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import UTC, datetime

from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.date import DateTrigger

from controller.core import model, timing
from controller.core.clock import now as clock_now

log = logging.getLogger("gitline")

AddVersion = Callable[..., model.Version]


class Timers:
    """One chain of apscheduler date jobs per time resource of the current workflow."""

    def __init__(
        self,
        *,
        add_version: AddVersion,
        latest_version: Callable[[str], model.Version | None],
        poke: Callable[[], None],
        default_catchup: str = "once",
        clock: Callable[[], datetime] = clock_now,
    ) -> None:
        self._add_version = add_version
        self._latest = latest_version
        self._poke = poke
        self._default = default_catchup
        self._clock = clock
        self._lock = threading.Lock()
        self._record_lock = threading.Lock()  # check-then-write of one tick at a time
        self._schedules: dict[str, timing.Schedule] = {}
        self._job_ids: dict[str, str] = {}  # resource -> id of its pending regular tick
        self._seen: set[str] = set()  # armed once in this process: no more catch-up
        self._reported: dict[str, str] = {}  # resource -> schedule error already logged
        self._scheduler = BackgroundScheduler(
            timezone=UTC,
            job_defaults={"misfire_grace_time": None, "coalesce": True, "max_instances": 1})

    def start(self) -> None:
        self._scheduler.start()

    def stop(self) -> None:
        if self._scheduler.running:
            self._scheduler.shutdown(wait=False)

    def next_ticks(self) -> dict[str, datetime]:
        """Resource -> its next regular tick (for status and tests)."""
        with self._lock:
            out = {}
            for name, job_id in self._job_ids.items():
                job = self._scheduler.get_job(job_id)
                if job is not None and job.next_run_time is not None:
                    out[name] = job.next_run_time.astimezone(UTC)
            return out

    # --- following the workflow ----------------------------------------------------------

    def sync(self, workflow: model.Workflow | None) -> None:
        """Arm, re-arm or drop timers so they match the time resources of `workflow`."""
        if workflow is None:
            return
        wanted = self._wanted(workflow)
        with self._lock:
            for name in sorted(set(self._schedules) - set(wanted)):
                self._disarm(name)
                del self._schedules[name]
                log.info("%s: schedule removed", name)
            for name, schedule in sorted(wanted.items()):
                old = self._schedules.get(name)
                if old is not None and old.key == schedule.key:
                    continue
                self._schedules[name] = schedule
                self._arm(name, schedule)

    def _wanted(self, workflow: model.Workflow) -> dict[str, timing.Schedule]:
        wanted: dict[str, timing.Schedule] = {}
        for name, res in workflow.resources.items():
            if res.type != "time" or name in workflow.inconsistent:
                continue
            try:
                wanted[name] = timing.parse_schedule(res.definition, self._default)
            except timing.ScheduleError as err:
                if self._reported.get(name) != str(err):
                    self._reported[name] = str(err)
                    log.error("%s (%s): not scheduled: %s", name, res.location, err)
        return wanted

    def _disarm(self, name: str) -> None:
        job_id = self._job_ids.pop(name, None)
        if job_id is not None and self._scheduler.get_job(job_id) is not None:
            self._scheduler.remove_job(job_id)

    def _arm(self, name: str, schedule: timing.Schedule) -> None:
        """Schedule the next tick; on the first arming in this process, catch up once."""
        self._disarm(name)
        now = self._clock()
        last_tick, last_key = self._last(name)
        if name not in self._seen:
            self._seen.add(name)
            due = timing.catch_up(schedule, last_tick=last_tick, last_key=last_key, now=now)
            if due is not None:
                log.info("%s: missed %s while down; one catch-up tick (catchup: %s)",
                         name, timing.tick_name(due), schedule.catchup)
                self._scheduler.add_job(self._fire, DateTrigger(now), args=(name, due, True),
                                        id=f"{name}@{timing.tick_name(due)}#catchup")
        base = max(now, last_tick) if last_tick else now
        self._chain(name, schedule, timing.next_tick(schedule, base))
        log.info("%s: next tick %s (%s %s)", name, timing.tick_name(self._tick_of(name)),
                 schedule.interval, schedule.timezone)

    def _tick_of(self, name: str) -> datetime:
        return timing.parse_tick(self._job_ids[name].rsplit("@", 1)[1]) or self._clock()

    def _chain(self, name: str, schedule: timing.Schedule, tick: datetime) -> None:
        job_id = f"{name}@{timing.tick_name(tick)}"
        self._job_ids[name] = job_id
        self._scheduler.add_job(self._fire, DateTrigger(tick), args=(name, tick, False),
                                id=job_id, replace_existing=True)

    def _last(self, name: str) -> tuple[datetime | None, tuple[str, str] | None]:
        latest = self._latest(name)
        if latest is None:
            return None, None
        values = latest.values
        tick = timing.parse_tick(str(values.get("tick") or latest.name))
        key = (str(values.get("interval", "")), str(values.get("timezone", "")))
        return tick, key if values.get("interval") else None

    # --- a fire (apscheduler's thread) -----------------------------------------------------

    def _fire(self, name: str, tick: datetime, catchup: bool) -> None:
        with self._lock:
            schedule = self._schedules.get(name)
        try:
            if schedule is not None:
                self._record(name, schedule, tick, catchup)
        except Exception:  # a failed write is logged; the chain goes on
            log.exception("%s: tick %s could not be recorded", name, timing.tick_name(tick))
        finally:
            if not catchup:
                with self._lock:
                    if (self._schedules.get(name) is schedule and schedule is not None
                            and self._job_ids.get(name) == f"{name}@{timing.tick_name(tick)}"):
                        self._chain(name, schedule,
                                    timing.next_tick(schedule, max(tick, self._clock())))

    def _record(self, name: str, schedule: timing.Schedule, tick: datetime,
                catchup: bool) -> None:
        with self._record_lock:
            self._record_locked(name, schedule, tick, catchup)

    def _record_locked(self, name: str, schedule: timing.Schedule, tick: datetime,
                       catchup: bool) -> None:
        last_tick, _ = self._last(name)
        if last_tick is not None and tick <= last_tick:
            log.info("%s: tick %s already recorded", name, timing.tick_name(tick))
            return
        stamp = timing.tick_name(tick)
        self._add_version(
            name, {"tick": stamp, "interval": schedule.interval, "timezone": schedule.timezone},
            name=stamp, created_by="time catch-up" if catchup else "time")
        self._poke()
