"""`adcombo top`: the best combinations per ad group, from the configured warehouse."""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

import typer

from adcombo.common import HOME, load_settings
from adcombo.hints import command
from dagster_project.settings import Settings
from experiments.csv_safety import write_people_csv

TOP_COLUMNS = ("ad_group_id, rank, h1_asset_id, h2_asset_id, h3_asset_id, d1_asset_id, d2_asset_id, "
               "headline_1, headline_2, headline_3, description_1, description_2, score, model_version")


def no_results(wh, home) -> str | None:
    """Why there are no published combinations at all, or None when there are. The table is absent
    before the first run and emptied by a change of source (ingest/source.py); a run whose every
    pool was unscorable leaves it empty too, with each ad group's reason beside it."""
    from warehouse.schemas import TOP_COMBINATIONS_TABLE, UNSCORED_TABLE

    if wh.table_exists(TOP_COMBINATIONS_TABLE) and wh.row_count(TOP_COMBINATIONS_TABLE) > 0:
        return None
    if wh.table_exists(UNSCORED_TABLE) and (n := wh.row_count(UNSCORED_TABLE)):
        first = wh.query(f"SELECT ad_group_id, reason FROM `{UNSCORED_TABLE}` ORDER BY ad_group_id LIMIT 1").iloc[0]
        return (f"the last run scored none of its {n:,} ad groups (e.g. {first['ad_group_id']}: {first['reason']}); "
                f"each one's reason is in {UNSCORED_TABLE}")
    return f"no results in {home}: run `{command()} run` (or `{command()} demo`) first"


def top_frame(settings: Settings, ad_group: Optional[str], k: int):
    from dagster_project.resources import warehouse_resource
    from warehouse.schemas import TOP_COMBINATIONS_TABLE

    with warehouse_resource(settings).open() as wh:  # the warehouse the definitions use
        reason = no_results(wh, settings.home)
        if reason:
            typer.echo(f"adcombo: {reason}", err=True)
            raise typer.Exit(1)
        sql = (f"SELECT {TOP_COLUMNS} FROM `{TOP_COMBINATIONS_TABLE}` WHERE rank <= @k "
               "AND (@ad_group = '' OR ad_group_id = @ad_group) ORDER BY ad_group_id, rank")
        return wh.query(sql, {"k": k, "ad_group": ad_group or ""})


@dataclass(frozen=True)
class Kept:
    """What the last scoring run kept."""
    k: int
    ad_group_ids: list[str]
    model_version: str


def kept(settings: Settings) -> Kept:
    from dagster_project.resources import warehouse_resource
    from warehouse.schemas import TOP_COMBINATIONS_TABLE

    with warehouse_resource(settings).open() as wh:
        summary = wh.query(f"SELECT MAX(rank) AS k, MAX(model_version) AS model_version FROM `{TOP_COMBINATIONS_TABLE}`")
        groups = wh.query(f"SELECT DISTINCT ad_group_id FROM `{TOP_COMBINATIONS_TABLE}` ORDER BY ad_group_id")
    k = summary["k"].iloc[0]
    return Kept(int(k) if k == k and k is not None else 0, [str(g) for g in groups["ad_group_id"]],
                str(summary["model_version"].iloc[0]))


def unscored_reason(wh, ad_group: str) -> str | None:
    """Why the last run could not score `ad_group` (serving.unscored_ad_groups), None if it did not
    say: a person asking for one ad group's results learns what to fix, not only that there are none."""
    from warehouse.schemas import UNSCORED_TABLE

    if not wh.table_exists(UNSCORED_TABLE):
        return None
    rows = wh.query(f"SELECT reason FROM `{UNSCORED_TABLE}` WHERE ad_group_id = @ag", {"ag": ad_group})
    return str(rows["reason"].iloc[0]) if len(rows) else None


def print_top(frame, groups: int) -> None:
    for ad_group_id, rows in list(frame.groupby("ad_group_id", sort=True))[:groups]:
        typer.echo(f"\n  {ad_group_id}")
        for r in rows.itertuples():
            typer.echo(f"   #{r.rank} {r.score:6.2%}  {r.headline_1} | {r.headline_2} | {r.headline_3}"
                       f"  /  {r.description_1} | {r.description_2}")


def top(
    home: Optional[Path] = HOME,
    k: int = typer.Option(3, min=1, help="combinations per ad group"),
    ad_group: Optional[str] = typer.Option(None, help="only this ad group"),
    out: Optional[Path] = typer.Option(None, help="write a CSV instead of printing"),
    groups: int = typer.Option(10, min=1, help="ad groups to print (ignored with --out)"),
):
    """Top combinations per ad group: ids and texts of the five positions, score, model version."""
    settings = load_settings(home)
    frame = top_frame(settings, ad_group, k)
    have = kept(settings)
    cmd = command()
    if ad_group is not None and frame.empty:
        from dagster_project.resources import warehouse_resource

        with warehouse_resource(settings).open() as wh:
            reason = unscored_reason(wh, ad_group)
        if reason:
            typer.echo(f"adcombo: ad group {ad_group!r} was not scored: {reason}", err=True)
            raise typer.Exit(1)
        close = difflib.get_close_matches(ad_group, have.ad_group_ids, n=3)
        typer.echo(f"adcombo: no ad group {ad_group!r} in the results ({len(have.ad_group_ids):,} ad groups"
                   + (f"; did you mean {', '.join(close)}?" if close else f", e.g. {', '.join(have.ad_group_ids[:3])}")
                   + f"). `{cmd} top --out top.csv` lists them all.", err=True)
        raise typer.Exit(1)
    if k > have.k:
        typer.echo(f"only {have.k} combinations per ad group were kept (ADCOMBO_TOP_K={have.k}): showing {have.k}. "
                   f"To keep {k}: `ADCOMBO_TOP_K={k} {cmd} run`.", err=True)
    if out is not None:
        write_people_csv(frame, out)  # formula-like ad texts neutralised for spreadsheets (OWASP)
        typer.echo(f"wrote {len(frame):,} rows for {frame['ad_group_id'].nunique():,} ad groups to {out}")
        return
    shown_groups = min(groups, frame["ad_group_id"].nunique())
    typer.echo(f"best {min(k, have.k)} combinations per ad group (model {have.model_version}). "
               "Score: the predicted CTR of the ad served as H1 | H2 | H3 / D1 | D2.")
    if shown_groups < len(have.ad_group_ids) and ad_group is None:
        typer.echo(f"showing {shown_groups} of {len(have.ad_group_ids):,} ad groups: --groups {len(have.ad_group_ids)} "
                   f"for all, --ad-group ID for one, --out top.csv for a spreadsheet.")
    print_top(frame, groups)
