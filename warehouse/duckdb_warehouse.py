"""DuckDB adapter: the embedded default warehouse, one file under the data folder."""

from __future__ import annotations

import os
import threading
import uuid
from typing import Any, Mapping, Sequence

import duckdb
import pandas as pd
import sqlglot

from warehouse.base import WarehouseError, validate_table_name
from warehouse.sql import Load, Scope, merge_sql

# BigQuery column types as DuckDB types (DDL is per engine; queries are written once).
DUCKDB_TYPES = {"STRING": "VARCHAR", "INT64": "BIGINT", "FLOAT64": "DOUBLE", "DATE": "DATE",
                "TIMESTAMP": "TIMESTAMPTZ", "BOOL": "BOOLEAN"}


def to_duckdb_sql(sql: str) -> str:
    """Transpile BigQuery Standard SQL (`@param`, backticks) to DuckDB (`$param`)."""
    try:
        return ";\n".join(sqlglot.transpile(sql, read="bigquery", write="duckdb"))
    except sqlglot.errors.ParseError as exc:
        raise WarehouseError(f"cannot parse SQL as BigQuery Standard SQL: {exc}") from exc


class DuckDBWarehouse:
    def __init__(self, path: str, read_only: bool = False):
        self.path = path
        if path != ":memory:":
            os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
        self._con = duckdb.connect(path, read_only=read_only)
        self._lock = threading.Lock()  # one connection; Dagster may call from threads

    def _ensure_schema(self, dataset: str) -> None:
        self._con.execute(f'CREATE SCHEMA IF NOT EXISTS "{dataset}"')

    def replace_table(self, table: str, df: pd.DataFrame) -> int:
        dataset, name = validate_table_name(table)
        with self._lock:
            self._ensure_schema(dataset)
            self._con.register("_incoming", df)
            try:
                # One transaction: readers see the old table or the new one, never half of it.
                self._con.execute("BEGIN TRANSACTION")
                self._con.execute(
                    f'CREATE OR REPLACE TABLE "{dataset}"."{name}" AS SELECT * FROM _incoming'
                )
                self._con.execute("COMMIT")
            except Exception:
                self._con.execute("ROLLBACK")
                raise
            finally:
                self._con.unregister("_incoming")
        return len(df)

    def ensure_table(self, table: str, schema: Sequence[tuple[str, str]], partition_field: str | None = None,
                     cluster_fields: Sequence[str] = ()) -> None:
        # DuckDB has no partitions or clustering: one file, zone maps do the pruning.
        dataset, name = validate_table_name(table)
        cols = ", ".join(f'"{_ident(c)}" {DUCKDB_TYPES[t]}' for c, t in schema)
        with self._lock:
            self._ensure_schema(dataset)
            self._con.execute(f'CREATE TABLE IF NOT EXISTS "{dataset}"."{name}" ({cols})')
            have = {r[0] for r in self._con.execute(
                "SELECT column_name FROM information_schema.columns WHERE table_schema = ? AND table_name = ?",
                [dataset, name]).fetchall()}
            for c, t in schema:
                if c not in have:
                    self._con.execute(f'ALTER TABLE "{dataset}"."{name}" ADD COLUMN "{_ident(c)}" {DUCKDB_TYPES[t]}')

    def merge(self, table: str, df: pd.DataFrame, keys: Sequence[str], scope: Scope | None) -> int:
        return self.merge_all([Load(table, df, tuple(keys), scope, schema=())])[table]

    def merge_all(self, loads: Sequence[Load]) -> dict[str, int]:
        """Several loads in one transaction: every table changes, or none does (tables that do not
        exist yet are created inside it too, so a failed first load leaves no empty table; a load
        without a schema needs its table to exist)."""
        stages = [f"_stage_{uuid.uuid4().hex[:12]}" for _ in loads]
        statements = []
        for i, (load, stage) in enumerate(zip(loads, stages)):
            dataset, name = validate_table_name(load.table)
            cols = ", ".join(f'"{_ident(c)}" {DUCKDB_TYPES[t]}' for c, t in load.schema)
            sql, params = merge_sql(load.table, stage, list(load.frame.columns), list(load.keys), load.scope,
                                    param_prefix=f"s{i}_")
            create = f'CREATE TABLE IF NOT EXISTS "{dataset}"."{name}" ({cols})' if load.schema else ""
            statements.append((dataset, create, to_duckdb_sql(sql), params))
        with self._lock:
            for load, stage in zip(loads, stages):
                self._con.register(stage, _arrow(load.frame))
            try:
                self._con.execute("BEGIN TRANSACTION")
                for dataset, create, merge, params in statements:
                    if create:
                        self._con.execute(f'CREATE SCHEMA IF NOT EXISTS "{dataset}"')
                        self._con.execute(create)
                    self._con.execute(merge, params)
                self._con.execute("COMMIT")
            except Exception:
                self._con.execute("ROLLBACK")
                raise
            finally:
                for stage in stages:
                    self._con.unregister(stage)
        return {load.table: len(load.frame) for load in loads}

    def query(self, sql: str, params: Mapping[str, Any] | None = None) -> pd.DataFrame:
        translated = to_duckdb_sql(sql)
        with self._lock:
            return self._con.execute(translated, dict(params or {})).df()

    def table_exists(self, table: str) -> bool:
        dataset, name = validate_table_name(table)
        with self._lock:
            # fetchall, not fetchone: DuckDB 2 refuses register() on a connection with rows unread
            rows = self._con.execute(
                "SELECT count(*) FROM information_schema.tables "
                "WHERE table_schema = ? AND table_name = ?",
                [dataset, name],
            ).fetchall()
        return bool(rows and rows[0][0])

    def row_count(self, table: str) -> int:
        dataset, name = validate_table_name(table)
        if not self.table_exists(table):
            return 0
        with self._lock:
            return int(self._con.execute(f'SELECT count(*) FROM "{dataset}"."{name}"').fetchall()[0][0])

    def export_parquet(self, table: str, path: str) -> int:
        dataset, name = validate_table_name(table)
        if not self.table_exists(table):
            raise WarehouseError(f"table {table} does not exist; materialise its asset first")
        os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
        tmp = f"{path}.tmp"
        with self._lock:
            self._con.execute(
                f"COPY (SELECT * FROM \"{dataset}\".\"{name}\") TO '{_quote(tmp)}' (FORMAT parquet)"
            )
        os.replace(tmp, path)  # readers never see a half-written file
        return self.row_count(table)

    def close(self) -> None:
        with self._lock:
            self._con.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def _ident(name: str) -> str:
    from warehouse.sql import _col

    return _col(name)


def _arrow(df: pd.DataFrame):
    """pandas → Arrow so DATE columns of `datetime.date` stay dates, not strings."""
    import pyarrow as pa

    return pa.Table.from_pandas(df, preserve_index=False)


def _quote(path: str) -> str:
    return path.replace("'", "''")
