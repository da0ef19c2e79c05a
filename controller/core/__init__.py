"""The pure core: the workflow model, the loader and the planner.

Nothing here does I/O: no git, no files, no processes, no clock. Time and data come in as
arguments; decisions go out as values. The edges (store, execution, reactor, server) do the work.
"""
