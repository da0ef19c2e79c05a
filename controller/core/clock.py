"""The one wall clock: "now" as the ISO-8601 UTC string that runs and records carry.

Pure code takes `now` as an argument; the edges read it here, so that every timestamp
Gitline writes has the same format (`2026-01-31T12:00:00Z`, whole seconds).
"""

from __future__ import annotations

from datetime import UTC, datetime

ISO_FORMAT = "%Y-%m-%dT%H:%M:%SZ"


def now_iso() -> str:
    """The current UTC time, to the second, as `YYYY-MM-DDTHH:MM:SSZ`."""
    return datetime.now(UTC).strftime(ISO_FORMAT)
