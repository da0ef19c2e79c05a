"""Gitline's tests; shared helpers live in tests.harness (tests never import each other)."""
