"""Metadata for reading in the UI: tables with a schema, rounded numbers, plots inline.

Numbers people compare are rounded where they are made (4 significant digits, percentages as
percent); tables are Dagster table metadata (rendered inline, sortable) rather than markdown.
"""

from __future__ import annotations

import math
from typing import Mapping

from dagster import MetadataValue, TableColumn, TableRecord, TableSchema

_KIND = {"i": "int", "u": "int", "f": "float", "b": "bool"}


def rounded(value: float, digits: int = 4) -> float:
    """`digits` significant digits (NaN and inf pass through)."""
    if value is None or not math.isfinite(value) or value == 0:
        return value
    return round(float(value), max(0, digits - 1 - int(math.floor(math.log10(abs(value))))))


def percent(share: float, decimals: int = 1) -> float:
    """A share as percent, rounded: 0.5833186 -> 58.3 (name the key with `%`)."""
    return round(float(share) * 100, decimals) if share is not None and math.isfinite(share) else share


def table(frame, digits: int = 4, descriptions: Mapping[str, str] | None = None) -> MetadataValue:
    """A DataFrame as Dagster table metadata with a schema; floats rounded, at most 100 rows."""
    frame = frame.head(100)
    columns, kinds = [], {}
    for name, dtype in frame.dtypes.items():
        kinds[name] = _KIND.get(dtype.kind, "string")
        columns.append(TableColumn(str(name), kinds[name], description=(descriptions or {}).get(str(name))))
    records = []
    for row in frame.to_dict("records"):
        out = {}
        for k, v in row.items():
            if v is None or (isinstance(v, float) and math.isnan(v)):
                out[str(k)] = None  # an empty cell (every record has every field)
            elif kinds[k] == "float":
                out[str(k)] = rounded(float(v), digits)
            elif kinds[k] == "int":
                out[str(k)] = int(v)
            elif kinds[k] == "bool":
                out[str(k)] = bool(v)
            else:
                out[str(k)] = str(v)
        records.append(TableRecord(out))
    return MetadataValue.table(records, TableSchema(columns))
