"""BigQuery adapter (google-cloud-bigquery): the production warehouse.

Datasets map to `dataset` in `dataset.table`; the project comes from the client. Loads stage rows
in a short-lived table (`_stage_*`, expiring after an hour so a crash leaves nothing behind for
long) and MERGE them into the target in one statement (warehouse.sql), which BigQuery runs
atomically. Staging uses batch load jobs by default (free, no streaming buffer); `staging="stream"`
uses insert_rows_json, which the local BigQuery emulator supports (its load jobs do not).
"""

from __future__ import annotations

import datetime as dt
import math
import os
import uuid
from typing import Any, Mapping, Sequence

import pandas as pd

from warehouse.base import WarehouseError, validate_table_name
from warehouse.sql import Load, Scope, merge_sql

_CHUNK = 2000  # rows per insert request: well under the 10 MB request limit for ad text


def _param(name: str, value: Any):
    from google.cloud import bigquery

    if isinstance(value, bool):
        kind = "BOOL"
    elif isinstance(value, int):
        kind = "INT64"
    elif isinstance(value, float):
        kind = "FLOAT64"
    elif isinstance(value, dt.datetime):
        kind = "TIMESTAMP"
    elif isinstance(value, dt.date):
        kind = "DATE"
    elif value is None or isinstance(value, str):
        kind = "STRING"
    else:
        raise WarehouseError(f"query parameter {name!r} has unsupported type {type(value).__name__}")
    return bigquery.ScalarQueryParameter(name, kind, value)


def _json_value(v: Any) -> Any:
    if v is None or v is pd.NA or v is pd.NaT or (isinstance(v, float) and math.isnan(v)):
        return None
    if isinstance(v, (pd.Timestamp, dt.datetime)):
        return v.isoformat()
    if isinstance(v, dt.date):
        return v.isoformat()
    if hasattr(v, "item"):  # numpy scalars
        return v.item()
    return v


def _records(df: pd.DataFrame) -> list[dict]:
    cols = list(df.columns)
    return [{c: _json_value(v) for c, v in zip(cols, row)} for row in df.itertuples(index=False, name=None)]


def _bq_type(dtype) -> str:
    kind = getattr(dtype, "kind", "O")
    if str(dtype).startswith(("Int", "int", "UInt", "uint")):
        return "INT64"
    if kind == "f":
        return "FLOAT64"
    if kind == "b" or str(dtype) == "boolean":
        return "BOOL"
    if kind == "M" or "datetime64" in str(dtype):
        return "TIMESTAMP"
    return "STRING"


class BigQueryWarehouse:
    def __init__(self, project: str | None = None, location: str | None = None, client=None,
                 staging: str = "load", api_endpoint: str | None = None):
        from google.cloud import bigquery

        if staging not in ("load", "stream"):
            raise WarehouseError(f"staging must be 'load' or 'stream', got {staging!r}")
        if client is None:
            kwargs: dict[str, Any] = {}
            if api_endpoint:  # an emulator: no credentials to find
                from google.api_core.client_options import ClientOptions
                from google.auth.credentials import AnonymousCredentials

                kwargs = dict(client_options=ClientOptions(api_endpoint=api_endpoint),
                              credentials=AnonymousCredentials())
            client = bigquery.Client(project=project, location=location, **kwargs)
        self._client = client
        self.project = client.project
        self.staging = staging

    def _ref(self, table: str) -> str:
        dataset, name = validate_table_name(table)
        return f"{self.project}.{dataset}.{name}"

    def _ensure_dataset(self, dataset: str) -> None:
        self._client.create_dataset(f"{self.project}.{dataset}", exists_ok=True)

    # ---- schema ---------------------------------------------------------------------------------

    def ensure_table(self, table: str, schema: Sequence[tuple[str, str]], partition_field: str | None = None,
                     cluster_fields: Sequence[str] = ()) -> None:
        from google.cloud import bigquery

        dataset, _ = validate_table_name(table)
        self._ensure_dataset(dataset)
        t = bigquery.Table(self._ref(table), schema=[bigquery.SchemaField(c, k) for c, k in schema])
        if partition_field:
            t.time_partitioning = bigquery.TimePartitioning(type_=bigquery.TimePartitioningType.DAY,
                                                            field=partition_field)
        if cluster_fields:
            t.clustering_fields = list(cluster_fields)
        have = {f.name for f in self._client.create_table(t, exists_ok=True).schema}  # an existing one as it is
        missing = [(c, k) for c, k in schema if c not in have]
        for c, k in missing:  # adding a NULLABLE column is a schema change BigQuery makes in place
            self._run(f"ALTER TABLE `{self._ref(table)}` ADD COLUMN IF NOT EXISTS `{c}` {k}", {})
        if missing:
            t = self._client.get_table(self._ref(table))
            names = {f.name for f in t.schema}
            lagging = [bigquery.SchemaField(c, k) for c, k in missing if c not in names]
            if lagging:  # BigQuery's metadata follows the DDL, so never there; the local emulator's
                t.schema = [*t.schema, *lagging]  # catalogue does not (staging tables copy its schema)
                self._client.update_table(t, ["schema"])

    def _stage(self, like: str, df: pd.DataFrame, schema=None) -> str:
        """A staging table with the target's schema holding `df`; returns `dataset.table`."""
        from google.cloud import bigquery

        dataset, _ = validate_table_name(like)
        name = f"{dataset}._stage_{uuid.uuid4().hex[:12]}"
        if schema is None:
            schema = self._client.get_table(self._ref(like)).schema
        t = bigquery.Table(self._ref(name), schema=schema)
        t.expires = dt.datetime.now(dt.timezone.utc) + dt.timedelta(hours=1)
        self._client.create_table(t)
        rows = _records(df)
        try:
            if self.staging == "load":
                job = self._client.load_table_from_json(
                    rows, self._ref(name), job_config=bigquery.LoadJobConfig(schema=schema))
                job.result()
            else:
                for i in range(0, len(rows), _CHUNK):
                    errors = self._client.insert_rows_json(self._ref(name), rows[i:i + _CHUNK])
                    if errors:
                        raise WarehouseError(f"staging {len(errors)} rows into {name} failed: {errors[:3]}")
        except BaseException:
            self._drop(name)  # a half-filled stage is never merged; do not leave it for an hour
            raise
        return name

    def _drop(self, table: str) -> None:
        self._client.delete_table(self._ref(table), not_found_ok=True)

    # ---- loads ----------------------------------------------------------------------------------

    def merge(self, table: str, df: pd.DataFrame, keys: Sequence[str], scope: Scope | None) -> int:
        validate_table_name(table)
        stage = self._stage(table, df)
        try:
            sql, params = merge_sql(table, stage, list(df.columns), list(keys), scope)
            self._run(sql, params)
        finally:
            self._drop(stage)
        return len(df)

    def merge_all(self, loads: Sequence[Load]) -> dict[str, int]:
        """Several loads in one multi-statement transaction: every table changes, or none does.

        Each frame is staged first (an expiring `_stage_*` table); then one script runs every MERGE
        between BEGIN TRANSACTION and COMMIT TRANSACTION, which BigQuery rolls back whole if any
        statement fails. Tables are created before (BigQuery allows no DDL on permanent tables
        inside a transaction): a failed first load may leave them, empty.
        """
        for load in loads:
            if load.schema:
                self.ensure_table(load.table, load.schema, load.partition_field, load.cluster_fields)
        stages: list[str] = []
        try:
            statements, params = [], {}
            for i, load in enumerate(loads):
                stages.append(self._stage(load.table, load.frame))
                sql, p = merge_sql(load.table, stages[-1], list(load.frame.columns), list(load.keys), load.scope,
                                   param_prefix=f"s{i}_")
                statements.append(sql + ";")
                params.update(p)
            self._run("\n".join(["BEGIN TRANSACTION;", *statements, "COMMIT TRANSACTION;"]), params)
        finally:
            for stage in stages:
                self._drop(stage)
        return {load.table: len(load.frame) for load in loads}

    def replace_table(self, table: str, df: pd.DataFrame) -> int:
        from google.cloud import bigquery

        dataset, _ = validate_table_name(table)
        self._ensure_dataset(dataset)
        schema = [bigquery.SchemaField(c, _bq_type(df[c].dtype)) for c in df.columns]
        stage = self._stage(table, df, schema=schema)
        try:
            # One statement: readers see the old table or the new one.
            self._run(f"CREATE OR REPLACE TABLE `{table}` AS SELECT * FROM `{stage}`", {})
        finally:
            self._drop(stage)
        return len(df)

    # ---- reads ----------------------------------------------------------------------------------

    def _run(self, sql: str, params: Mapping[str, Any]):
        from google.cloud import bigquery

        config = bigquery.QueryJobConfig(
            query_parameters=[_param(k, v) for k, v in (params or {}).items()],
            default_dataset=None,
        )
        return self._client.query(sql, job_config=config, project=self.project).result()

    def query(self, sql: str, params: Mapping[str, Any] | None = None) -> pd.DataFrame:
        result = self._run(sql, params or {})
        names = [f.name for f in result.schema]
        # Row by row rather than to_dataframe(): no db-dtypes / Storage API needed.
        return pd.DataFrame([tuple(r.values()) for r in result], columns=names)

    def table_exists(self, table: str) -> bool:
        from google.api_core.exceptions import NotFound

        try:
            self._client.get_table(self._ref(table))
            return True
        except NotFound:
            return False

    def row_count(self, table: str) -> int:
        if not self.table_exists(table):
            return 0
        return int(self.query(f"SELECT COUNT(*) AS n FROM `{table}`")["n"].iloc[0])

    def export_parquet(self, table: str, path: str) -> int:
        # Fine for the raw tables' size; at scale use an EXPORT DATA job to gs:// instead.
        if not self.table_exists(table):
            raise WarehouseError(f"table {table} does not exist; materialise its asset first")
        frame = self.query(f"SELECT * FROM `{table}`")
        os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
        tmp = f"{path}.tmp"
        frame.to_parquet(tmp, index=False)
        os.replace(tmp, path)
        return len(frame)

    def close(self) -> None:
        self._client.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
