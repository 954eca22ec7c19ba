"""Schedules of the adcombo code location (registered by definitions.py)."""

SCHEDULES: list = []
