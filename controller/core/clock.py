"""The one wall clock: "now" as the ISO-8601 UTC strings that runs and records carry.

Pure code takes `now` as an argument; the edges read it here, so that every timestamp
Gitline writes has one of two formats: `2026-01-31T12:00:00Z` (whole seconds: logs,
notifications, reports) or `2026-01-31T12:00:00.123Z` (a run's queued, started and
finished times, which order runs queued in the same second).
"""

from __future__ import annotations

from datetime import UTC, datetime

ISO_FORMAT = "%Y-%m-%dT%H:%M:%SZ"


def now_iso() -> str:
    """The current UTC time, to the second, as `YYYY-MM-DDTHH:MM:SSZ`."""
    return datetime.now(UTC).strftime(ISO_FORMAT)


def now_precise() -> str:
    """The current UTC time, to the millisecond, as `YYYY-MM-DDTHH:MM:SS.mmmZ`."""
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def now() -> datetime:
    """The current time, UTC-aware (for schedules that compute with it)."""
    return datetime.now(UTC)
