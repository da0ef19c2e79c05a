"""When a `time` resource ticks: cron text + timezone + last fire + now -> the next tick.

Pure: no clock (`now` is an argument), no scheduler, no store. apscheduler's CronTrigger is
used as a cron calculator only. The edge (`reactor/timers.py`) reads the last fire from
the state branch, asks here what is due, and records the tick.

    resources:
      - name: nightly
        type: time
        versionTemplate:
          interval: "0 2 * * *"      # minute hour day month weekday (cron, 0 = Sunday)
          timezone: Europe/Berlin   # optional; UTC when absent
          catchup: once             # optional: once (default) | skip

A sixth, leading field gives seconds (`"*/10 * * * * *"`), a Gitline extension. Unlike
classic cron, a day-of-month and a weekday given together must both match.

Catch-up policy, for ticks missed while the controller was down (decided by `catch_up`):
`once` makes one tick, for the newest missed time, not a burst; `skip` makes none. A
schedule that never fired has nothing to catch up, and neither has one whose interval or
timezone changed since its last tick.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, tzinfo
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from apscheduler.triggers.cron import CronTrigger

CatchUp = Literal["once", "skip"]
CATCHUP_POLICIES: tuple[str, ...] = ("once", "skip")
_DOW_NAMES = ("sun", "mon", "tue", "wed", "thu", "fri", "sat")
_FIELDS = ("minute", "hour", "day", "month", "day_of_week")


class ScheduleError(ValueError):
    """A time resource's interval, timezone or catchup cannot be used."""


@dataclass(frozen=True)
class Schedule:
    """A parsed time resource: what it was written as, and the trigger to compute with."""

    interval: str
    timezone: str
    catchup: CatchUp
    trigger: CronTrigger

    @property
    def key(self) -> tuple[str, str, str]:
        """Equal keys: the same schedule (the edge re-arms a timer when this changes)."""
        return (self.interval, self.timezone, self.catchup)


def _dow_number(token: str) -> int:
    token = token.strip().lower()
    if token[:3] in _DOW_NAMES and not token.isdigit():
        return _DOW_NAMES.index(token[:3])
    number = int(token)  # ValueError for junk
    if not 0 <= number <= 7:
        raise ValueError(f"weekday {number} is not in 0-7")
    return number % 7


def _cron_weekdays(spec: str) -> str:
    """Cron weekdays (0/7 = Sunday, names, ranges, steps) as an explicit apscheduler list.

    apscheduler counts weekdays from Monday, so numbers are expanded here rather than
    passed on: `1-5` means Monday to Friday, as in cron.
    """
    if spec == "*":
        return "*"
    days: set[int] = set()
    for part in spec.split(","):
        rng, _, step_text = part.partition("/")
        step = int(step_text) if step_text else 1
        if step < 1:
            raise ValueError(f"step {step} in {part!r}")
        if rng == "*":
            lo, hi = 0, 6
        elif "-" in rng:
            a, b = rng.split("-", 1)
            lo, hi = _dow_number(a), _dow_number(b)
            if b.strip() == "7":
                hi = 7
        else:
            lo = hi = _dow_number(rng)
            if step_text:
                hi = 6
        if hi < lo:
            raise ValueError(f"range {rng!r} runs backwards")
        days.update(d % 7 for d in range(lo, hi + 1, step))
    return ",".join(_DOW_NAMES[d] for d in sorted(days))


def _zone(name: str) -> tzinfo:
    if name.upper() in ("", "UTC", "Z", "ETC/UTC"):
        return UTC
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as err:
        raise ScheduleError(f"unknown timezone {name!r}") from err


def parse_schedule(definition: dict[str, Any], default_catchup: str = "once") -> Schedule:
    """A time resource's definition -> Schedule; ScheduleError says what is wrong."""
    interval = " ".join(str(definition.get("interval") or "").split())
    if not interval:
        raise ScheduleError("a time resource needs 'interval:' (cron text such as '0 2 * * *')")
    tz_name = str(definition.get("timezone") or "UTC").strip()
    catchup = str(definition.get("catchup") or default_catchup).strip().lower()
    if catchup not in CATCHUP_POLICIES:
        raise ScheduleError(f"catchup {catchup!r} is not one of {', '.join(CATCHUP_POLICIES)}")
    parts = interval.split(" ")
    if len(parts) not in (5, 6):
        raise ScheduleError(f"interval {interval!r} needs 5 cron fields (or 6, seconds first)")
    second = parts.pop(0) if len(parts) == 6 else "0"
    values = dict(zip(_FIELDS, parts, strict=True))
    try:
        values["day_of_week"] = _cron_weekdays(values["day_of_week"])
        trigger = CronTrigger(second=second, timezone=_zone(tz_name), **values)
    except ScheduleError:
        raise
    except ValueError as err:
        raise ScheduleError(f"interval {interval!r}: {err}") from err
    return Schedule(interval, tz_name, catchup, trigger)  # type: ignore[arg-type]


def next_tick(schedule: Schedule, after: datetime) -> datetime:
    """The first tick strictly after `after` (aware), in UTC."""
    found = schedule.trigger.get_next_fire_time(None, after + timedelta(microseconds=1))
    return found.astimezone(UTC)


def latest_tick(schedule: Schedule, now: datetime, since: datetime) -> datetime | None:
    """The newest tick in (since, now], or None.

    Looks back from `now` in growing windows, so a seconds schedule that was down for days
    costs a minute's worth of steps, not millions.
    """
    for window in (timedelta(minutes=1), timedelta(hours=1), timedelta(days=1),
                   timedelta(days=40), timedelta(days=400), timedelta(days=4000)):
        start = max(since, now - window)
        found: datetime | None = None
        tick = next_tick(schedule, start)
        while tick <= now:
            found, tick = tick, next_tick(schedule, tick)
        if found is not None or start == since:
            return found
    return None


def catch_up(
    schedule: Schedule,
    *,
    last_tick: datetime | None,
    last_key: tuple[str, str] | None,
    now: datetime,
) -> datetime | None:
    """The one tick to make now for ticks missed since `last_tick`, or None.

    `last_key` is the (interval, timezone) the last tick was made under: ticks of an
    older schedule say nothing about what the current one missed.
    """
    if last_tick is None or schedule.catchup == "skip":
        return None
    if last_key is not None and last_key != (schedule.interval, schedule.timezone):
        return None
    return latest_tick(schedule, now, last_tick)


def tick_name(tick: datetime) -> str:
    """The versionName of a tick: ISO 8601 in UTC, to the second."""
    return tick.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_tick(text: str) -> datetime | None:
    """A tick name (or any ISO 8601 time) back to an aware datetime; None if it is not one."""
    try:
        parsed = datetime.fromisoformat(str(text).replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
