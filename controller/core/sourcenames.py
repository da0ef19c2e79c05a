"""Which source (config repository of a subscription) a workflow file came from (pure).

A subscription loads the workflow files of several repositories into one namespace. The
loader gets every file as (path, text); a file of a source other than the main config
repository (`HOME/config.git`) has its path written `SOURCE:path`, so that every Problem
already names its source (`shipit:shippable.yml:43:9: ...`). Files of the main source keep
their plain path.
"""

from __future__ import annotations

import re

MAIN = ""  # the main config repository (HOME/config.git)
DEFAULT_MAIN_NAME = "config"  # its repository name, for `<repo>_runCI`, unless gitline.yml names it
SOURCE_RULE = "letters, digits, '-', '_' and '.', starting with a letter or digit"
_SOURCE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")


def is_source_name(name: str) -> bool:
    """True for a name a source may have (it becomes a folder name and a path prefix)."""
    return bool(_SOURCE.match(name)) and ".." not in name


def join(source: str, path: str) -> str:
    """The path the loader is given for `path` of `source` (MAIN: the path itself)."""
    return f"{source}:{path}" if source else path


def split(path: str) -> tuple[str, str]:
    """(source, path in that source) of a loader path; MAIN for a plain path."""
    head, sep, rest = path.partition(":")
    if sep and is_source_name(head):
        return head, rest
    return MAIN, path
