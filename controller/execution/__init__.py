"""Running jobs: the Executor protocol, the workspace a run sees, and the local executor."""
