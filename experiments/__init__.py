"""A/B/n experiments: deterministic arms with tracking ids, exports, and results analysis."""
