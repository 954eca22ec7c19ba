"""The Dagster side: partitioned raw assets reload a partition in place; the reject check fails
above the threshold; the daily schedule asks for yesterday plus restated days."""

import datetime as dt

from dagster import DagsterInstance, build_schedule_context, materialize

import pytest

from dagster_project.assets import ingestion
from dagster_project.checks import ingestion_checks
from dagster_project.definitions import build_definitions
from dagster_project.resources import AdMediaApiResource, WarehouseResource
from dagster_project.settings import Settings
from warehouse import DuckDBWarehouse


@pytest.fixture
def settings(tmp_path):
    return Settings.load(home=tmp_path, world="tiny")


def _assets(settings):
    """The API source's raw assets and their reject checks, by name."""
    assets = {a.key.to_user_string(): a for a in ingestion.build_assets(settings)}
    checks = dict(zip(("raw_ads", "raw_ad_daily_performance", "raw_asset_pools"),
                      ingestion_checks.build_checks(settings)))
    return assets, checks


def _resources(tmp_path, **api):
    return {"admedia": AdMediaApiResource(world="tiny", seed=7, page_size=40, **api),
            "warehouse": WarehouseResource(duckdb_path=str(tmp_path / "w.duckdb"))}


def test_partition_materialised_twice_is_the_same_and_reports_counts(tmp_path, settings):
    res = _resources(tmp_path)
    assets, checks = _assets(settings)
    day = ingestion.daily_partitions(settings).get_partition_keys()[-1]
    with DagsterInstance.ephemeral() as instance:
        counts = []
        for _ in range(2):
            result = materialize([assets["raw_ad_daily_performance"], checks["raw_ad_daily_performance"]],
                                 partition_key=day, resources=res, instance=instance)
            assert result.success
            meta = result.asset_materializations_for_node("raw_ad_daily_performance")[0].metadata
            assert meta["rows_rejected"].value == 0 and meta["rows"].value > 0
            with DuckDBWarehouse(str(tmp_path / "w.duckdb")) as wh:
                counts.append((wh.row_count("raw.ad_daily_performance"),
                               wh.query("SELECT SUM(clicks) AS c FROM `raw.ad_daily_performance`")["c"].iloc[0]))
            assert all(e.passed for e in result.get_asset_check_evaluations())
        assert counts[0] == counts[1] and counts[0][0] == meta["rows"].value


def test_reject_check_fails_above_threshold(tmp_path, settings):
    res = _resources(tmp_path, malformed_rate=0.3)
    assets, checks = _assets(settings)
    day = ingestion.daily_partitions(settings).get_partition_keys()[-1]
    result = materialize([assets["raw_ad_daily_performance"], checks["raw_ad_daily_performance"]],
                         partition_key=day, resources=res, instance=DagsterInstance.ephemeral())
    assert result.success  # bad rows never stop the run silently: they are counted and checked
    meta = result.asset_materializations_for_node("raw_ad_daily_performance")[0].metadata
    assert meta["rows_rejected"].value > 0
    (check,) = result.get_asset_check_evaluations()
    assert not check.passed and check.metadata["rejected"].value == meta["rows_rejected"].value


def test_daily_schedule_requests_yesterday_and_restated_days(settings):
    from dagster_project.schedules import RESTATEMENT_DAYS

    defs = build_definitions(settings)
    schedule = defs.get_schedule_def("daily_ingestion")
    last = dt.date.fromisoformat(ingestion.daily_partitions(settings).get_partition_keys()[-1])
    ctx = build_schedule_context(scheduled_execution_time=dt.datetime.combine(last + dt.timedelta(days=5), dt.time(6)),
                                 repository_def=defs.get_repository_def())
    requests = schedule.evaluate_tick(ctx).run_requests
    assert requests[0].partition_key == last.isoformat() and not requests[0].asset_selection
    assert [r.partition_key for r in requests[1:]] == [
        (last - dt.timedelta(days=d)).isoformat() for d in range(1, RESTATEMENT_DAYS + 1)]


def test_files_asset_after_the_api_clears_the_previous_run_state(tmp_path):
    """The UI's import (the files asset, its folder in the launchpad config) switches like the CLI."""
    from _files_testlib import BYOD, add_run_state, copy, state_counts
    from dagster_project.resources import ModelStoreResource

    settings = Settings.load(home=tmp_path, world="tiny", source="files", import_path=str(BYOD))
    (asset,) = ingestion.build_assets(settings)
    res = {"warehouse": WarehouseResource(duckdb_path=str(tmp_path / "w.duckdb")),
           "model_store": ModelStoreResource(root=str(tmp_path / "models"))}
    with DuckDBWarehouse(str(tmp_path / "w.duckdb")) as wh:  # a folder after runs on the API
        add_run_state(wh)
    (tmp_path / "models").mkdir()
    (tmp_path / "models" / "CURRENT").write_text("m1\n")
    other = copy(BYOD, tmp_path / "export")
    config = {"ops": {"imported_files": {"config": {"path": str(other)}}}}
    assert materialize([asset], resources=res, instance=DagsterInstance.ephemeral(), run_config=config).success
    with DuckDBWarehouse(str(tmp_path / "w.duckdb")) as wh:
        assert set(state_counts(wh).values()) == {0}
    assert not (tmp_path / "models" / "CURRENT").exists()
