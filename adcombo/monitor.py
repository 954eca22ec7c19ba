"""`adcombo monitor`: live accuracy by day, from the warehouse (monitoring.live_accuracy)."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Optional

import typer

from adcombo.common import HOME, load_settings
from dagster_project.settings import Settings

FIELDS = ("date", "served_creatives", "calibration", "spearman", "status", "model_version")


def history(settings: Settings):
    """One row per measured day (monitoring.live_accuracy.day_summary), or None before any."""
    from dagster_project.resources import warehouse_resource
    from monitoring.live_accuracy import day_summary
    from monitoring.live_history import read_history

    if not settings.duckdb_path.exists() and settings.warehouse == "duckdb":
        return None
    with warehouse_resource(settings).open() as wh:
        rows = read_history(wh)
    return None if rows is None or rows.empty else day_summary(rows)


def _number(value: float, digits: int):
    return None if value is None or not math.isfinite(value) else round(float(value), digits)


def records(days) -> list[dict]:
    """The JSON shape: {"date", "served_creatives", "calibration", "spearman", "status", "model_version"}."""
    return [{"date": r.date.isoformat(), "served_creatives": int(r.served_creatives),
             "calibration": _number(r.calibration, 4), "spearman": _number(r.spearman, 4),
             "status": r.status, "model_version": r.model_version} for r in days.itertuples()]


def line(r: dict) -> str:
    """One day as people read it (the demo prints the same)."""
    cal = "–" if r["calibration"] is None else f"{r['calibration']:.3f}"
    rho = "–" if r["spearman"] is None else f"{r['spearman']:.3f}"
    return (f"{r['date']}  {r['served_creatives']:>6,} creatives  calibration {cal}  Spearman {rho}  "
            f"{r['status']:<5}  model {r['model_version']}")


def monitor(
    home: Optional[Path] = HOME,
    as_json: bool = typer.Option(False, "--json", help="a JSON list of the days instead of lines"),
    last: Optional[int] = typer.Option(None, min=1, help="only the last N days"),
):
    """Live accuracy by day: creatives delivered, calibration (observed/predicted clicks), Spearman
    within ad groups, check status (ok / warn / error), model version in force."""
    settings = load_settings(home)
    days = history(settings)
    rows = records(days.tail(last) if last and days is not None else days) if days is not None else []
    if as_json:
        typer.echo(json.dumps(rows, ensure_ascii=False))
        return
    if not rows:
        typer.echo(f"no live accuracy yet in {settings.home}: it is measured once creatives are delivered under a "
                   "logged prediction (the automation, or `adcombo demo --world drifting --days 24`)", err=True)
        raise typer.Exit(1)
    for r in rows:
        typer.echo(line(r))
