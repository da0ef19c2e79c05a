"""How `gitline serve` and `gitline worker` log: text lines or JSON lines, at a level.

JSON lines carry `time`, `level`, `logger` and `message`, plus `job` and `run` for every
line about a run (its message starts `<job>: run <n>` or `<job> run <n>`), so a log
pipeline can follow one run without parsing text.
"""

from __future__ import annotations

import json
import logging
import re
import sys
from datetime import UTC, datetime

FORMATS = ("text", "json")
LEVELS = ("debug", "info", "warning", "error")
_RUN = re.compile(r"^(?P<job>[^:\n]+?):? run (?P<run>[0-9]+)\b")


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        message = record.getMessage()
        line: dict[str, object] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(
                timespec="milliseconds").replace("+00:00", "Z"),
            "level": record.levelname.lower(), "logger": record.name, "message": message}
        found = _RUN.match(message)
        if found:
            line.update(job=found["job"], run=int(found["run"]))
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return json.dumps(line, ensure_ascii=False)


def configure(level: str = "info", fmt: str = "text") -> None:
    """Log to stderr at `level` (debug, info, warning, error) as `fmt` (text or json)."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter() if fmt == "json" else
                         logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
