"""Who is there to run jobs: the live Celery workers, their queues and runs, and the
queues that wait with nobody to serve them (`gitline workers`).

One broadcast (`inspect`) asks every worker for its queues and its active tasks; Redis
answers how many messages wait in each queue. A worker's active run is named from its
task's sealed RunSpec, which only a holder of the worker key can open, and its last
heartbeat comes from the task's meta (celery_worker.Heartbeat).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from controller.execution import celery_worker, codec, sealing


@dataclass(frozen=True)
class ActiveRun:
    job: str
    number: int
    task_id: str
    beat_age: float | None  # seconds since its last heartbeat landed; None: not known


@dataclass(frozen=True)
class WorkerInfo:
    name: str
    queues: tuple[str, ...]
    concurrency: int
    runs: tuple[ActiveRun, ...]


@dataclass(frozen=True)
class QueueInfo:
    name: str
    waiting: int  # messages in the queue, not yet taken by a worker
    served_by: tuple[str, ...]


@dataclass(frozen=True)
class Survey:
    workers: tuple[WorkerInfo, ...]
    queues: tuple[QueueInfo, ...]


def survey(broker_url: str, key: bytes, queues: Iterable[str], *,
           timeout: float = 1.5) -> Survey:
    """Ask the broker at `broker_url` who is there; `queues` are the queues the
    workflow sends to (every queue a worker serves is listed too)."""
    app = celery_worker.make_app(broker_url)
    inspect = app.control.inspect(timeout=timeout)
    served: dict[str, list[dict[str, Any]]] = inspect.active_queues() or {}
    active: dict[str, list[dict[str, Any]]] = inspect.active() or {}
    stats: dict[str, dict[str, Any]] = inspect.stats() or {}
    backend = app.backend
    workers = tuple(
        WorkerInfo(name, tuple(sorted(q["name"] for q in served.get(name, []))),
                   _concurrency(stats.get(name, {})),
                   tuple(_run(task, key, backend) for task in active.get(name, [])))
        for name in sorted(set(served) | set(active)))
    names = sorted(set(queues) | {q for w in workers for q in w.queues})
    client = backend.client
    return Survey(workers, tuple(
        QueueInfo(q, int(client.llen(q)), tuple(w.name for w in workers if q in w.queues))
        for q in names))


def _concurrency(stats: dict[str, Any]) -> int:
    pool = stats.get("pool") or {}
    return int(pool.get("max-concurrency") or 0)


def _run(task: dict[str, Any], key: bytes, backend: Any) -> ActiveRun:
    task_id = str(task.get("id") or "")
    job, number = "?", 0
    try:
        spec = codec.spec_from_json(sealing.unseal(str((task.get("args") or [""])[0]), key))
        job, number = spec.job.name, spec.run.number
    except (sealing.SealError, codec.CodecError, IndexError, TypeError, ValueError):
        pass  # sealed with another key, or not a Gitline run: shown as "?"
    return ActiveRun(job, number, task_id, _beat_age(backend, task_id))


def _beat_age(backend: Any, task_id: str) -> float | None:
    info = backend.get_task_meta(task_id, cache=False).get("result")
    at = info.get("beatAt") if isinstance(info, dict) else None  # celery_worker.Heartbeat
    try:
        done = datetime.fromisoformat(str(at).replace("Z", "+00:00"))
    except ValueError:
        return None
    if done.tzinfo is None:
        done = done.replace(tzinfo=UTC)
    return max(0.0, (datetime.now(UTC) - done).total_seconds())


def render(s: Survey) -> str:
    """The survey as `gitline workers` prints it."""
    lines = []
    if not s.workers:
        lines.append("no worker answered")
    for w in s.workers:
        runs = ", ".join(
            f"{r.job} #{r.number}" + (f" (beat {r.beat_age:.0f} s ago)"
                                      if r.beat_age is not None else "")
            for r in w.runs) or "idle"
        lines.append(f"{w.name}  queues: {', '.join(w.queues) or '-'}  "
                     f"slots: {w.concurrency or '?'}  runs: {runs}")
    for q in s.queues:
        who = (f"served by {', '.join(q.served_by)}" if q.served_by
               else "NO worker serves it")
        lines.append(f"queue {q.name}: {q.waiting} waiting, {who}")
    return "\n".join(lines)
