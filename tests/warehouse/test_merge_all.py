"""Several tables in one transaction (Warehouse.merge_all) on both adapters: all change or none,
with a failure injected at each step."""

import pandas as pd
import pytest

from ingest.checksum import table_checksum
from warehouse.schemas import RAW_KEYS, RAW_SCHEMAS, to_frame
from warehouse.sql import Load, Scope

ADS, PERF = "raw.ads", "raw.ad_daily_performance"


def _ad(ad_id, text="h1"):
    return dict(ad_id=ad_id, ad_group_id="g", campaign_id="c", industry="i", keyword="k", headline_1=text,
                headline_2="h2", headline_3="", description_1="d1", description_2="")


def _perf(day, ad_id, imp, clk):
    return dict(date=day, ad_id=ad_id, impressions=imp, clicks=clk)


def _loads(ads, perf):
    return [Load(ADS, to_frame(ADS, ads), tuple(RAW_KEYS[ADS]), Scope.everything(), tuple(RAW_SCHEMAS[ADS])),
            Load(PERF, to_frame(PERF, perf), tuple(RAW_KEYS[PERF]), Scope.everything(), tuple(RAW_SCHEMAS[PERF]),
                 "date")]


def _state(wh):
    return {t: table_checksum(t, wh.query(f"SELECT * FROM `{t}`")) if wh.table_exists(t) else None
            for t in (ADS, PERF)}


@pytest.fixture
def loaded(any_wh):
    any_wh.merge_all(_loads([_ad("a"), _ad("b")], [_perf("2025-06-01", "a", 10, 1)]))
    return any_wh


def test_merge_all_replaces_every_table(loaded):
    counts = loaded.merge_all(_loads([_ad("c", "new")], [_perf("2025-06-02", "c", 5, 0), _perf("2025-06-03", "c", 7, 1)]))
    assert counts == {ADS: 1, PERF: 2}
    assert loaded.query(f"SELECT ad_id, headline_1 FROM `{ADS}`").values.tolist() == [["c", "new"]]
    assert loaded.row_count(PERF) == 2


@pytest.mark.parametrize("failing", [ADS, PERF])
def test_a_failing_statement_rolls_every_table_back(loaded, monkeypatch, failing):
    """The second statement failing undoes the first; the first failing leaves the second unrun."""
    import warehouse.bigquery_warehouse as bq
    import warehouse.duckdb_warehouse as duck

    before = _state(loaded)
    for module in (bq, duck):
        real = module.merge_sql

        def broken(target, *a, _real=real, **kw):
            if target == failing:
                return "SELECT ERROR('injected failure')", {}
            return _real(target, *a, **kw)

        monkeypatch.setattr(module, "merge_sql", broken)
    with pytest.raises(Exception, match="injected failure"):
        loaded.merge_all(_loads([_ad("z")], [_perf("2025-06-09", "z", 1, 0)]))
    assert _state(loaded) == before


def test_duckdb_first_load_that_fails_creates_no_table(duckdb_wh, monkeypatch):
    import warehouse.duckdb_warehouse as duck

    real = duck.merge_sql
    monkeypatch.setattr(duck, "merge_sql", lambda t, *a, **k: ("SELECT ERROR('injected failure')", {})
                        if t == PERF else real(t, *a, **k))
    with pytest.raises(Exception, match="injected failure"):
        duckdb_wh.merge_all(_loads([_ad("a")], [_perf("2025-06-01", "a", 1, 0)]))
    assert not duckdb_wh.table_exists(ADS) and not duckdb_wh.table_exists(PERF)


def test_bigquery_staging_failure_leaves_targets_and_no_stage(bigquery_wh, monkeypatch):
    wh = bigquery_wh
    wh.merge_all(_loads([_ad("a")], [_perf("2025-06-01", "a", 10, 1)]))
    before = _state(wh)
    real, calls = wh._stage, []

    def stage(like, df, schema=None):
        calls.append(like)
        if like == PERF:
            raise RuntimeError("injected staging failure")
        return real(like, df, schema)

    monkeypatch.setattr(wh, "_stage", stage)
    with pytest.raises(RuntimeError, match="injected staging failure"):
        wh.merge_all(_loads([_ad("z")], [_perf("2025-06-09", "z", 1, 0)]))
    assert calls == [ADS, PERF] and _state(wh) == before
    left = [t.table_id for t in wh._client.list_tables(f"{wh.project}.raw")]
    assert not [t for t in left if t.startswith("_stage_")], left


def test_parameters_of_several_statements_do_not_collide(duckdb_wh):
    """Two scoped loads in one script: each statement's scope binds its own values."""
    duckdb_wh.merge_all(_loads([_ad("a")], [_perf("2025-06-01", "a", 10, 1), _perf("2025-06-02", "a", 20, 2)]))
    day = lambda d: Scope(between={"date": (pd.Timestamp(d).date(), pd.Timestamp(d).date())})  # noqa: E731
    loads = [Load(PERF, to_frame(PERF, [_perf("2025-06-01", "a", 11, 1)]), ("date", "ad_id"), day("2025-06-01"),
                  tuple(RAW_SCHEMAS[PERF])),
             Load(ADS, to_frame(ADS, [_ad("b")]), ("ad_id",), Scope(equals={"ad_id": "a"}), tuple(RAW_SCHEMAS[ADS]))]
    duckdb_wh.merge_all(loads)
    got = duckdb_wh.query(f"SELECT CAST(date AS STRING) AS d, impressions FROM `{PERF}` ORDER BY d").values.tolist()
    assert got == [["2025-06-01", 11], ["2025-06-02", 20]]
    assert sorted(duckdb_wh.query(f"SELECT ad_id FROM `{ADS}`")["ad_id"]) == ["b"]
