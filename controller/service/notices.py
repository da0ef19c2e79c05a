"""What a run's notices did: its notifications and commit statuses, as delivered.

The controller records them in `notifications/<job>.yml` on the state branch once they are
sent (notify/delivery.py, notify/commitstatus.py): one file per job, holding the newest
run that sent any, so older runs' deliveries are in that file's history.
"""

from __future__ import annotations

from typing import Any, Protocol

from controller.core.errors import Absent
from controller.store import yamlio


class Files(Protocol):
    def read_file(self, path: str, at: str = "") -> bytes | None: ...


def older_hint(job: str) -> str:
    return f"git log -p origin/state -- notifications/{job}.yml"


def run_notices(store: Files, job: str, number: int) -> list[dict[str, Any]]:
    """The deliveries of `job` run `number`, in the order they were sent; [] when the run
    sent none and is the newest to have a record; Absent when its record is history."""
    data = store.read_file(f"notifications/{job}.yml")
    record = yamlio.load_mapping(data) if data else {}
    newest = record.get("run")
    if isinstance(newest, int) and newest > number:
        raise Absent(f"the notices of {job} run {number} are no longer on the tip of the "
                     f"state branch; read them with `{older_hint(job)}`")
    deliveries = record.get("deliveries") if newest == number else None
    if not isinstance(deliveries, list):
        return []
    return [_shown(d) for d in deliveries if isinstance(d, dict)]


def _shown(d: dict[str, Any]) -> dict[str, Any]:
    """A delivery with the fields a reader relies on (optional ones only when set)."""
    out: dict[str, Any] = {k: str(d.get(k) or "") for k in REQUIRED}
    out["attempts"] = d["attempts"] if isinstance(d.get("attempts"), int) else 0
    out.update({k: str(d[k]) for k in OPTIONAL if d.get(k)})
    return out


REQUIRED = ("notification", "event", "method", "status", "at")
OPTIONAL = ("error", "commit", "state")
