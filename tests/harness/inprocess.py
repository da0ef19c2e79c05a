"""The controller in this process, on a thread: the one in-process starter.

The file watcher is switched off and the safety-net poll is long (600 s), so whatever a
test sees happen was woken by the push itself (post-receive) or by the test's own poke.
HTTP listens on a free loopback port unless `listen=` says otherwise.
"""

from __future__ import annotations

import threading
import types
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from controller.app import Controller
from controller.settings import Settings
from tests.harness.wait import wait_for


@contextmanager
def in_process(home: Path, **settings: object) -> Iterator[Controller]:
    """A serving Controller of HOME with `settings` over gitline.yml's; stopped on exit.

    Yields once it listens (or, with no listener, once its push socket is up)."""
    settings = {"listen": "127.0.0.1:0", "poll_seconds": 600, **settings}
    ctl = Controller(Settings.load(home, **settings))
    ctl.watcher = types.SimpleNamespace(start=lambda: None, stop=lambda: None)
    stop = threading.Event()
    thread = threading.Thread(target=ctl.serve, args=(stop,), daemon=True)
    thread.start()
    try:
        if str(settings["listen"]).lower() in ("", "none", "off", "false"):
            wait_for(lambda: ctl.answers is not None, 30, "the push socket")
        else:
            wait_for(lambda: ctl.http is not None, 30, "the listener")
        yield ctl
    finally:
        stop.set()
        ctl.loop.poke()  # the loop waits for a poke or its (long) poll
        thread.join(timeout=30)
