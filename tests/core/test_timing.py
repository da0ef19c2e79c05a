"""Time resources: cron text, timezones, next ticks and the catch-up decision (pure)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from controller.core import timing


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def sched(interval: str, **extra: str) -> timing.Schedule:
    return timing.parse_schedule({"interval": interval, **extra})


@pytest.mark.parametrize(
    ("interval", "after", "expected"),
    [
        ("0 2 * * *", "2024-03-27T12:00:00", "2024-03-28T02:00:00"),
        ("0 2 * * *", "2024-03-28T02:00:00", "2024-03-29T02:00:00"),  # strictly after
        ("*/15 * * * *", "2024-03-27T12:07:00", "2024-03-27T12:15:00"),
        ("0 2 * * 0", "2024-03-27T00:00:00", "2024-03-31T02:00:00"),  # 0 = Sunday, as cron
        ("0 2 * * 7", "2024-03-27T00:00:00", "2024-03-31T02:00:00"),  # so is 7
        ("0 2 * * 1-5", "2024-03-29T12:00:00", "2024-04-01T02:00:00"),  # Fri -> Mon
        ("0 2 * * sat,sun", "2024-03-27T00:00:00", "2024-03-30T02:00:00"),
        ("0 9 1 * *", "2024-03-27T00:00:00", "2024-04-01T09:00:00"),
        ("*/10 * * * * *", "2024-03-27T12:00:01", "2024-03-27T12:00:10"),  # seconds first
        # standard cron beyond the basics (croniter)
        ("0 9 * * MON#2", "2024-03-01T00:00:00", "2024-03-11T09:00:00"),  # 2nd Monday
        ("0 9 * * MON#2", "2024-03-11T09:00:00", "2024-04-08T09:00:00"),  # not every Monday
        ("0 0 L * *", "2024-02-10T00:00:00", "2024-02-29T00:00:00"),  # last day, leap year
        ("0 0 L * *", "2024-04-01T00:00:00", "2024-04-30T00:00:00"),
        ("0 18 * * L5", "2024-03-01T00:00:00", "2024-03-29T18:00:00"),  # last Friday
        ("@daily", "2024-03-27T12:00:00", "2024-03-28T00:00:00"),
        ("@hourly", "2024-03-27T12:00:00", "2024-03-27T13:00:00"),
        ("@weekly", "2024-03-27T12:00:00", "2024-03-31T00:00:00"),  # Sunday midnight
        ("@monthly", "2024-03-27T12:00:00", "2024-04-01T00:00:00"),
        ("0 0 * jan,jul mon", "2024-03-27T00:00:00", "2024-07-01T00:00:00"),
        # both days restricted: either one matches (13th or a Friday), as in cron
        ("0 0 13 * 5", "2024-03-09T00:00:00", "2024-03-13T00:00:00"),
        ("0 0 13 * 5", "2024-03-13T00:00:00", "2024-03-15T00:00:00"),
        # one of them starts with `*`: both must match (an odd day that is a Friday)
        ("0 0 */2 * 5", "2024-02-27T00:00:00", "2024-03-01T00:00:00"),
        ("0 0 */2 * 5", "2024-03-01T00:00:01", "2024-03-15T00:00:00"),
    ],
    ids=["nightly", "strictly-after", "every-15-min", "sunday-0", "sunday-7", "weekdays",
         "weekday-names", "monthly", "seconds", "second-monday", "second-monday-next",
         "last-day-feb", "last-day-apr", "last-friday", "daily", "hourly", "weekly",
         "monthly-macro", "month-names", "dom-or-dow-13th", "dom-or-dow-friday",
         "star-step-and-dow", "star-step-and-dow-next"],
)
def test_next_tick_follows_cron(interval, after, expected):
    assert timing.next_tick(sched(interval), at(after)) == at(expected)


def test_timezone_is_honoured_across_daylight_saving():
    berlin = sched("0 2 * * *", timezone="Europe/Berlin")
    # 2024-03-30 is CET (+1): 02:00 local is 01:00 UTC
    assert timing.next_tick(berlin, at("2024-03-29T12:00:00")) == at("2024-03-30T01:00:00")
    # 2024-04-01 is CEST (+2): 02:00 local is 00:00 UTC
    assert timing.next_tick(berlin, at("2024-03-31T12:00:00")) == at("2024-04-01T00:00:00")


def test_a_fixed_time_fires_once_when_daylight_saving_repeats_an_hour():
    berlin = sched("30 2 * * *", timezone="Europe/Berlin")
    # 2024-10-27: 02:30 happens twice (CEST, then CET); cron runs a fixed time once
    first = timing.next_tick(berlin, at("2024-10-26T12:00:00"))
    assert first == at("2024-10-27T00:30:00")
    assert timing.next_tick(berlin, first) == at("2024-10-28T01:30:00")
    # an hourly schedule ticks in both hours, as cron does
    hourly = sched("0 * * * *", timezone="Europe/Berlin")
    assert timing.next_tick(hourly, at("2024-10-27T00:00:00")) == at("2024-10-27T01:00:00")
    # a time that does not exist (spring forward) fires at the first time after it
    spring = timing.next_tick(berlin, at("2024-03-30T12:00:00"))
    assert spring == at("2024-03-31T01:00:00")  # 03:00 CEST


@pytest.mark.parametrize(
    ("definition", "message"),
    [
        ({}, "needs 'interval:'"),
        ({"interval": "0 2 * *"}, "needs 5 cron fields"),
        ({"interval": "61 * * * *"}, "minute '61' is not valid"),
        ({"interval": "0 2 * * 9"}, "weekday '9' is not valid"),
        ({"interval": "0 2 * * mondayX"}, "weekday 'mondayX' is not valid"),
        ({"interval": "0 25 * * *"}, "hour '25' is not valid"),
        ({"interval": "0 0 30 2 *"}, "never fires"),
        ({"interval": "MON#2"}, "needs 5 cron fields"),
        ({"interval": "@sometimes"}, "needs 5 cron fields"),
        ({"interval": "0 2 * * *", "timezone": "Mars/Olympus"}, "unknown timezone"),
        ({"interval": "0 2 * * *", "catchup": "burst"}, "catchup 'burst'"),
    ],
    ids=["missing", "four-fields", "bad-minute", "bad-weekday", "weekday-junk", "bad-hour",
         "never", "lone-field", "bad-macro", "bad-zone", "bad-policy"],
)
def test_bad_schedules_say_why(definition, message):
    with pytest.raises(timing.ScheduleError, match=message):
        timing.parse_schedule(definition)


NIGHTLY = ("0 2 * * *", "UTC")


@pytest.mark.parametrize(
    ("last", "key", "now", "policy", "expected"),
    [
        # down over three nights: one catch-up tick, for the newest missed night
        ("2024-03-25T02:00:00", NIGHTLY, "2024-03-28T09:00:00", "once", "2024-03-28T02:00:00"),
        # down, but no tick was missed
        ("2024-03-28T02:00:00", NIGHTLY, "2024-03-28T09:00:00", "once", None),
        # exactly at the tick already made: never twice
        ("2024-03-28T02:00:00", NIGHTLY, "2024-03-28T02:00:00", "once", None),
        # skip policy: nothing
        ("2024-03-25T02:00:00", NIGHTLY, "2024-03-28T09:00:00", "skip", None),
        # never fired: nothing to catch up
        (None, None, "2024-03-28T09:00:00", "once", None),
        # the schedule changed since the last tick: its past is not the new one's
        ("2024-03-25T02:00:00", ("0 3 * * *", "UTC"), "2024-03-28T09:00:00", "once", None),
    ],
    ids=["missed-three", "none-missed", "same-tick", "skip", "never-fired", "changed"],
)
def test_catch_up_policy(last, key, now, policy, expected):
    schedule = sched("0 2 * * *", catchup=policy)
    got = timing.catch_up(schedule, last_tick=at(last) if last else None, last_key=key,
                          now=at(now))
    assert got == (at(expected) if expected else None)


def test_catch_up_of_a_seconds_schedule_down_for_days_is_one_tick():
    schedule = sched("* * * * * *")
    got = timing.catch_up(schedule, last_tick=at("2024-03-01T00:00:00"),
                          last_key=("* * * * * *", "UTC"), now=at("2024-03-28T09:00:00.5"))
    assert got == at("2024-03-28T09:00:00")


def test_tick_names_round_trip():
    tick = at("2024-03-28T02:00:00")
    assert timing.tick_name(tick) == "2024-03-28T02:00:00Z"
    assert timing.parse_tick("2024-03-28T02:00:00Z") == tick
    assert timing.parse_tick("not a time") is None


def test_the_loader_reports_a_bad_schedule_at_its_line():
    from controller.core import loader

    wf = loader.load_text("shippable.yml", """\
resources:
  - name: weekly
    type: time
    versionTemplate:
      interval: "0 9 * * mondayX"
  - name: zoned
    type: time
    versionTemplate: {interval: "@daily", timezone: Mars/Olympus}
  - name: fine
    type: time
    versionTemplate: {interval: "0 9 * * MON#2"}
""")
    assert [str(p) for p in wf.problems] == [
        "shippable.yml:5:7: error: resource 'weekly': interval '0 9 * * mondayX': weekday "
        "'mondayX' is not valid; it never ticks",
        "shippable.yml:8:43: error: resource 'zoned': unknown timezone 'Mars/Olympus'; "
        "it never ticks",
    ]
