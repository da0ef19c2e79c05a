"""The one way Gitline replaces a file: whole or not at all.

The text goes to a temporary file beside the target (named for this process and thread,
so two writers never share one) and is renamed over it, so a reader, a crash or a full
disk sees the old file or the new one, never half of one. Used by the store, the server,
the reactor and the job-side shipctl alike.
"""

from __future__ import annotations

import contextlib
import os
import threading
from pathlib import Path


def write_atomic(path: Path, data: str | bytes, *, mode: int | None = None) -> None:
    """Replace `path` with `data` (text as UTF-8). `mode` sets the file's permissions
    (else the umask's default); the temporary file has them from its first byte."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
    raw = data.encode("utf-8") if isinstance(data, str) else data
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600 if mode is not None else 0o666)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(raw)
        if mode is not None:
            os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise
