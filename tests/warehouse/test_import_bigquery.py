"""A file import on BigQuery (the local emulator): staged, then one transaction; a failure in any
statement leaves every table as it was."""

from pathlib import Path

import pytest

from ingest.importer import ImportOptions, import_files

ROOT = Path(__file__).resolve().parents[2]
TABLES = ("raw.ads", "raw.ad_daily_performance", "raw.asset_pools", "raw.dead_letters")


def _state(wh):
    out = {}
    for t in TABLES:
        frame = wh.query(f"SELECT * FROM `{t}`").astype(str)
        out[t] = sorted(map(tuple, frame.values.tolist()))
    return out


def _import(wh, folder, **kw):
    import datetime as dt

    return import_files(wh, str(ROOT / "examples" / folder), ImportOptions(today=dt.date(2025, 7, 1), **kw))


@pytest.mark.parametrize("failing", TABLES)
def test_bigquery_import_is_all_or_nothing(bigquery_wh, monkeypatch, failing):
    first = _import(bigquery_wh, "byod")
    assert first.ok
    before = _state(bigquery_wh)
    assert len(before["raw.ad_daily_performance"]) == first.files["raw.ad_daily_performance"].loaded

    import warehouse.bigquery_warehouse as bq

    real = bq.merge_sql
    monkeypatch.setattr(bq, "merge_sql", lambda t, *a, **k: ("SELECT ERROR('injected failure')", {})
                        if t == failing else real(t, *a, **k))
    with pytest.raises(Exception, match="injected failure"):
        _import(bigquery_wh, "byod_ja", encoding="cp932")
    assert _state(bigquery_wh) == before
    stages = [t.table_id for t in bigquery_wh._client.list_tables(f"{bigquery_wh.project}.raw")
              if t.table_id.startswith("_stage_")]
    assert stages == []
    monkeypatch.undo()
    second = _import(bigquery_wh, "byod_ja", encoding="cp932")
    assert second.ok
    assert bigquery_wh.row_count("raw.ads") == second.files["raw.ads"].loaded
    texts = bigquery_wh.query("SELECT text FROM `raw.asset_pools`")["text"]
    assert texts.str.contains("{KeyWord:", regex=False).any()  # the syntax is kept as written


def test_split_plan_queries_run_on_both_warehouses(bigquery_wh, duckdb_wh):
    """models.split's two small queries (the rows stay in the warehouse) plan the same split."""
    from models.split import plan_from_warehouse

    for wh in (bigquery_wh, duckdb_wh):
        assert _import(wh, "byod_ja", encoding="cp932").ok
    on_bigquery, on_duckdb = plan_from_warehouse(bigquery_wh), plan_from_warehouse(duckdb_wh)
    assert on_bigquery == on_duckdb
    assert on_duckdb.method == "last_days" and on_duckdb.days == 5 and on_duckdb.served_ads == 96


def test_an_import_after_the_api_empties_the_run_state_on_bigquery(bigquery_wh):
    """The switch's empty loads and the source record go through BigQuery's staged transaction too."""
    import pandas as pd

    from ingest.source import Source, recorded_source
    from monitoring.prediction_log import PREDICTION_LOG_SCHEMA, PREDICTION_LOG_TABLE
    from warehouse.schemas import RESULTS_TABLE

    def run_state():
        now = pd.Timestamp.now(tz="UTC")
        log = pd.DataFrame([{"valid_from": pd.Timestamp("2025-07-01").date(), "predicted_at": now,
                             "model_version": "m1", "source": "served_ad", "creative_id": c, "ad_group_id": "ag",
                             "arm": "", "predicted_ctr": 0.01} for c in ("a", "b")])
        bigquery_wh.ensure_table(PREDICTION_LOG_TABLE, PREDICTION_LOG_SCHEMA)
        bigquery_wh.merge(PREDICTION_LOG_TABLE, log, keys=[], scope=None)
        bigquery_wh.replace_table(RESULTS_TABLE, pd.DataFrame({"experiment_id": ["e"], "lift": [0.1]}))

    run_state()  # runs on the API: no source recorded
    first = _import(bigquery_wh, "byod")
    assert first.ok and first.cleared == {PREDICTION_LOG_TABLE: 2, RESULTS_TABLE: 1}
    assert bigquery_wh.row_count(PREDICTION_LOG_TABLE) == bigquery_wh.row_count(RESULTS_TABLE) == 0
    run_state()  # runs on the files
    again = _import(bigquery_wh, "byod_ja", encoding="cp932")  # files again (another export): kept
    assert again.ok and again.cleared is None and bigquery_wh.row_count(PREDICTION_LOG_TABLE) == 2
    assert recorded_source(bigquery_wh) == Source("files", str(ROOT / "examples" / "byod_ja"))
