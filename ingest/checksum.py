"""Order-independent content checksum of a raw table, to prove a load lost and duplicated nothing."""

from __future__ import annotations

import datetime as dt
import hashlib

import pandas as pd

from warehouse.schemas import RAW_KEYS, RAW_SCHEMAS


def _norm(v) -> str:
    if v is None or v is pd.NA or (isinstance(v, float) and v != v):
        return "∅"
    if isinstance(v, (pd.Timestamp, dt.datetime)):
        return v.date().isoformat()
    if isinstance(v, dt.date):
        return v.isoformat()
    if hasattr(v, "item"):
        v = v.item()
    return str(v)


def table_checksum(table: str, frame: pd.DataFrame) -> str:
    """sha256 over the rows sorted by key, columns in schema order."""
    cols = [c for c, _ in RAW_SCHEMAS[table]]
    lines = sorted("\x1f".join(_norm(v) for v in row) for row in frame[cols].itertuples(index=False, name=None))
    h = hashlib.sha256()
    for line in lines:
        h.update(line.encode("utf-8", "surrogatepass") + b"\n")
    return h.hexdigest()


def rows_checksum(table: str, rows: list[dict]) -> str:
    from warehouse.schemas import to_frame

    return table_checksum(table, to_frame(table, rows))


__all__ = ["table_checksum", "rows_checksum", "RAW_KEYS"]
