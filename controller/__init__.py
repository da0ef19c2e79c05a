"""Gitline: a git-native assembly-line controller."""

__version__ = "0.1.0"
