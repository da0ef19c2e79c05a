"""/readyz's answer: is the controller watching, has a pass ended lately, can the state
branch be written (and, for each that fails, why)."""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path
from typing import Any

from controller.settings import Settings


def disk_free(path: Path) -> int:
    try:
        return shutil.disk_usage(path).free
    except OSError:
        return 0


def readiness(settings: Settings, *, watching: bool, last_pass: float) -> dict[str, Any]:
    """`last_pass`: time.monotonic() when the last reconcile pass ended (0: none yet)."""
    recent = max(3 * settings.poll_seconds, 30.0)
    heads = settings.repo_path / "refs" / "heads"
    report: dict[str, Any] = {
        "watching": watching,
        "recentPass": last_pass > 0 and time.monotonic() - last_pass < recent,
        "stateWritable": os.access(heads, os.W_OK) and disk_free(settings.repo_path) > 1 << 20,
    }
    reasons = {"watching": "the repository watcher is not running",
               "recentPass": f"no reconcile pass ended in the last {recent:.0f} s",
               "stateWritable": f"{heads} is not writable or its disk is full"}
    report["reasons"] = [why for key, why in reasons.items() if not report[key]]
    return report
