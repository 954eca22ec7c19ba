"""Where pipelines read and write rows: Parquet files (local or gs://) or BigQuery tables.

A source named `bq://PROJECT.DATASET.TABLE` is read by the job itself from BigQuery; anything
else is a Parquet file pattern. The orchestrator only passes names, so in production the rows
never pass through it.
"""

from __future__ import annotations

import apache_beam as beam
import pyarrow as pa

BIGQUERY_PREFIX = "bq://"


def read_rows(source: str, validate: bool = True) -> beam.PTransform:
    """Rows as dicts from Parquet files, or from a BigQuery table named `bq://PROJECT.DATASET.TABLE`.

    BigQuery is read with the Storage Read API (DIRECT_READ): no export job and no temp files,
    which pays off when the snapshot would otherwise be exported to Parquet first.
    """
    if source.startswith(BIGQUERY_PREFIX):
        table = source[len(BIGQUERY_PREFIX):]
        project, _, rest = table.partition(".")
        # The table is checked when the read session opens (DIRECT_READ takes no `validate`).
        return beam.io.ReadFromBigQuery(table=f"{project}:{rest}", method=beam.io.ReadFromBigQuery.Method.DIRECT_READ)
    return beam.io.ReadFromParquet(source, validate=validate)


def bigquery_schema(schema: pa.Schema) -> str:
    kinds = {pa.string(): "STRING", pa.int64(): "INTEGER", pa.int32(): "INTEGER", pa.float64(): "FLOAT",
             pa.timestamp("us", tz="UTC"): "TIMESTAMP"}
    return ",".join(f"{f.name}:{kinds[f.type]}" for f in schema)
