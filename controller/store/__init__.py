"""The only package that touches git objects (pygit2; the git CLI where the CLI must start
fast): the state branch and the config repo."""
