"""Delivering notifications decided by the core."""
