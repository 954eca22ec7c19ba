"""`adcombo demo`: a fresh data folder, the whole job on a simulator world, and a report."""

from __future__ import annotations

import math
import os
import shutil
import time
from pathlib import Path
from typing import Optional

import typer

from adcombo.common import HOME, load_settings
from adcombo.runs import latest_metadata
from dagster_project.settings import Settings

# What a fresh demo may delete: only what adcombo itself writes under the data folder.
MANAGED = ["warehouse.duckdb", "warehouse.duckdb.wal", "snapshots", "artifacts", "training_set", "models", "scores",
           "source.json", "simulator", "exports", "monitoring"]
REPORT_ASSETS = ["raw_ads", "raw_ad_daily_performance", "raw_asset_pools", "training_set", "ctr_model",
                 "top_combinations", "drift_report", "ab_assignments", "experiment_results"]


def clear_data_folder(home) -> None:
    for name in MANAGED:
        path = os.path.join(home, name)
        if os.path.isdir(path):
            shutil.rmtree(path)
        elif os.path.exists(path):
            os.remove(path)


def _num(meta: dict, key: str) -> float:
    value = meta.get(key)
    return float("nan") if value is None else float(value)


def report(settings: Settings, seconds: float) -> None:
    from adcombo.results import print_top, top_frame

    meta = {asset: latest_metadata(settings, asset) for asset in REPORT_ASSETS}
    model, score = meta["ctr_model"], meta["top_combinations"]
    typer.echo("\n== adcombo report ==")
    for asset in ("raw_ads", "raw_ad_daily_performance", "raw_asset_pools"):
        m = meta[asset]
        typer.echo(f"ingested {m.get('table', asset)}: {m.get('rows', 0):,} rows, {m.get('rows_rejected', 0):,} rejected "
                   f"({m.get('rows_per_second', 0):,} rows/s)")
    typer.echo(f"training examples: {meta['training_set'].get('examples', 0):,}")
    typer.echo(f"model {model.get('version')}: {model.get('num_trees')} trees, valid AUC {_num(model, 'valid_auc'):.4f}, "
               f"log loss {_num(model, 'valid_logloss'):.4f}, calibration {_num(model, 'valid_calibration'):.3f}")
    typer.echo(f"scored {score.get('combinations_scored', 0):,} combinations of {score.get('ad_groups', 0):,} ad groups "
               f"in {_num(score, 'seconds'):.1f}s ({score.get('combinations_per_second', 0):,}/s); "
               f"{score.get('combinations_rejected', 0):,} rejected by pins and width limits")
    drift, assignments, results = meta["drift_report"], meta["ab_assignments"], meta["experiment_results"]
    if drift:
        typer.echo(f"drift against the training set: {drift.get('status')} (score PSI {_num(drift, 'score_psi'):.3f})")
    if assignments:
        typer.echo(f"experiment {assignments.get('experiment_id')}: {assignments.get('creatives', 0):,} creatives "
                   f"from {assignments.get('start_date')}; upload file {assignments.get('export')}")
    if results and not math.isnan(_num(results, "production_lift_%")):
        typer.echo(f"delivered so far: production lift over random control {_num(results, 'production_lift_%'):+.1f}% "
                   f"(95% lower bound {_num(results, 'production_lift_low_%'):+.1f}%)")
    typer.echo("top 3 of a few ad groups:")
    print_top(top_frame(settings, None, 3), groups=3)
    from adcombo.hints import command

    typer.echo(f"\ndone in {seconds / 60:.1f} min. Next: `{command()} top --out top.csv`, or `{command()} ui`.")


def demo(
    home: Optional[Path] = HOME,
    world: str = typer.Option("demo", help="simulator world preset: tiny, small, demo, shifted, default"),
    fresh: bool = typer.Option(True, help="start from an empty warehouse and no artifacts"),
    verbose: bool = typer.Option(False, "--verbose", help="also Dagster's own event lines (they are always in the UI)"),
):
    """The whole job on the local defaults: simulator → DuckDB → Beam → LightGBM → Beam scoring."""
    from adcombo.runs import hold_data_folder, materialize_all
    from admedia.world import WorldConfig

    try:
        WorldConfig.preset(world)  # before anything is deleted
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="--world") from None
    # The demo is the simulator, whatever was imported into this folder before.
    settings = load_settings(home, world=world, source="api")
    with hold_data_folder(settings):  # before anything is deleted: a run in progress keeps its files
        if fresh:
            clear_data_folder(settings.home)
            settings = load_settings(home, world=world, source="api")
        typer.echo(f"adcombo demo: world '{world}', data folder {settings.home}")
        started = time.perf_counter()
        if not materialize_all(settings, verbose=verbose):
            typer.echo("demo failed: see the step errors above", err=True)
            raise typer.Exit(1)
    report(settings, time.perf_counter() - started)
