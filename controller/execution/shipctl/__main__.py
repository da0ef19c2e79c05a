"""`python -m controller.execution.shipctl <command> [args...]`."""

import sys

from controller.execution.shipctl.commands import main

sys.exit(main())
