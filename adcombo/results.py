"""`adcombo top`: the best combinations per ad group, from the configured warehouse."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from adcombo.common import HOME, load_settings
from dagster_project.settings import Settings

TOP_COLUMNS = ("ad_group_id, rank, h1_asset_id, h2_asset_id, h3_asset_id, d1_asset_id, d2_asset_id, "
               "headline_1, headline_2, headline_3, description_1, description_2, score, model_version")


def top_frame(settings: Settings, ad_group: Optional[str], k: int):
    from dagster_project.resources import warehouse_resource
    from warehouse.schemas import TOP_COMBINATIONS_TABLE

    with warehouse_resource(settings).open() as wh:  # the warehouse the definitions use
        if not wh.table_exists(TOP_COMBINATIONS_TABLE):
            raise typer.BadParameter(f"no results in {settings.home}: run `adcombo run` (or `adcombo demo`) first")
        sql = (f"SELECT {TOP_COLUMNS} FROM `{TOP_COMBINATIONS_TABLE}` WHERE rank <= @k "
               "AND (@ad_group = '' OR ad_group_id = @ad_group) ORDER BY ad_group_id, rank")
        return wh.query(sql, {"k": k, "ad_group": ad_group or ""})


def print_top(frame, groups: int) -> None:
    for ad_group_id, rows in list(frame.groupby("ad_group_id", sort=True))[:groups]:
        typer.echo(f"\n  {ad_group_id}")
        for r in rows.itertuples():
            typer.echo(f"   #{r.rank} {r.score:.4f}  {r.headline_1} | {r.headline_2} | {r.headline_3}"
                       f"  /  {r.description_1} | {r.description_2}")


def top(
    home: Optional[Path] = HOME,
    k: int = typer.Option(3, min=1, help="combinations per ad group"),
    ad_group: Optional[str] = typer.Option(None, help="only this ad group"),
    out: Optional[Path] = typer.Option(None, help="write a CSV instead of printing"),
    groups: int = typer.Option(10, help="ad groups to print (ignored with --out)"),
):
    """Top combinations per ad group: ids and texts of the five positions, score, model version."""
    frame = top_frame(load_settings(home), ad_group, k)
    if out is not None:
        frame.to_csv(out, index=False)
        typer.echo(f"wrote {len(frame):,} rows for {frame['ad_group_id'].nunique():,} ad groups to {out}")
        return
    print_top(frame, groups)
