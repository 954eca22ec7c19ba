"""Write validated rows and their rejects to the warehouse, idempotently.

Each load is one MERGE per table (warehouse.sql): re-running the same partition leaves the same
table. Dead letters of a scope are replaced the same way, so their counts describe the latest load,
not the sum of all retries. The rows and their dead letters are written in one transaction
(Warehouse.merge_all): a failure part-way leaves the previous partition and its rejects whole.
"""

from __future__ import annotations

import datetime as dt
import json

import pandas as pd

from ingest.validate import Rejected, Validated
from warehouse.schemas import (ALL_SCHEMAS, DEAD_LETTERS_SCHEMA, DEAD_LETTERS_TABLE, RAW_CLUSTER_FIELDS,
                               RAW_KEYS, RAW_PARTITION_FIELD, RAW_SCHEMAS)
from warehouse.sql import Load, Scope

MAX_PAYLOAD_CHARS = 20_000
DEAD_LETTERS_CLUSTER = ("table_name", "partition_key")


def ensure_tables(wh) -> None:
    for table in RAW_SCHEMAS:
        wh.ensure_table(table, RAW_SCHEMAS[table], RAW_PARTITION_FIELD[table], RAW_CLUSTER_FIELDS[table])
    wh.ensure_table(DEAD_LETTERS_TABLE, DEAD_LETTERS_SCHEMA, None, list(DEAD_LETTERS_CLUSTER))


def raw_load(table: str, frame: pd.DataFrame, scope: Scope | None) -> Load:
    """A raw table's part of a transaction (Warehouse.merge_all): its rows merged on its keys
    within `scope`, the table created with its schema, partitioning and clustering if missing."""
    return Load(table, frame, tuple(RAW_KEYS[table]), scope, tuple(RAW_SCHEMAS[table]), RAW_PARTITION_FIELD[table],
                tuple(RAW_CLUSTER_FIELDS[table]))


def dead_letters_load(frame: pd.DataFrame, scope: Scope | None) -> Load:
    """The dead letters' part of a transaction: `frame` replaces the rows within `scope`."""
    return Load(DEAD_LETTERS_TABLE, frame, (), scope, tuple(DEAD_LETTERS_SCHEMA), None, DEAD_LETTERS_CLUSTER)


def payload_json(payload: dict) -> str:
    """The row as received; non-JSON values (dates, numpy) as text, broken characters escaped."""
    try:
        text = json.dumps(payload, ensure_ascii=False, default=str, sort_keys=True)
        text.encode("utf-8")
    except UnicodeEncodeError:  # lone surrogates cannot be stored as UTF-8: escape them
        text = json.dumps(payload, ensure_ascii=True, default=str, sort_keys=True)
    return text[:MAX_PAYLOAD_CHARS]


def dead_letter_frame(source: str, table: str, rejected: list[Rejected], partition_of) -> pd.DataFrame:
    now = pd.Timestamp.now(tz="UTC")
    rows = [{"source": source, "table_name": table, "partition_key": partition_of(r), "reason": r.reason,
             "payload": payload_json(r.payload), "ingested_at": now} for r in rejected]
    frame = pd.DataFrame(rows, columns=[c for c, _ in DEAD_LETTERS_SCHEMA])
    for c, kind in DEAD_LETTERS_SCHEMA:
        if kind == "STRING":
            frame[c] = frame[c].astype("string")
    frame["ingested_at"] = pd.to_datetime(frame["ingested_at"], utc=True)
    return frame


def load(wh, v: Validated, *, source: str, scope: Scope | None, partition_lo: str, partition_hi: str,
         partition_of) -> None:
    """Merge good rows of `v` into its table within `scope`, and replace the dead letters of
    (source, table, partitions lo..hi) with this load's rejects: both or neither."""
    dead = dead_letter_frame(source, v.table, v.rejected, partition_of)
    dead_scope = Scope(equals={"source": source, "table_name": v.table},
                       between={"partition_key": (partition_lo, partition_hi)})
    wh.merge_all([raw_load(v.table, v.frame, scope), dead_letters_load(dead, dead_scope)])


def day_scope(start: dt.date, end: dt.date) -> Scope:
    return Scope(between={"date": (start, end)})


__all__ = ["ensure_tables", "load", "raw_load", "dead_letters_load", "day_scope", "ALL_SCHEMAS"]
