"""All or nothing: an import failed at any step leaves the warehouse exactly as it was."""

import pytest

from _files_testlib import BYOD_JA, TODAY, add_run_state, state, write_folder
from ingest.importer import ImportOptions, import_files
from ingest.source import SOURCE_TABLE, STATE_TABLES, Source, record_load

# what the second import (files after the API) writes: its tables, its source, and the run state emptied
TABLES = ("raw.ads", "raw.ad_daily_performance", "raw.asset_pools", "raw.dead_letters", SOURCE_TABLE, *STATE_TABLES)


@pytest.fixture
def before(duck, tmp_path):
    """A warehouse holding data (a first import, with a dead letter) recorded as the API's and a run
    on it, and its exact state: the second import switches the kind of source."""
    folder = write_folder(tmp_path / "first", transform=lambda n, t: t + "2099-01-01,ad00001-01,1,0,0,0\n"
                          if n == "ad_daily_performance" else t)
    assert import_files(duck, str(folder), ImportOptions(today=TODAY)).ok
    add_run_state(duck)
    duck.merge_all([record_load(Source("api"))])
    s = state(duck)
    assert all(s[t] for t in TABLES)
    return s


def _second(duck):
    return import_files(duck, str(BYOD_JA), ImportOptions(encoding="cp932", today=TODAY))


def _fail(*_a, **_k):
    raise RuntimeError("injected failure")


@pytest.mark.parametrize("step", ["find_files", "open_table_file", "validate", "reject_unknown_ads", "loads"])
def test_failure_before_writing_changes_nothing(duck, before, monkeypatch, step):
    import ingest.importer as importer

    if step == "open_table_file":  # the second file fails while the first has been read
        real, calls = importer.open_table_file, []

        def second_fails(*a, **k):
            calls.append(a[0])
            if len(calls) == 2:
                raise RuntimeError("injected failure")
            return real(*a, **k)

        monkeypatch.setattr(importer, "open_table_file", second_fails)
    else:
        monkeypatch.setattr(importer, step, _fail)
    with pytest.raises(RuntimeError, match="injected failure"):
        _second(duck)
    assert state(duck) == before


@pytest.mark.parametrize("table", TABLES)
def test_failure_in_any_statement_of_the_transaction_rolls_back(duck, before, monkeypatch, table):
    import warehouse.duckdb_warehouse as dw

    real = dw.merge_sql
    monkeypatch.setattr(dw, "merge_sql", lambda t, *a, **k: ("SELECT ERROR('injected failure')", {})
                        if t == table else real(t, *a, **k))
    with pytest.raises(Exception, match="injected failure"):
        _second(duck)
    assert state(duck) == before


def test_failure_at_commit_rolls_back(duck, before, monkeypatch):
    """The last moment: every statement ran, the commit fails."""
    con, calls = duck._con, []

    class Failing:
        def __getattr__(self, name):
            return getattr(con, name)

        def execute(self, sql, *a):
            calls.append(sql)
            if sql == "COMMIT":
                raise RuntimeError("injected failure at commit")
            return con.execute(sql, *a)

    monkeypatch.setattr(duck, "_con", Failing())
    with pytest.raises(RuntimeError, match="injected failure at commit"):
        _second(duck)
    monkeypatch.undo()
    assert sum("MERGE" in c for c in calls) == len(TABLES)
    assert state(duck) == before


def test_a_successful_second_import_replaces_everything(duck, before):
    result = _second(duck)
    assert result.ok
    after = state(duck)
    assert all(after[t] != before[t] for t in TABLES)
    # the dead letters now describe this import alone
    assert {r[1] for r in after["raw.dead_letters"]} == {"raw.ad_daily_performance"}
