"""Shared NLP preprocessing for adcombo: pure functions plus the Beam DoFns that wrap them.

Importing this package does not import apache_beam; only ``transforms.dofns`` does, so the
Dagster code location and the model code can use the pure core cheaply.
"""
