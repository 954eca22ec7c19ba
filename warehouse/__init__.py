"""Warehouse adapters: one interface, SQL written once in BigQuery Standard SQL."""

from warehouse.base import Warehouse, WarehouseError, validate_table_name
from warehouse.duckdb_warehouse import DuckDBWarehouse

__all__ = ["Warehouse", "WarehouseError", "DuckDBWarehouse", "validate_table_name", "open_warehouse"]


def open_warehouse(backend: str, **kwargs) -> Warehouse:
    """Build the adapter named by configuration ("duckdb" or "bigquery")."""
    if backend == "duckdb":
        return DuckDBWarehouse(**kwargs)
    if backend == "bigquery":
        from warehouse.bigquery_warehouse import BigQueryWarehouse  # google-cloud only when used

        return BigQueryWarehouse(**kwargs)
    raise WarehouseError(f"unknown warehouse backend {backend!r}; expected 'duckdb' or 'bigquery'")
