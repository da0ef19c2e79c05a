"""Turns a started or finished run into a delivery batch: the glue between the reconciler
and delivery.

Runs in the loop thread (`Reconciler.started_listeners` and `finished_listeners`), so it
only decides, through `core/notices.py`, and queues; sending happens on the delivery
thread. NOTIFY in `on_start` is sent once the run's start is committed, while it runs;
the other hooks' notices once it has finished.
"""

from __future__ import annotations

from collections.abc import Callable

from controller.core import model, notices
from controller.core.runspec import Outcome, RunSpec
from controller.notify.delivery import Batch, Item


class NoticeListener:
    """`listener(spec, outcome)` at the end, `listener.started(spec)` at the start."""

    def __init__(self, workflow: Callable[[], model.Workflow | None],
                 submit: Callable[[Batch], None]) -> None:
        self._workflow = workflow
        self._submit = submit

    def started(self, spec: RunSpec) -> None:
        self._send(spec, notices.start_notices(spec.job, spec.run))

    def __call__(self, spec: RunSpec, outcome: Outcome) -> None:
        events = notices.finished_events(tuple(outcome.notifications))
        self._send(spec, notices.plan_notices(spec.job, spec.run, events, outcome.log or ""))

    def _send(self, spec: RunSpec, planned: list[notices.Notice]) -> None:
        if not planned:
            return
        wf = self._workflow() or model.Workflow()
        self._submit(Batch(spec.run.job, spec.run.number,
                           tuple(item_for(n, wf) for n in planned)))


def item_for(notice: notices.Notice, wf: model.Workflow) -> Item:
    res = wf.resources.get(notice.notification)
    if res is None:
        return Item(notice, error=f"no notification resource named {notice.notification!r}")
    try:
        return Item(notice, notices.read_target(res))
    except notices.TargetError as err:
        return Item(notice, error=str(err))
