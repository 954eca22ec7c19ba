"""API ingestion that faults cannot break: exact rows, no duplicates, idempotent partitions."""

import datetime as dt

import pytest

from admedia import chaos
from admedia.server import FaultConfig, serve_in_background
from ingest.checksum import rows_checksum, table_checksum
from ingest.run import ingest_performance, ingest_snapshot
from warehouse.schemas import DEAD_LETTERS_TABLE

from _ingest_testlib import TOKEN, fast_client

PERF = "raw.ad_daily_performance"


def _table(wh, table):
    return wh.query(f"SELECT * FROM `{table}`")


def _days(world):
    d = world.start_date
    while d <= world.end_date:
        yield d
        d += dt.timedelta(days=1)


def test_twenty_percent_failing_calls_lose_and_duplicate_nothing(small_world, duck):
    faults = FaultConfig.mixed(0.2, seed=3, retry_after=0, job_polls=2)
    with serve_in_background(small_world, TOKEN, faults=faults) as url:
        client = fast_client(url)
        for day in _days(small_world):  # one partition per day, as the daily assets do
            report = ingest_performance(client, duck, day, day)
            assert report.rejected == 0
        ingest_snapshot(client, duck, "raw.ads", small_world.start_date, small_world.end_date)
        ingest_snapshot(client, duck, "raw.asset_pools", small_world.start_date, small_world.end_date)
    expected = {
        PERF: small_world.daily_performance(small_world.start_date, small_world.end_date),
        "raw.ads": small_world.ads(),
        "raw.asset_pools": small_world.asset_pools(),
    }
    for table, rows in expected.items():
        got = _table(duck, table)
        assert len(got) == len(rows), table
        assert table_checksum(table, got) == rows_checksum(table, rows), table
    assert duck.row_count(DEAD_LETTERS_TABLE) == 0


def test_same_partition_twice_leaves_the_same_table(small_world, duck):
    day = small_world.end_date
    with serve_in_background(small_world, TOKEN) as url:
        client = fast_client(url)
        ingest_performance(client, duck, day - dt.timedelta(days=1), day)
        first = table_checksum(PERF, _table(duck, PERF)), duck.row_count(PERF)
        ingest_performance(client, duck, day, day)
        ingest_performance(client, duck, day - dt.timedelta(days=1), day)
        assert (table_checksum(PERF, _table(duck, PERF)), duck.row_count(PERF)) == first


def test_restated_day_is_corrected_by_reingesting_it(small_world, duck):
    faults = FaultConfig(restatement_rate=0.3, seed=5)
    day = small_world.end_date
    final = small_world.daily_performance(day, day)
    with serve_in_background(small_world, TOKEN, faults=faults) as url:
        client = fast_client(url)
        ingest_performance(client, duck, day, day)
        first = _table(duck, PERF)
        assert table_checksum(PERF, first) != rows_checksum(PERF, final)  # preliminary clicks
        assert first["clicks"].sum() > sum(r["clicks"] for r in final)
        ingest_performance(client, duck, day, day)  # the day's report again: revised numbers
    got = _table(duck, PERF)
    assert len(got) == len(final) and table_checksum(PERF, got) == rows_checksum(PERF, final)


def test_malformed_rows_go_to_dead_letters_with_reasons_and_good_rows_load(small_world, duck):
    rate, seed = 0.08, 11
    faults = FaultConfig(malformed_rate=rate, seed=seed)
    s, e = small_world.start_date, small_world.end_date
    with serve_in_background(small_world, TOKEN, faults=faults) as url:
        client = fast_client(url)
        perf = ingest_performance(client, duck, s, e)
        pools = ingest_snapshot(client, duck, "raw.asset_pools", s, e)
    rows = small_world.daily_performance(s, e)
    bad = [r for r in rows if chaos.malformed_kind(seed, "ad_daily_performance", chaos.row_key("ad_daily_performance", r), rate)]
    good = [r for r in rows if r not in bad]
    assert bad and perf.rejected == len(bad) and perf.loaded == len(good)
    assert table_checksum(PERF, _table(duck, PERF)) == rows_checksum(PERF, good)
    dead = duck.query(f"SELECT table_name, reason, payload FROM `{DEAD_LETTERS_TABLE}`")
    assert len(dead) == perf.rejected + pools.rejected
    assert dead["reason"].str.len().min() > 0 and dead["payload"].str.startswith("{").all()
    reasons = set(dead["reason"].str.split(":").str[0])
    assert {"missing field", "clicks > impressions", "negative count"} <= reasons
    assert reasons & {"bad date", "date out of range"}
    assert {"broken encoding", "over-long text"} & reasons
    # Re-ingesting replaces the dead letters of those partitions too: no pile-up.
    with serve_in_background(small_world, TOKEN, faults=faults) as url:
        ingest_performance(fast_client(url), duck, s, e)
    assert duck.row_count(DEAD_LETTERS_TABLE) == len(dead)


def test_a_page_that_fails_for_good_is_resumed_not_refetched(small_world, monkeypatch):
    from admedia.client import AdMediaError
    from ingest import api

    calls = []
    with serve_in_background(small_world, TOKEN) as url:
        client = fast_client(url, max_attempts=1)
        real = client._request

        def flaky(method, path, params=None, json=None):
            calls.append(path)
            if "/rows" in path and len([c for c in calls if "/rows" in c]) == 3:
                err = AdMediaError("gave up", 503, path)
                err.exhausted = True
                raise err
            return real(method, path, params=params, json=json)

        monkeypatch.setattr(client, "_request", flaky)
        rows = api.fetch_performance(client, small_world.start_date, small_world.end_date)
    assert rows == small_world.daily_performance(small_world.start_date, small_world.end_date)
    assert sum(1 for c in calls if c == "/v1/reports/jobs") == 1  # resumed the same job


def test_a_partition_and_its_dead_letters_are_written_together_or_not_at_all(small_world, duck, monkeypatch):
    import warehouse.duckdb_warehouse as dw

    faults = FaultConfig(malformed_rate=0.08, seed=11)
    day = small_world.end_date
    with serve_in_background(small_world, TOKEN, faults=faults) as url:
        client = fast_client(url)
        ingest_performance(client, duck, day - dt.timedelta(days=1), day - dt.timedelta(days=1))

        def state():  # the rows' checksum and the dead letters' count
            return table_checksum(PERF, _table(duck, PERF)), len(_table(duck, DEAD_LETTERS_TABLE))

        before = state()
        # the dead letters' statement fails after the rows' MERGE ran in the same transaction
        real = dw.merge_sql
        monkeypatch.setattr(dw, "merge_sql", lambda t, *a, **k: ("SELECT ERROR('injected failure')", {})
                            if t == DEAD_LETTERS_TABLE else real(t, *a, **k))
        with pytest.raises(Exception, match="injected failure"):
            ingest_performance(client, duck, day, day)
    assert state() == before and before[1] > 0
