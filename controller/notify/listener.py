"""Turns a finished run into a delivery batch: the glue between the reconciler and delivery.

Runs in the loop thread (a `Reconciler.finished_listeners` entry), so it only decides,
through `core/notices.py`, and queues; sending happens on the delivery thread. NOTIFY in
`on_start` is delivered here too, with the others, once the run has finished.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from controller.core import model, notices
from controller.notify.delivery import Batch, Item


class NoticeListener:
    """`listener(spec, outcome)`: plan the run's notices and hand them to `submit`."""

    def __init__(self, workflow: Callable[[], model.Workflow | None],
                 submit: Callable[[Batch], None]) -> None:
        self._workflow = workflow
        self._submit = submit

    def __call__(self, spec: Any, outcome: Any) -> None:
        planned = notices.plan_notices(spec.job, spec.run, tuple(outcome.notifications),
                                       outcome.log or "")
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
