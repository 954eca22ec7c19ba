"""Running the job from the command line: the same definitions and the same Dagster instance as
the UI (under the data folder), so CLI runs show up in the UI."""

from __future__ import annotations

import os
from pathlib import Path

import typer

from dagster_project.settings import Settings


def instance(settings: Settings):
    """The data folder's Dagster instance (SQLite, run-sharded: the kind the UI uses)."""
    from dagster import DagsterInstance

    home = Path(settings.dagster_home)
    home.mkdir(parents=True, exist_ok=True)
    config = home / "dagster.yaml"
    if not config.exists():
        config.write_text("telemetry:\n  enabled: false\n", encoding="utf-8")
    return DagsterInstance.from_config(str(home))


def materialize_all(settings: Settings, ingest_only: bool = False) -> bool:
    """Two runs, like a backfill then a refresh in the UI: first the raw assets (with the API
    source: every daily partition in one run), then everything downstream, unpartitioned."""
    from dagster import AssetKey
    from dagster._core.storage.tags import ASSET_PARTITION_RANGE_END_TAG, ASSET_PARTITION_RANGE_START_TAG

    from dagster_project.assets.ingestion import RAW_ASSETS, daily_partitions
    from dagster_project.definitions import build_definitions

    defs = build_definitions(settings)
    job = defs.resolve_implicit_global_asset_job_def()
    raw = [AssetKey(k) for k in RAW_ASSETS]
    rest = [k for k in defs.resolve_asset_graph().materializable_asset_keys if k not in raw]
    tags = {}
    if settings.source == "api":
        keys = daily_partitions(settings).get_partition_keys()
        if not keys:
            typer.echo("no partitions to ingest: check ADCOMBO_PARTITION_START/END", err=True)
            return False
        tags = {ASSET_PARTITION_RANGE_START_TAG: keys[0], ASSET_PARTITION_RANGE_END_TAG: keys[-1]}
        typer.echo(f"ingesting {len(keys)} daily partitions {keys[0]} .. {keys[-1]} from the ad-media API")
    else:
        typer.echo(f"importing files from {settings.import_path}")
    with instance(settings) as inst:
        first = job.execute_in_process(instance=inst, asset_selection=raw, tags=tags, raise_on_error=False)
        warn_failed_checks(first)
        if not first.success or ingest_only:
            return first.success
        result = job.execute_in_process(instance=inst, asset_selection=rest, raise_on_error=False)
        warn_failed_checks(result)
    return result.success


def warn_failed_checks(result) -> None:
    for ev in result.get_asset_check_evaluations():
        if not ev.passed:
            # A blocking check at ERROR stops the assets downstream of it (by design).
            blocked = " (blocking: assets downstream were not run)" if ev.severity.value == "ERROR" and ev.blocking else ""
            typer.echo(f"warning: check {ev.check_name} failed on {ev.asset_key.to_user_string()}{blocked}: "
                       f"{ {k: getattr(v, 'value', v) for k, v in ev.metadata.items()} }", err=True)


def latest_metadata(settings: Settings, asset: str) -> dict:
    from dagster import AssetKey

    with instance(settings) as inst:
        event = inst.get_latest_materialization_event(AssetKey(asset))
    if event is None or event.asset_materialization is None:
        return {}
    return {k: getattr(v, "value", v) for k, v in event.asset_materialization.metadata.items()}


def child_env(settings: Settings) -> dict[str, str]:
    """The environment of a child process (the Dagster webserver) that must see these settings."""
    return {**os.environ, **settings.to_env(), "DAGSTER_HOME": str(settings.dagster_home)}
