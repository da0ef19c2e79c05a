"""The table of shipctl commands and `main`, the entry point (`shipctl <command> ...`)."""

from __future__ import annotations

import sys
from collections.abc import Sequence

from controller.execution.shipctl import files, read, utility, write
from controller.execution.shipctl.console import Command, ShipctlError

COMMANDS: dict[str, Command] = {
    **read.COMMANDS, **write.COMMANDS, **files.COMMANDS, **utility.COMMANDS,
}


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point: `shipctl <command> [args...]`; returns the exit code."""
    args = list(sys.argv[1:] if argv is None else argv)
    if not args or args[0] in ("-h", "--help", "help"):
        print("usage: shipctl <command> [args...]\ncommands: " + " ".join(sorted(COMMANDS)))
        return 0 if args else 1
    command = COMMANDS.get(args[0])
    if command is None:
        print(f"shipctl: unknown command: {args[0]}", file=sys.stderr)
        return 1
    try:
        return command(args[1:])
    except ShipctlError as exc:
        print(f"shipctl {args[0]}: {exc}", file=sys.stderr)
        return exc.code
    except OSError as exc:
        print(f"shipctl {args[0]}: {exc}", file=sys.stderr)
        return 1
