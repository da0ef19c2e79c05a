"""When a `time` resource ticks: cron text + timezone + last fire + now -> the next tick.

Pure: no clock (`now` is an argument), no scheduler, no store; croniter does the cron
arithmetic. The edge (`reactor/timers.py`) reads the last fire from
the state branch, asks here what is due, and records the tick.

    resources:
      - name: nightly
        type: time
        versionTemplate:
          interval: "0 2 * * *"      # minute hour day month weekday (cron, 0 = Sunday)
          timezone: Europe/Berlin   # optional; UTC when absent
          catchup: once             # optional: once (default) | skip

Standard cron, computed by croniter (a pure library): names (`MON`, `JAN`), 0 or 7 =
Sunday, `MON#2` (the second Monday), `L` (the last day of the month), `L5` (the last
Friday), and `@yearly`, `@monthly`, `@weekly`, `@daily`, `@hourly`. A day of month and a
weekday both restricted (neither starts with `*`) match when either matches, as in cron.
A sixth, leading field gives seconds (`"*/10 * * * * *"`), a Gitline extension.

Catch-up policy, for ticks missed while the controller was down (decided by `catch_up`):
`once` makes one tick, for the newest missed time, not a burst; `skip` makes none. A
schedule that never fired has nothing to catch up, and neither has one whose interval or
timezone changed since its last tick.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, tzinfo
from typing import Any, Literal

from croniter import croniter
from croniter.croniter import CroniterError

CatchUp = Literal["once", "skip"]
CATCHUP_POLICIES: tuple[str, ...] = ("once", "skip")
MACROS = ("@yearly", "@annually", "@monthly", "@weekly", "@daily", "@midnight", "@hourly")
_EPOCH = datetime(2000, 1, 1, tzinfo=UTC)
_FIELDS = ("second", "minute", "hour", "day of month", "month", "weekday")


class ScheduleError(ValueError):
    """A time resource's interval, timezone or catchup cannot be used."""


@dataclass(frozen=True)
class Schedule:
    """A parsed time resource: what it was written as, and what croniter computes with."""

    interval: str
    timezone: str
    catchup: CatchUp
    cron: str  # croniter's text: seconds last when there are six fields
    day_or: bool
    zone: tzinfo
    fixed_hour: bool = True  # the hour is not `*...`: once in a repeated (DST) hour, as cron

    @property
    def key(self) -> tuple[str, str, str]:
        """Equal keys: the same schedule (the edge re-arms a timer when this changes)."""
        return (self.interval, self.timezone, self.catchup)


def _bad_field(parts: list[str]) -> str:
    """Which field of a cron text croniter refuses ("" if each is fine on its own)."""
    names = _FIELDS if len(parts) == 6 else _FIELDS[1:]
    for index, (name, part) in enumerate(zip(names, parts, strict=True)):
        alone = ["*"] * len(parts)
        alone[index] = part
        if len(parts) == 6:
            alone = alone[1:] + alone[:1]
        if not croniter.is_valid(" ".join(alone)):
            return f"{name} {part!r} is not valid"
    return ""


def _zone(name: str) -> tzinfo:
    if name.upper() in ("", "UTC", "Z", "ETC/UTC"):
        return UTC
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError  # here: its tz database costs start-up

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
    zone = _zone(tz_name)
    parts = interval.split(" ")
    if len(parts) == 1 and parts[0].lower() in MACROS:
        cron, day_or, fixed_hour = parts[0].lower(), True, parts[0].lower() != "@hourly"
    elif len(parts) in (5, 6):
        fields = parts[1:] + parts[:1] if len(parts) == 6 else parts  # croniter wants seconds last
        cron = " ".join(fields)
        day, weekday = fields[2], fields[4]
        # cron's rule: both days restricted -> either matches; one is `*...` -> both must
        day_or = not (day.startswith("*") or weekday.startswith("*"))
        fixed_hour = not fields[1].startswith("*")
        if not croniter.is_valid(cron):
            why = _bad_field(parts) or "not a valid cron text"
            raise ScheduleError(f"interval {interval!r}: {why}")
    else:
        raise ScheduleError(f"interval {interval!r} needs 5 cron fields (or 6, seconds "
                            f"first), or one of {', '.join(MACROS)}")
    schedule = Schedule(interval, tz_name, catchup, cron, day_or, zone,  # type: ignore[arg-type]
                        fixed_hour)
    next_tick(schedule, _EPOCH)  # `0 0 30 2 *` parses but never comes: say so now
    return schedule


def next_tick(schedule: Schedule, after: datetime) -> datetime:
    """The first tick strictly after `after` (aware), in UTC."""
    start = after.astimezone(schedule.zone)
    try:
        ticks = croniter(schedule.cron, start, day_or=schedule.day_or)
        found = ticks.get_next(datetime)
        if found.fold and schedule.fixed_hour:  # 02:30 again after a DST fall-back: skip it
            found = ticks.get_next(datetime)
    except CroniterError as err:  # e.g. `0 0 30 2 *`: a day that never comes
        raise ScheduleError(f"interval {schedule.interval!r} never fires") from err
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
