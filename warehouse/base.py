"""The warehouse interface every adapter implements.

Tables are named `dataset.table`. SQL handed to `query` is BigQuery Standard SQL with named
parameters (`@name`); adapters translate it for their engine. Identifiers are validated here
because they cannot be bound as parameters.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any, Mapping, Protocol, Sequence

import pandas as pd

if TYPE_CHECKING:
    from warehouse.sql import Load, Scope

_IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,127}$")


class WarehouseError(RuntimeError):
    pass


def validate_table_name(name: str) -> tuple[str, str]:
    """Split `dataset.table`, refusing anything that is not two plain identifiers."""
    parts = name.split(".")
    if len(parts) != 2 or not all(_IDENT.match(p) for p in parts):
        raise WarehouseError(
            f"invalid table name {name!r}: expected 'dataset.table' made of letters, digits, _"
        )
    return parts[0], parts[1]


def frame_rows(frame: pd.DataFrame) -> list[dict]:
    """A query result as dicts, SQL NULL as None (pandas' NaN is truthy, None is not)."""
    return frame.astype(object).where(frame.notna(), None).to_dict("records")


class Warehouse(Protocol):
    def replace_table(self, table: str, df: pd.DataFrame) -> int:
        """Atomically replace `table` with the rows of `df`; returns the row count."""

    def query(self, sql: str, params: Mapping[str, Any] | None = None) -> pd.DataFrame:
        """Run BigQuery Standard SQL with `@name` parameters and return the result."""

    def table_exists(self, table: str) -> bool: ...

    def row_count(self, table: str) -> int: ...

    def ensure_table(self, table: str, schema: Sequence[tuple[str, str]], partition_field: str | None = None,
                     cluster_fields: Sequence[str] = ()) -> None:
        """Create `table` with these (name, BigQuery type) columns if it does not exist; a table made
        by older code gets the columns it lacks (NULL in its rows): a schema grows by columns, never
        loses or retypes one, so a data folder written before an upgrade keeps its history."""

    def merge(self, table: str, df: pd.DataFrame, keys: Sequence[str], scope: "Scope | None") -> int:
        """Idempotent load in one atomic MERGE (see warehouse.sql): upsert `df` on `keys` and delete
        the target rows of `scope` that `df` does not hold. `df` has exactly the table's columns."""

    def merge_all(self, loads: "Sequence[Load]") -> dict[str, int]:
        """Several merges (warehouse.sql.Load) in one transaction: all tables change or none does.
        Returns rows per table."""

    def export_parquet(self, table: str, path: str) -> int:
        """Write the whole table as one Parquet file; returns the row count."""

    def close(self) -> None: ...
