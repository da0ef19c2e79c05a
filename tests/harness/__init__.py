"""The one test harness: every helper more than one test module uses.

- commands: the fixed git identity (GIT_ENV), `run`, `gitline`, `cli`, the `Git` client
- home: the one way to make a HOME (`make_home`) and a user's view of it (`Home`), with
  the controller started as a subprocess (`Home.start`)
- inprocess: the controller started in this process (`in_process`)
- http: a served HOME (`serve`, `serve_base`), tokens, raw and plain HTTP requests
- wait: `wait_for`, `free_port`
- lines: small workflows several tests push; corpus: where the shared corpus is
- sinks, workers, celeryruns, identity, runspecs, storm, hostile_cases, web, reactorline:
  kits of one kind of test each

Fixtures (`git`, `git_env`, `tmp_home`, `home`) are in tests/conftest.py.
"""
