"""Column schemas of the warehouse tables (BigQuery types), shared by every adapter.

The raw tables' columns are exactly the bring-your-own-data columns of DESIGN.md, so an export
from another tool loads as it is.
"""

from __future__ import annotations

import pandas as pd

RAW_SCHEMAS: dict[str, list[tuple[str, str]]] = {
    "raw.ads": [
        ("ad_id", "STRING"),
        ("ad_group_id", "STRING"),
        ("campaign_id", "STRING"),
        ("industry", "STRING"),
        ("keyword", "STRING"),
        ("headline_1", "STRING"),
        ("headline_2", "STRING"),
        ("headline_3", "STRING"),
        ("description_1", "STRING"),
        ("description_2", "STRING"),
    ],
    "raw.ad_daily_performance": [
        ("date", "DATE"),
        ("ad_id", "STRING"),
        ("impressions", "INT64"),
        ("clicks", "INT64"),
        ("conversions", "INT64"),
        ("cost_micros", "INT64"),
    ],
    "raw.asset_pools": [
        ("ad_group_id", "STRING"),
        ("asset_id", "STRING"),
        ("asset_type", "STRING"),
        ("text", "STRING"),
        ("pinned_field", "STRING"),
    ],
}

TOP_COMBINATIONS_TABLE = "serving.top_combinations"

_PANDAS_TYPES = {"STRING": "string", "INT64": "Int64", "FLOAT64": "float64"}


def to_frame(table: str, rows: list[dict]) -> pd.DataFrame:
    """Rows as a DataFrame with exactly the table's columns and types.

    Unknown keys are dropped, missing optional values become nulls; strings stay strings.
    """
    schema = RAW_SCHEMAS[table]
    frame = pd.DataFrame.from_records(rows, columns=[name for name, _ in schema])
    for name, kind in schema:
        if kind == "DATE":
            frame[name] = pd.to_datetime(frame[name], format="%Y-%m-%d").dt.date
        else:
            frame[name] = frame[name].astype(_PANDAS_TYPES[kind])
    return frame
