"""The `gitline` command: thin. Each command parses, calls the service layer, prints.

`main` is the group (cli/base.py); each module adds a group of commands to it. Start-up
stays quick: only click at import, everything else inside the commands that need it.
"""

from controller.cli import (  # noqa: F401  commands
    asking,
    checking,
    reading,
    serving,
    sources,
    tokens,
)
from controller.cli.base import main

__all__ = ["main"]
