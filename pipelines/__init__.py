"""Beam entry points. Each module runs alone: `python -m pipelines.<name> --help`."""
