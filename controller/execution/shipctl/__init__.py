"""`shipctl`: the helper on a job's PATH, compatible with Shippable's commands.

It reads and writes only workspace files found from the environment (`JOB_PATH`,
`JOB_STATE`, `JOB_PREVIOUS_STATE`): never git, never the network. Values are printed on
stdout like the original so that `$(shipctl ...)` works; errors go to stderr.

Writes to an output `res` go to `OUT/<res>/version.json` (a written record, see
`core/versionrecord.py`: post_* replaces the values, put_* adds to them; a `versionName`
key sets the version name) and files to `OUT/<res>/state/`. Writes to the job itself
(`put_resource_state $JOB_NAME K V`) go, as on Shippable, to `$JOB_STATE/<job>.env`.

Modules: `console` (errors, arguments, printing), `workspace` (finding and reading a
job's resources), `read`, `write`, `files` and `utility` (the commands), `commands` (the
table and `main`). It runs inside the job's sandbox through the wrapper
`execution/workspace.install_shipctl` writes, which imports `main` from here.
"""

from controller.execution.shipctl.commands import main

__all__ = ["main"]
