"""What users ask of a line, answered once for every caller: the CLI, the HTTP API, the web view.

A module per concern; refusals are typed in core/errors.py, which each caller maps in one
place. `repos` opens a home's branches, `names` checks that a job exists, `status` and
`history` are the read side (dataclasses in `views`), `actions` are trigger, approve,
reject, cancel and replay, each by an `Actor`, `logs` reads and follows a run's log, and
`apibind` binds the API's callables to a running controller. No click, no HTTP, no
pygit2 at import: `gitline status` stays quick.
"""
