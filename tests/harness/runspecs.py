"""Run specs as the reactor hands them to an executor, and whether a process is gone."""

from __future__ import annotations

from controller.core import model
from controller.core.runspec import RunSpec

LOC = model.Location("shippable.jobs.yml", 1, 1)


def hook(*lines: str, notify: tuple[str, ...] = ()) -> model.Hook:
    return model.Hook(tuple(lines), tuple(model.Notify(n) for n in notify))


def make_spec(
    *tasks: model.Task | str,
    name: str = "build",
    number: int = 1,
    hooks: dict[str, model.Hook] | None = None,
    timeout: float | None = None,
    **kw,
) -> RunSpec:
    parsed = tuple(
        t if isinstance(t, model.Task) else model.Task(f"t{i}", (t,))
        for i, t in enumerate(tasks, start=1)
    )
    job = model.Job(name, "runSh", LOC, tasks=parsed, hooks=hooks or {},
                    timeout_minutes=timeout)
    run = model.Run(name, number, "running", model.Cause("manual", "test"),
                    params=kw.pop("params", {}))
    return RunSpec(run, job, **kw)


def gone(pid: int) -> bool:
    """True when `pid` no longer runs (absent, or a zombie nobody reaped yet)."""
    try:
        with open(f"/proc/{pid}/stat") as fh:
            stat = fh.read()
    except OSError:
        return True
    return stat[stat.rfind(")") + 2] == "Z"
