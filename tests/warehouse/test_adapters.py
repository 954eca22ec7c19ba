"""One contract, two adapters: DuckDB and BigQuery (through the local emulator)."""

import datetime as dt

import pandas as pd
import pytest

from warehouse.schemas import RAW_CLUSTER_FIELDS, RAW_KEYS, RAW_PARTITION_FIELD, RAW_SCHEMAS, to_frame
from warehouse.sql import Scope, merge_sql

PERF = "raw.ad_daily_performance"


def _perf(rows):
    return to_frame(PERF, [dict(zip(["date", "ad_id", "impressions", "clicks"], r)) for r in rows])


def _table(wh):
    out = wh.query(f"SELECT date, ad_id, impressions, clicks FROM `{PERF}` ORDER BY date, ad_id")
    return [(pd.Timestamp(d).date().isoformat(), a, int(i), int(c)) for d, a, i, c in out.itertuples(index=False)]


@pytest.fixture
def perf_wh(any_wh):
    any_wh.ensure_table(PERF, RAW_SCHEMAS[PERF], RAW_PARTITION_FIELD[PERF], RAW_CLUSTER_FIELDS[PERF])
    any_wh.ensure_table(PERF, RAW_SCHEMAS[PERF], RAW_PARTITION_FIELD[PERF], RAW_CLUSTER_FIELDS[PERF])  # idempotent
    return any_wh


def _day(d):
    return Scope(between={"date": (dt.date.fromisoformat(d), dt.date.fromisoformat(d))})


def test_partition_overwrite_replaces_exactly_that_partition(perf_wh):
    wh = perf_wh
    wh.merge(PERF, _perf([("2025-06-01", "a", 10, 1), ("2025-06-01", "b", 20, 2), ("2025-06-02", "a", 30, 3)]),
             RAW_KEYS[PERF], Scope(between={"date": (dt.date(2025, 6, 1), dt.date(2025, 6, 2))}))
    # Restated day: a revised, b gone, c new; the other day is untouched.
    wh.merge(PERF, _perf([("2025-06-01", "a", 10, 0), ("2025-06-01", "c", 5, 1)]), RAW_KEYS[PERF], _day("2025-06-01"))
    expected = [("2025-06-01", "a", 10, 0), ("2025-06-01", "c", 5, 1), ("2025-06-02", "a", 30, 3)]
    assert _table(wh) == expected
    # The same load again: the same table.
    wh.merge(PERF, _perf([("2025-06-01", "a", 10, 0), ("2025-06-01", "c", 5, 1)]), RAW_KEYS[PERF], _day("2025-06-01"))
    assert _table(wh) == expected
    assert wh.row_count(PERF) == 3


def test_upsert_without_scope_keeps_other_keys_and_whole_table_scope_replaces(any_wh):
    wh = any_wh
    t = "raw.ads"
    wh.ensure_table(t, RAW_SCHEMAS[t])
    row = dict(ad_id="x", ad_group_id="g", campaign_id="c", industry="i", keyword="k", headline_1="h1",
               headline_2="h2", headline_3="", description_1="d1", description_2="d2")
    wh.merge(t, to_frame(t, [row, {**row, "ad_id": "y"}]), RAW_KEYS[t], None)
    wh.merge(t, to_frame(t, [{**row, "headline_1": "new"}]), RAW_KEYS[t], None)
    got = wh.query("SELECT ad_id, headline_1 FROM `raw.ads` ORDER BY ad_id")
    assert got.values.tolist() == [["x", "new"], ["y", "h1"]]
    wh.merge(t, to_frame(t, [{**row, "ad_id": "z"}]), RAW_KEYS[t], Scope.everything())
    assert wh.query("SELECT ad_id FROM `raw.ads`")["ad_id"].tolist() == ["z"]


def test_a_table_made_by_older_code_gets_the_columns_it_lacks(any_wh):
    """An upgrade that adds a column to a history table keeps the rows written before it (NULL there)."""
    import pandas as pd

    wh, t = any_wh, "raw.history_upgrade"
    old = [("checked_at", "TIMESTAMP"), ("status", "STRING")]
    wh.ensure_table(t, old)
    at = pd.Timestamp("2026-01-01", tz="UTC")
    wh.merge(t, pd.DataFrame({"checked_at": [at], "status": ["ok"]}), ["checked_at"], None)
    new = [*old, ("score_ks_pvalue", "FLOAT64"), ("score_reference", "STRING")]
    wh.ensure_table(t, new)
    wh.ensure_table(t, new)  # already there: nothing to add
    wh.merge(t, pd.DataFrame({"checked_at": [at + pd.Timedelta(days=1)], "status": ["warn"], "score_ks_pvalue": [0.5],
                              "score_reference": ["pools at training"]}), ["checked_at"], None)
    got = wh.query(f"SELECT status, score_ks_pvalue, score_reference FROM `{t}` ORDER BY checked_at")
    assert got["status"].tolist() == ["ok", "warn"]
    assert pd.isna(got["score_ks_pvalue"][0]) and got["score_ks_pvalue"][1] == 0.5
    assert pd.isna(got["score_reference"][0]) and got["score_reference"][1] == "pools at training"


def test_query_parameters_bind_values(any_wh):
    any_wh.replace_table("raw.t", pd.DataFrame({"a": [1, 2, 3], "b": ["x", "y", "x"]}))
    assert int(any_wh.query("SELECT SUM(a) AS s FROM `raw.t` WHERE b = @b", {"b": "x"})["s"].iloc[0]) == 4
    assert int(any_wh.query("SELECT COUNT(*) AS n FROM `raw.t` WHERE b = @b", {"b": "x' OR '1'='1"})["n"].iloc[0]) == 0
    assert any_wh.table_exists("raw.t") and not any_wh.table_exists("raw.nope")


def test_export_parquet(perf_wh, tmp_path):
    perf_wh.merge(PERF, _perf([("2025-06-01", "a", 10, 1)]), RAW_KEYS[PERF], _day("2025-06-01"))
    path = str(tmp_path / "snap" / "p.parquet")
    assert perf_wh.export_parquet(PERF, path) == 1
    back = pd.read_parquet(path)
    assert list(back.columns) == [c for c, _ in RAW_SCHEMAS[PERF]]
    assert back["clicks"].tolist() == [1]


def test_bigquery_tables_are_partitioned_and_clustered(bigquery_wh):
    bigquery_wh.ensure_table(PERF, RAW_SCHEMAS[PERF], RAW_PARTITION_FIELD[PERF], RAW_CLUSTER_FIELDS[PERF])
    t = bigquery_wh._client.get_table(bigquery_wh._ref(PERF))
    assert t.time_partitioning.field == "date" and t.clustering_fields == ["ad_id"]


def test_merge_sql_is_bigquery_sql_with_explicit_columns():
    sql, params = merge_sql("raw.t", "raw._s", ["date", "ad_id", "clicks"], ["date", "ad_id"],
                            Scope(between={"date": ("a", "b")}, equals={"ad_id": "x"}))
    assert "INSERT (date, ad_id, clicks) VALUES (S.date, S.ad_id, S.clicks)" in sql
    assert "INSERT ROW" not in sql and "@scope_lo_0" in sql and set(params) == {"scope_eq_0", "scope_lo_0", "scope_hi_0"}
    with pytest.raises(Exception):
        merge_sql("raw.t", "raw._s", ["a; DROP"], [], None)
