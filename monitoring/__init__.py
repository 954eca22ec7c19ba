"""Data and score drift between the training set and each scoring run."""
