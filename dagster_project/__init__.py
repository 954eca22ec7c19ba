"""Dagster definitions for adcombo: assets, resources, checks. Nothing imports this package."""
