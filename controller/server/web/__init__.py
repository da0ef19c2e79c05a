"""The web view (issue #12): server-rendered pages of the line, jobs, runs, resources and
the config, beside git and the API on `gitline serve --listen`. See docs/web.md."""
