"""`adcombo`: run the job on the current settings, show its results, open the UI.

Every command works on the data folder named by ADCOMBO_HOME (default: `.adcombo` in the
checkout). `run` and `demo` materialise the same Dagster definitions the UI shows, and record
their runs in the same Dagster instance, so the UI shows CLI runs too.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Optional

import typer

app = typer.Typer(add_completion=False, no_args_is_help=True, help=__doc__)

# What `demo --fresh` may delete: only what adcombo itself writes under the data folder.
MANAGED = ["warehouse.duckdb", "warehouse.duckdb.wal", "snapshots", "artifacts", "training_set", "models", "scores",
           "source.json", "simulator", "exports", "monitoring"]
REPORT_ASSETS = ["raw_ads", "raw_ad_daily_performance", "raw_asset_pools", "training_set", "ctr_model", "top_combinations",
                 "drift_report", "ab_assignments", "experiment_results"]


def _configure(home: Optional[Path], world: Optional[str] = None) -> str:
    """Resolve the data folder and point Dagster's instance at it before definitions load."""
    if home is not None:
        os.environ["ADCOMBO_HOME"] = str(home.resolve())
    if world is not None:
        os.environ["ADCOMBO_WORLD"] = world
    from dagster_project.settings import Settings

    settings = Settings.from_env()
    dagster_home = os.environ.setdefault("DAGSTER_HOME", os.path.join(settings.home, "dagster"))
    os.makedirs(dagster_home, exist_ok=True)
    config = os.path.join(dagster_home, "dagster.yaml")
    if not os.path.exists(config):
        with open(config, "w", encoding="utf-8") as f:
            f.write("telemetry:\n  enabled: false\n")
    return settings.home


def _materialize_all(ingest_only: bool = False) -> bool:
    """Two runs, like a backfill then a refresh in the UI: first the raw assets (with the API
    source: every daily partition in one run), then everything downstream, unpartitioned."""
    from dagster import AssetKey, DagsterInstance
    from dagster._core.storage.tags import ASSET_PARTITION_RANGE_END_TAG, ASSET_PARTITION_RANGE_START_TAG

    from dagster_project.assets import ingestion
    from dagster_project.definitions import defs

    job = defs.resolve_implicit_global_asset_job_def()
    raw = [AssetKey(k) for k in ingestion.RAW_ASSETS]
    rest = [k for k in defs.resolve_asset_graph().materializable_asset_keys if k not in raw]
    tags = {}
    if ingestion.SETTINGS.source == "api":
        keys = ingestion.PARTITIONS.get_partition_keys()
        if not keys:
            typer.echo("no partitions to ingest: check ADCOMBO_PARTITION_START/END", err=True)
            return False
        tags = {ASSET_PARTITION_RANGE_START_TAG: keys[0], ASSET_PARTITION_RANGE_END_TAG: keys[-1]}
        typer.echo(f"ingesting {len(keys)} daily partitions {keys[0]} .. {keys[-1]} from the ad-media API")
    else:
        typer.echo(f"importing files from {ingestion.SETTINGS.import_path}")
    with DagsterInstance.get() as instance:
        first = job.execute_in_process(instance=instance, asset_selection=raw, tags=tags, raise_on_error=False)
        _warn_failed_checks(first)
        if not first.success or ingest_only:
            return first.success
        result = job.execute_in_process(instance=instance, asset_selection=rest, raise_on_error=False)
        _warn_failed_checks(result)
    return result.success


def _warn_failed_checks(result) -> None:
    for ev in result.get_asset_check_evaluations():
        if not ev.passed:
            # A blocking check at ERROR stops the assets downstream of it (by design).
            blocked = " (blocking: assets downstream were not run)" if ev.severity.value == "ERROR" and ev.blocking else ""
            typer.echo(f"warning: check {ev.check_name} failed on {ev.asset_key.to_user_string()}{blocked}: "
                       f"{ {k: getattr(v, 'value', v) for k, v in ev.metadata.items()} }", err=True)


def _latest_metadata(asset: str) -> dict:
    from dagster import AssetKey, DagsterInstance

    with DagsterInstance.get() as instance:
        event = instance.get_latest_materialization_event(AssetKey(asset))
    if event is None or event.asset_materialization is None:
        return {}
    return {k: getattr(v, "value", v) for k, v in event.asset_materialization.metadata.items()}


def _top_frame(home: str, ad_group: Optional[str], k: int):
    from dagster_project.definitions import warehouse_resource
    from dagster_project.settings import Settings
    from warehouse.schemas import TOP_COMBINATIONS_TABLE

    with warehouse_resource(Settings.from_env()).open() as wh:  # the warehouse the definitions use
        if not wh.table_exists(TOP_COMBINATIONS_TABLE):
            raise typer.BadParameter(f"no results in {home}: run `adcombo run` (or `adcombo demo`) first")
        sql = (
            "SELECT ad_group_id, rank, h1_asset_id, h2_asset_id, h3_asset_id, d1_asset_id, d2_asset_id, "
            "headline_1, headline_2, headline_3, description_1, description_2, score, model_version "
            f"FROM `{TOP_COMBINATIONS_TABLE}` WHERE rank <= @k "
            "AND (@ad_group = '' OR ad_group_id = @ad_group) ORDER BY ad_group_id, rank"
        )
        return wh.query(sql, {"k": k, "ad_group": ad_group or ""})


def _print_top(frame, groups: int) -> None:
    for ad_group_id, rows in list(frame.groupby("ad_group_id", sort=True))[:groups]:
        typer.echo(f"\n  {ad_group_id}")
        for r in rows.itertuples():
            typer.echo(
                f"   #{r.rank} {r.score:.4f}  {r.headline_1} | {r.headline_2} | {r.headline_3}"
                f"  /  {r.description_1} | {r.description_2}"
            )


@app.command()
def run(home: Optional[Path] = typer.Option(None, help="data folder (default: $ADCOMBO_HOME)")):
    """Materialise every asset on the current settings (same definitions as the UI)."""
    _configure(home)
    if not _materialize_all():
        typer.echo("run failed: see the step errors above (or the run in the Dagster UI)", err=True)
        raise typer.Exit(1)


@app.command()
def demo(
    home: Optional[Path] = typer.Option(None, help="data folder (default: $ADCOMBO_HOME)"),
    world: str = typer.Option("demo", help="simulator world preset: tiny, small, demo, shifted, default"),
    fresh: bool = typer.Option(True, help="start from an empty warehouse and no artifacts"),
):
    """The whole job on the local defaults: simulator → DuckDB → Beam → LightGBM → Beam scoring."""
    from admedia.world import WorldConfig

    try:
        WorldConfig.preset(world)  # before anything is deleted
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="--world") from None
    data = _configure(home, world)
    if fresh:
        for name in MANAGED:
            path = os.path.join(data, name)
            if os.path.isdir(path):
                shutil.rmtree(path)
            elif os.path.exists(path):
                os.remove(path)
    os.environ["ADCOMBO_SOURCE"] = "api"  # the demo is the simulator, whatever was imported before
    typer.echo(f"adcombo demo: world '{world}', data folder {data}")
    started = time.perf_counter()
    if not _materialize_all():
        typer.echo("demo failed: see the step errors above", err=True)
        raise typer.Exit(1)
    _report(data, time.perf_counter() - started)


def _report(home: str, seconds: float) -> None:
    meta = {asset: _latest_metadata(asset) for asset in REPORT_ASSETS}
    model, score = meta["ctr_model"], meta["top_combinations"]
    typer.echo("\n== adcombo report ==")
    for asset in ("raw_ads", "raw_ad_daily_performance", "raw_asset_pools"):
        m = meta[asset]
        typer.echo(f"ingested {m.get('table', asset)}: {m.get('rows', 0):,} rows, {m.get('rows_rejected', 0):,} rejected "
                   f"({m.get('rows_per_second', 0):,} rows/s)")
    typer.echo(f"training examples: {meta['training_set'].get('examples', 0):,}")
    typer.echo(
        f"model {model.get('version')}: {model.get('num_trees')} trees, valid AUC {model.get('valid_auc', float('nan')):.4f}, "
        f"log loss {model.get('valid_logloss', float('nan')):.5f}, calibration {model.get('valid_calibration', float('nan')):.3f}"
    )
    typer.echo(
        f"scored {score.get('combinations_scored', 0):,} combinations of {score.get('ad_groups', 0):,} ad groups "
        f"in {score.get('seconds', 0):.1f}s ({score.get('combinations_per_second', 0):,}/s); "
        f"{score.get('combinations_rejected', 0):,} rejected by pins and width limits"
    )
    drift, assignments, results = meta["drift_report"], meta["ab_assignments"], meta["experiment_results"]
    if drift:
        typer.echo(f"drift against the training set: {drift.get('status')} (score PSI {drift.get('score_psi', float('nan')):.3f})")
    if assignments:
        typer.echo(f"experiment {assignments.get('experiment_id')}: {assignments.get('creatives', 0):,} creatives "
                   f"from {assignments.get('start_date')}; upload file {assignments.get('export')}")
    if results:
        typer.echo(f"delivered so far: production lift over random control {results.get('production_lift', float('nan')):+.1%} "
                   f"(95% lower bound {results.get('production_lift_low', float('nan')):+.1%})")
    typer.echo("top 3 of a few ad groups:")
    _print_top(_top_frame(home, None, 3), groups=3)
    typer.echo(f"\ndone in {seconds / 60:.1f} min. Next: `adcombo top --out top.csv`, or `make ui`.")


@app.command("import")
def import_(
    path: Path = typer.Argument(..., help="folder with ads, ad_daily_performance, asset_pools (.csv or .parquet)"),
    home: Optional[Path] = typer.Option(None, help="data folder (default: $ADCOMBO_HOME)"),
):
    """Import your own exported files; later `adcombo run` trains and scores on them alone."""
    data = _configure(home)
    folder = str(path.resolve())
    from ingest.files import ImportFormatError, find_files

    try:
        find_files(folder)  # fail before switching the source, with a message that says what is missing
    except ImportFormatError as exc:
        typer.echo(f"cannot import: {exc}", err=True)
        raise typer.Exit(2)
    from dagster_project.settings import write_source_file

    # Recorded in the data folder so `run`, `top` and the UI keep using these files.
    write_source_file(data, "files", folder)
    os.environ.pop("ADCOMBO_SOURCE", None)
    os.environ.pop("ADCOMBO_IMPORT_PATH", None)  # the folder just recorded is the one to load
    if not _materialize_all(ingest_only=True):
        typer.echo("import failed: see the errors above", err=True)
        raise typer.Exit(1)
    for asset in ("raw_ads", "raw_ad_daily_performance", "raw_asset_pools"):
        m = _latest_metadata(asset)
        typer.echo(f"imported {m.get('table')}: {m.get('rows', 0):,} rows, {m.get('rows_rejected', 0):,} rejected"
                   + (f" {m.get('reject_reasons')}" if m.get("rows_rejected") else ""))
    typer.echo(f"source is now files ({folder}); `adcombo run` trains and scores on them, "
               "`adcombo source api` switches back. Rejected rows: table raw.dead_letters.")


@app.command()
def source(
    use: Optional[str] = typer.Argument(None, help="'api' to switch back to the ad-media API"),
    home: Optional[Path] = typer.Option(None, help="data folder (default: $ADCOMBO_HOME)"),
):
    """Show where raw data comes from (api or files), or switch back to the API."""
    data = _configure(home)
    from dagster_project.settings import Settings, write_source_file

    if use is not None:
        if use != "api":
            raise typer.BadParameter("only 'api' here; use `adcombo import PATH` for files")
        write_source_file(data, "api")
    s = Settings.from_env()
    typer.echo(f"source: {s.source}" + (f" ({s.import_path})" if s.source == "files" else ""))


@app.command()
def top(
    home: Optional[Path] = typer.Option(None, help="data folder (default: $ADCOMBO_HOME)"),
    k: int = typer.Option(3, min=1, help="combinations per ad group"),
    ad_group: Optional[str] = typer.Option(None, help="only this ad group"),
    out: Optional[Path] = typer.Option(None, help="write a CSV instead of printing"),
    groups: int = typer.Option(10, help="ad groups to print (ignored with --out)"),
):
    """Top combinations per ad group: ids and texts of the five positions, score, model version."""
    data = _configure(home)
    frame = _top_frame(data, ad_group, k)
    if out is not None:
        frame.to_csv(out, index=False)
        typer.echo(f"wrote {len(frame):,} rows for {frame['ad_group_id'].nunique():,} ad groups to {out}")
        return
    _print_top(frame, groups)


@app.command()
def ui(
    home: Optional[Path] = typer.Option(None, help="data folder (default: $ADCOMBO_HOME)"),
    port: int = typer.Option(3000),
    host: str = typer.Option("127.0.0.1"),
):
    """Open the Dagster UI (and daemon) on this code location."""
    _configure(home)
    dagster = os.path.join(os.path.dirname(sys.executable), "dagster")
    cmd = [dagster, "dev", "-m", "dagster_project.definitions", "-h", host, "-p", str(port)]
    typer.echo(f"Dagster UI on http://{host}:{port} (Ctrl-C stops it)")
    raise typer.Exit(subprocess.call(cmd))


@app.command()
def evaluate(
    world: str = typer.Option("default", help="simulator world preset to evaluate on"),
    out: Path = typer.Option(Path("evaluation.json"), help="JSON report"),
    seed: int = typer.Option(7),
):
    """Model vs baselines on held-out ad groups, against the simulator's ground truth."""
    from models.evaluate import main as evaluate_main

    raise typer.Exit(evaluate_main(["--world", world, "--seed", str(seed), "--out", str(out)]))


@app.command()
def simulator(
    port: int = typer.Option(8765),
    world: str = typer.Option("demo"),
    seed: int = typer.Option(7),
):
    """Serve the ad-media API simulator on loopback (token: $ADCOMBO_API_TOKEN)."""
    from admedia.server import main as serve

    token = os.environ.get("ADCOMBO_API_TOKEN", "adcombo-local-simulator")
    serve(["--preset", world, "--seed", str(seed), "--port", str(port), "--token", token])


if __name__ == "__main__":
    app()
