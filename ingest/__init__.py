"""Ingestion shared by every source (the ad-media API, imported files): validate rows, load them
idempotently into the warehouse, send rejects to dead letters. Pure rules in `validate`, I/O at the
edges (`files`, `api`, `load`); `run` ties them together for the Dagster assets and the CLI."""
