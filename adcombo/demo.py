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
MIN_HISTORY_DAYS = 4  # days of delivery before the clock starts: a quarter validates the first model
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
        # scores are compared with the bundle's reference sample of the pools (a same-run retrain: PSI 0)
        ref = "the served ads" if drift.get("score_reference") == "served ads" else "the model's sample of its pools"
        typer.echo(f"drift: {drift.get('status')} (texts against the training set; scores against {ref}, "
                   f"PSI {_num(drift, 'score_psi'):.3f})")
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
    world: str = typer.Option("demo", help="simulator world preset: tiny, small, demo, shifted, drifting, default"),
    fresh: bool = typer.Option(True, help="start from an empty warehouse and no artifacts"),
    days: Optional[int] = typer.Option(None, min=1, help="run the simulator's clock over the world's last N days, "
                                       "one day at a time, through the automation (ingest, score, serve, measure, "
                                       "retrain when needed); one line per day"),
    drift_day: Optional[int] = typer.Option(None, min=1, help="make the world's CTR rules change on this day "
                                            "(from its first; the drifting world: 30)"),
    verbose: bool = typer.Option(False, "--verbose", help="also Dagster's own event lines (they are always in the UI)"),
):
    """The whole job on the local defaults: simulator → DuckDB → Beam → LightGBM → Beam scoring."""
    from adcombo.runs import hold_data_folder, materialize_all
    from admedia.world import WorldConfig

    try:
        config = WorldConfig.preset(world)  # before anything is deleted
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="--world") from None
    if days is not None and config.days - days < MIN_HISTORY_DAYS:
        raise typer.BadParameter(f"the {world} world has {config.days} days and the model needs {MIN_HISTORY_DAYS} "
                                 f"of history before the clock starts: at most {config.days - MIN_HISTORY_DAYS}",
                                 param_hint="--days")
    # The demo is the simulator, whatever was imported into this folder before.
    settings = load_settings(home, world=world, source="api", drift_day=drift_day)
    with hold_data_folder(settings):  # before anything is deleted: a run in progress keeps its files
        if fresh:
            clear_data_folder(settings.home)
            settings = load_settings(home, world=world, source="api", drift_day=drift_day)
        if days is not None:
            return day_by_day(home, world, drift_day, days, config, verbose)
        typer.echo(f"adcombo demo: world '{world}', data folder {settings.home}")
        started = time.perf_counter()
        if not materialize_all(settings, verbose=verbose):
            typer.echo("demo failed: see the step errors above", err=True)
            raise typer.Exit(1)
    report(settings, time.perf_counter() - started)


def day_by_day(home, world: str, drift_day: Optional[int], days: int, config, verbose: bool = False) -> None:
    """The clock over the world's last `days` days (adcombo.clock), one line per day."""
    import datetime as dt

    from adcombo import clock
    from adcombo.monitor import history, line, records
    from adcombo.runs import instance

    first_today = config.end_date + dt.timedelta(days=2 - days)

    def settings_of(today):
        return load_settings(home, world=world, source="api", drift_day=drift_day, today=today)

    settings = settings_of(first_today - dt.timedelta(days=1))
    drift = config.start_date + dt.timedelta(days=drift_day or config.drift_day) if (drift_day or config.drift_day) \
        else None
    typer.echo(f"adcombo demo: world '{world}' day by day, {days} days from {first_today}"
               + (f" (its CTR rules change on {drift})" if drift else "") + f", data folder {settings.home}")
    started = time.perf_counter()
    with instance(settings) as inst:
        if not clock.start(settings, inst, typer.echo, verbose):
            typer.echo("demo failed before the first day: see the failed steps above (their logs are in `adcombo ui`)", err=True)
            raise typer.Exit(1)
        cursor = clock.first_cursor(settings_of(first_today), inst, first_today)
        typer.echo("one line per day: the day's delivery against the predictions in force (adcombo monitor)")
        failed = 0
        for k in range(days):
            today = first_today + dt.timedelta(days=k)
            cursor, result = clock.run_day(today, settings_of, inst, cursor, verbose)
            failed += len(result.failed)
            measured = history(settings_of(today))
            rows = [r for r in records(measured) if r["date"] == (today - dt.timedelta(days=1)).isoformat()] \
                if measured is not None else []
            note = f"  → new production model {result.production_after}" if result.promoted else ""
            note += "".join(f"  → {what}" for what in result.refused)
            typer.echo((line(rows[0]) if rows else f"{today - dt.timedelta(days=1)}  not measured") + note
                       + f"  [{result.seconds:.0f}s]")
            for what in result.failed:
                typer.echo(f"  a run failed on {today}: {what}", err=True)
    summary(history(settings_of(first_today + dt.timedelta(days=days - 1))), drift, time.perf_counter() - started,
            failed)


def summary(days, drift, seconds: float, failed: int) -> None:
    """What happened over the simulated days: statuses, model versions, the change and the recovery."""
    if days is None or days.empty:
        typer.echo(f"\nnothing measured in {seconds / 60:.1f} min", err=True)
        raise typer.Exit(1)
    statuses = days["status"].value_counts().to_dict()
    versions = list(dict.fromkeys(days["model_version"]))
    flagged = days[days["status"] != "ok"]
    text = (f"\n{len(days)} days measured in {seconds / 60:.1f} min: "
            + ", ".join(f"{statuses.get(s, 0)} {s}" for s in ("ok", "warn", "error"))
            + f"; {len(versions)} model version(s) in force")
    if len(flagged):
        first_bad = flagged["date"].min()
        after = days[(days["date"] > flagged["date"].max())]
        text += f"; flagged from {first_bad}" + (f", ok again from {after['date'].min()}" if len(after) else "")
    if drift:
        text += f" (rules changed on {drift})"
    typer.echo(text + ". `adcombo monitor` prints the history; `adcombo ui` shows the runs and the plot.")
    if failed:
        typer.echo(f"{failed} run(s) failed along the way: see the lines above and the Dagster UI", err=True)
        raise typer.Exit(1)
