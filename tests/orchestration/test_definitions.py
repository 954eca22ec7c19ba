import subprocess
import sys

from dagster import AssetKey

from dagster_project.definitions import build_definitions
from dagster_project.settings import Settings

ASSETS = {
    "raw_ads", "raw_ad_daily_performance", "raw_asset_pools", "warehouse_snapshot", "tokenizer",
    "training_set", "ctr_model", "production_model", "top_combinations", "drift_report",
    "ab_assignments", "experiment_launch", "raw_creative_performance", "experiment_results", "model_evaluation",
    "prediction_log", "live_accuracy",
}


def test_definitions_load_with_every_asset_and_resource(tmp_path, monkeypatch):
    monkeypatch.setenv("ADCOMBO_HOME", str(tmp_path))
    defs = build_definitions(Settings.load())
    keys = {k.to_user_string() for k in defs.resolve_asset_graph().get_all_asset_keys()}
    assert keys == ASSETS
    assert set(defs.resources) == {"paths", "warehouse", "admedia", "beam_runner", "model_store"}
    assert defs.resources["model_store"].root == str(tmp_path / "models")
    job = defs.resolve_implicit_global_asset_job_def()
    assert job is not None
    graph = defs.resolve_asset_graph()
    assert AssetKey("production_model") in graph.get(AssetKey("top_combinations")).parent_keys


def test_code_location_loads_without_heavy_imports():
    code = (
        "import sys, dagster_project.definitions as d; "
        "heavy = [m for m in ('apache_beam', 'lightgbm', 'sentencepiece', 'sklearn') if m in sys.modules]; "
        "print(','.join(heavy))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""


def test_settings_reject_bad_values_with_the_variable_named(monkeypatch):
    import pytest

    from dagster_project.settings import SettingsError

    monkeypatch.setenv("ADCOMBO_BEAM_WORKERS", "two")
    with pytest.raises(SettingsError, match="ADCOMBO_BEAM_WORKERS"):
        Settings.load()
    monkeypatch.setenv("ADCOMBO_BEAM_WORKERS", "2")
    monkeypatch.setenv("ADCOMBO_RUNNER_PROFILE", "dataflow")
    with pytest.raises(SettingsError, match="ADCOMBO_WAREHOUSE=bigquery"):
        Settings.load()


def test_demo_refuses_an_unknown_world_before_deleting_anything(tmp_path):
    from pathlib import Path

    marker = tmp_path / "warehouse.duckdb"
    marker.write_text("keep me")
    adcombo = str(Path(sys.executable).with_name("adcombo"))
    out = subprocess.run([adcombo, "demo", "--world", "bogus", "--home", str(tmp_path)],
                         capture_output=True, text=True, timeout=120)
    assert out.returncode != 0 and "unknown preset 'bogus'" in out.stdout + out.stderr
    assert marker.read_text() == "keep me"
