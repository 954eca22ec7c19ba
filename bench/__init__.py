"""Benchmarks (scripts, not tests): `python -m bench.scoring --help`."""
