"""The cyclic garbage collector paused around a burst of allocation.

Loading a big workflow makes about a million small objects (maps, lists, positions); each
collection they set off walks every tracked object of the process, the loaded workflows
kept in caches included: over a third of a 5,000-job load. Nothing a load makes is a
cycle that outlives it, so plain reference counting frees it all the same. Pure.
"""

from __future__ import annotations

import contextlib
import gc
from collections.abc import Iterator


@contextlib.contextmanager
def no_collection() -> Iterator[None]:
    """Collection paused for the block; enabled again after it if it was before."""
    was = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was:
            gc.enable()
