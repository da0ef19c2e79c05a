"""controller/config.yml of the state branch: what each processed push leaves there.

The record says which config commit was processed and which one loads ("good"), its
problems, the job and resource names of the good workflow (what `gitline trigger` checks
a name against without loading the YAML), the trigger files refused (kept across pushes,
KEEP_TRIGGER_ERRORS at most) and the trigger files still waiting. Each function here
computes one write's edit and message from the record at the tip.
"""

from __future__ import annotations

from typing import Any

import pygit2

from controller.core import model
from controller.store import statebranch, yamlio
from controller.store.commitmessages import format_message
from controller.store.records import RecordCache
from controller.store.statebranch import CONFIG_RECORD
from controller.store.trees import Edits

KEEP_TRIGGER_ERRORS = 20  # rejected triggers listed in controller/config.yml


def read_config_record(records: RecordCache, tip: pygit2.Commit | None) -> dict[str, Any]:
    """The record at `tip`; {} when there is none (or it is not a mapping)."""
    record = records.record(tip.tree if tip else None, CONFIG_RECORD, "dict")
    return record if isinstance(record, dict) else {}


def trigger_errors(triggers: tuple[model.TriggerRequest, ...]) -> list[dict[str, str]]:
    """The triggerErrors entries of `triggers` (all of them: pass only refused ones)."""
    return [{"job": t.job, "commit": t.commit, "author": t.author, "path": t.path,
             "error": t.error} for t in triggers]


def kept_trigger_errors(record: dict[str, Any], new: list[dict[str, str]]
                        ) -> list[dict[str, str]]:
    """Earlier trigger errors of config.yml's `record` stay listed (newest last, at most
    KEEP_TRIGGER_ERRORS): the next push must not hide a rejected trigger from status."""
    old = record.get("triggerErrors") or []
    fresh = {(e["commit"], e["path"]) for e in new}
    kept = [e for e in old if isinstance(e, dict)
            and (e.get("commit"), e.get("path")) not in fresh]
    return (kept + new)[-KEEP_TRIGGER_ERRORS:]


def config_message(processed: str, problems: tuple[model.Problem, ...],
                   refused: list[dict[str, str]], subject: str = "") -> str:
    """The commit message of a processed push: how many errors it had."""
    errors = sum(1 for p in problems if p.severity == "error") + len(refused)
    plural = "" if errors == 1 else "s"
    return format_message(
        subject or f"config: processed {processed[:7]} ({errors} error{plural})",
        [("Config", processed)],
    )


def processed_record(processed: str, good: str, problems: tuple[model.Problem, ...],
                     refused: list[dict[str, str]],
                     names: model.Workflow | None,
                     sources: dict[str, dict[str, str]] | None = None) -> dict[str, Any]:
    """The record of a processed push, before earlier trigger errors join `refused`.
    `sources`: the commit of each other source, {NAME: {processed: sha, good: sha}}."""
    return {
        "processed": processed,
        "good": good,
        **({"sources": sources} if sources else {}),
        "problems": [str(p) for p in problems],
        "triggerErrors": refused,
        # what `gitline trigger` checks a name against, without loading the YAML
        **({} if names is None else {"jobs": sorted(names.jobs),
                                     "resources": sorted(names.resources)}),
    }


def processed_edits(old: dict[str, Any], record: dict[str, Any],
                    waiting: tuple[model.TriggerRequest, ...] | None) -> Edits:
    """config.yml after a push on top of the `old` record: `record`, the earlier trigger
    errors, and the `waiting` triggers (None: as they were)."""
    return {CONFIG_RECORD: yamlio.dump(processed_value(old, record, waiting)).encode()}


def processed_value(old: dict[str, Any], record: dict[str, Any],
                    waiting: tuple[model.TriggerRequest, ...] | None) -> dict[str, Any]:
    """The record processed_edits writes (as reading it back gives it)."""
    kept = kept_trigger_errors(old, record["triggerErrors"])
    still = old.get("waitingTriggers") or [] if waiting is None else \
        statebranch.waiting_record(waiting)
    return {**record, "triggerErrors": kept, **({"waitingTriggers": still} if still else {})}


def waiting_message(waiting: tuple[model.TriggerRequest, ...],
                    refused: list[dict[str, str]]) -> str:
    """The commit message of a change to the waiting trigger files."""
    ran = "no trigger waits" if not waiting else f"{len(waiting)} waiting"
    return format_message(f"config: trigger files: {ran}"
                          + (f", {len(refused)} refused" if refused else ""), [])


def waiting_edits(old: dict[str, Any], waiting: tuple[model.TriggerRequest, ...],
                  refused: list[dict[str, str]]) -> Edits:
    """config.yml on top of the `old` record with `waiting` triggers and `refused` ones."""
    record = dict(old)
    record["triggerErrors"] = kept_trigger_errors(record, refused)
    record.pop("waitingTriggers", None)
    if waiting:
        record["waitingTriggers"] = statebranch.waiting_record(waiting)
    return {CONFIG_RECORD: yamlio.dump(record).encode()}
