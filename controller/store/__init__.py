"""The only package that touches git objects (pygit2): the state branch and the config repo."""
