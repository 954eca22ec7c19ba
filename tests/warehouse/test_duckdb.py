import datetime as dt

import pandas as pd
import pytest

from warehouse import DuckDBWarehouse, WarehouseError, validate_table_name
from warehouse.duckdb_warehouse import to_duckdb_sql
from warehouse.schemas import to_frame


@pytest.fixture
def wh(tmp_path):
    with DuckDBWarehouse(str(tmp_path / "w.duckdb")) as w:
        yield w


def test_replace_table_is_idempotent(wh):
    rows = [{"date": "2026-11-01", "ad_id": "a1", "impressions": 10, "clicks": 1}]
    frame = to_frame("raw.ad_daily_performance", rows)
    assert wh.replace_table("raw.ad_daily_performance", frame) == 1
    assert wh.replace_table("raw.ad_daily_performance", frame) == 1
    assert wh.row_count("raw.ad_daily_performance") == 1
    out = wh.query("SELECT date, clicks, conversions FROM `raw.ad_daily_performance`")
    assert out["date"].iloc[0] == pd.Timestamp("2026-11-01") or out["date"].iloc[0] == dt.date(2026, 11, 1)
    assert pd.isna(out["conversions"].iloc[0])


def test_bigquery_sql_with_parameters(wh):
    wh.replace_table("raw.t", pd.DataFrame({"a": [1, 2, 3], "b": ["x", "y", "x"]}))
    out = wh.query("SELECT SUM(a) AS s FROM `raw.t` WHERE b = @b", {"b": "x"})
    assert out["s"].iloc[0] == 4
    # A value with SQL in it stays a value.
    assert wh.query("SELECT COUNT(*) AS n FROM `raw.t` WHERE b = @b", {"b": "x' OR '1'='1"})["n"].iloc[0] == 0


def test_invalid_identifiers_are_refused(wh):
    for bad in ["raw", "raw.t; DROP TABLE x", "a.b.c", 'raw."t"']:
        with pytest.raises(WarehouseError):
            validate_table_name(bad)
    with pytest.raises(WarehouseError):
        wh.replace_table("raw.bad name", pd.DataFrame({"a": [1]}))


def test_export_parquet_roundtrip(wh, tmp_path):
    wh.replace_table("raw.t", pd.DataFrame({"a": [1, 2]}))
    path = str(tmp_path / "snap" / "t.parquet")
    assert wh.export_parquet("raw.t", path) == 2
    assert pd.read_parquet(path)["a"].tolist() == [1, 2]
    with pytest.raises(WarehouseError, match="does not exist"):
        wh.export_parquet("raw.missing", path)


def test_transpile_keeps_parameters():
    assert "$start" in to_duckdb_sql("SELECT * FROM `raw.t` WHERE d >= @start")
