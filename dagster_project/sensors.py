"""Sensors of the adcombo code location (registered by definitions.py)."""

SENSORS: list = []
