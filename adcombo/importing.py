"""`adcombo import` and `adcombo source`: bring your own files, or switch back to the API."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from adcombo.common import HOME, load_settings


def import_(
    path: Path = typer.Argument(..., help="folder with ads, ad_daily_performance, asset_pools (.csv or .parquet)"),
    home: Optional[Path] = HOME,
):
    """Import your own exported files; later `adcombo run` trains and scores on them alone."""
    from adcombo.runs import latest_metadata, materialize_all
    from dagster_project.settings import write_source_file
    from ingest.files import ImportFormatError, find_files

    folder = str(path.resolve())
    try:
        find_files(folder)  # fail before anything runs, with a message that says what is missing
    except ImportFormatError as exc:
        typer.echo(f"cannot import: {exc}", err=True)
        raise typer.Exit(2)
    settings = load_settings(home, source="files", import_path=folder)
    if not materialize_all(settings, ingest_only=True):
        typer.echo("import failed: see the errors above; the data source was not changed", err=True)
        raise typer.Exit(1)
    # Recorded only after success, so `run`, `top` and the UI keep using these files.
    write_source_file(settings.home, "files", folder)
    for asset in ("raw_ads", "raw_ad_daily_performance", "raw_asset_pools"):
        m = latest_metadata(settings, asset)
        typer.echo(f"imported {m.get('table')}: {m.get('rows', 0):,} rows, {m.get('rows_rejected', 0):,} rejected"
                   + (f" {m.get('reject_reasons')}" if m.get("rows_rejected") else ""))
    typer.echo(f"source is now files ({folder}); `.venv/bin/adcombo run` trains and scores on them, "
               "`.venv/bin/adcombo source api` switches back. Rejected rows: table raw.dead_letters.")


def source(
    use: Optional[str] = typer.Argument(None, help="'api' to switch back to the ad-media API"),
    home: Optional[Path] = HOME,
):
    """Show where raw data comes from (api or files), or switch back to the API."""
    from dagster_project.settings import write_source_file

    settings = load_settings(home)
    if use is not None:
        if use != "api":
            raise typer.BadParameter("only 'api' here; use `adcombo import PATH` for files")
        write_source_file(settings.home, "api")
        settings = load_settings(home)
    typer.echo(f"source: {settings.source}" + (f" ({settings.import_path})" if settings.source == "files" else ""))
