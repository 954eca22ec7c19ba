"""The `adcombo` command: the whole job, its results and the Dagster UI from one entry point."""
