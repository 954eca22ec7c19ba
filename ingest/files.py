"""Bring your own data: read a folder of exported files (CSV or Parquet, UTF-8).

The folder holds `ads`, `ad_daily_performance` and `asset_pools`, each as `<name>.csv` or
`<name>.parquet`, with exactly the columns of docs/ingestion.md. A file with missing or unknown
columns is refused as a whole (a wrong export, not a bad row); bad rows go through validation to
dead letters like API rows. Values are read as text (CSV) so validation, not the reader, decides.
"""

from __future__ import annotations

import os

import pandas as pd

from warehouse.schemas import RAW_SCHEMAS

FILE_TABLES = {"ads": "raw.ads", "ad_daily_performance": "raw.ad_daily_performance",
               "asset_pools": "raw.asset_pools"}
OPTIONAL_COLUMNS = {"raw.ad_daily_performance": {"conversions", "cost_micros"}, "raw.ads": {"headline_3"},
                    "raw.asset_pools": {"pinned_field"}}


class ImportFormatError(ValueError):
    pass


def find_files(folder: str) -> dict[str, str]:
    """table → file path; every table needs exactly one file."""
    if not os.path.isdir(folder):
        raise ImportFormatError(f"{folder} is not a folder")
    found = {}
    for name, table in FILE_TABLES.items():
        paths = [os.path.join(folder, name + ext) for ext in (".csv", ".parquet")]
        present = [p for p in paths if os.path.exists(p)]
        if not present:
            raise ImportFormatError(f"{folder} has no {name}.csv or {name}.parquet")
        if len(present) > 1:
            raise ImportFormatError(f"{folder} has both {name}.csv and {name}.parquet: keep one")
        found[table] = present[0]
    return found


def _check_columns(table: str, path: str, columns: list[str]) -> None:
    expected = [c for c, _ in RAW_SCHEMAS[table]]
    missing = [c for c in expected if c not in columns and c not in OPTIONAL_COLUMNS.get(table, set())]
    unknown = [c for c in columns if c not in expected]
    if missing or unknown:
        raise ImportFormatError(
            f"{os.path.basename(path)}: columns must be {expected}"
            + (f"; missing {missing}" if missing else "") + (f"; unknown {unknown}" if unknown else ""))


def read_rows(table: str, path: str) -> list[dict]:
    if path.endswith(".csv"):
        # utf-8-sig: spreadsheet exports start with a BOM. Undecodable bytes become U+FFFD, so one
        # broken row is rejected with its reason instead of the whole file failing to read.
        frame = pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8-sig",
                            encoding_errors="replace")
    else:
        frame = pd.read_parquet(path)
    _check_columns(table, path, list(frame.columns))
    frame = frame.astype(object).where(frame.notna(), None)
    return frame.to_dict("records")

