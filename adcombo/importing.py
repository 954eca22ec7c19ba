"""`adcombo import` and `adcombo source`: bring your own files, or switch back to the API.

An import is all or nothing (ingest.importer): every file is read and validated before the
warehouse is touched, the tables are replaced in one transaction, and the source switches to the
folder only after that succeeded. When the kind of source changes (files after the
API), what the runs learnt about the previous data goes in that transaction too, and its production
model is retired (ingest/source.py); one line says what went. `adcombo source api` does the same.
Exit codes: 0 imported; 2 refused (the files or the options must change: every problem is listed,
one line each); 1 the warehouse failed while writing (nothing was imported; `--verbose` shows the
trace).
"""

from __future__ import annotations

import datetime as dt
import traceback
from pathlib import Path
from typing import Optional

import typer

from adcombo.common import HOME, load_settings

EXIT_REFUSED, EXIT_FAILED = 2, 1


def _as_of(value: Optional[str]) -> Optional[dt.date]:
    if not value:
        return None
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise typer.BadParameter(f"{value!r} is not a date YYYY-MM-DD", param_hint="--as-of") from None


def record_source(home: Path, folder: str, options) -> None:
    """Point the data folder at the imported files, with the options to read them again (later
    runs re-import the folder)."""
    from dagster_project.settings import write_source_file

    write_source_file(home, "files", folder, options.to_json())


def _failed_writing(what: str, exc: Exception) -> str:
    """One line for a warehouse failure: the error's type and its first line (the trace is long)."""
    first = (str(exc).strip().splitlines() or [""])[0]
    return f"{what} failed while writing to the warehouse: {type(exc).__name__}: {first}"


def retire_previous_model(settings, previous, cleared) -> Optional[str]:
    """After a change of source: the data folder's model store retires the previous data's
    production model (ingest.source.retire_after_switch); the one line on what went, or None."""
    from ingest.source import retire_after_switch
    from models.store import ModelStore

    return retire_after_switch(ModelStore(settings.model_store_root), previous, cleared)


def import_(
    path: Path = typer.Argument(..., help="folder with the ads, ad_daily_performance and asset_pools files "
                                          "(CSV, TSV or Parquet)"),
    encoding: Optional[str] = typer.Option(None, help="encoding of files without a byte-order mark, any Python "
                                           "codec name (cp932 for Japanese Excel); default: UTF-8"),
    columns: Optional[Path] = typer.Option(None, help="column mapping file (default: columns.yaml beside the data)"),
    as_of: Optional[str] = typer.Option(None, "--as-of", help="a performance file without dates holds totals of "
                                        "one period ending on this day (YYYY-MM-DD)"),
    allow_empty: bool = typer.Option(False, "--allow-empty", help="accept empty or header-only files: their tables "
                                     "are emptied"),
    sum_segments: bool = typer.Option(False, "--sum-segments", help="the performance report is segmented (a row "
                                      "per device, network, ...): add up the rows of each date and ad (not for "
                                      "click type or conversion segments, whose rows repeat impressions: those are refused)"),
    verbose: bool = typer.Option(False, "--verbose", help="show the trace of a failure"),
    home: Optional[Path] = HOME,
):
    """Import your own exported files, all or nothing; later `adcombo run` trains and scores on them alone."""
    from adcombo.runs import hold_data_folder
    from dagster_project.resources import warehouse_resource
    from ingest.importer import ImportOptions, read_folder, write
    from ingest.report import format_import

    settings = load_settings(home)
    folder = str(path.resolve())
    options = ImportOptions(encoding=encoding, columns=str(columns.resolve()) if columns else None,
                            as_of=_as_of(as_of), allow_empty=allow_empty, sum_segments=sum_segments)
    result, validated = read_folder(folder, options)  # every file, before the warehouse is even opened
    try:
        if not result.refusals:
            with hold_data_folder(settings), warehouse_resource(settings).open() as wh:
                write(wh, result, validated)
    except Exception as exc:  # the warehouse failed while writing: the transaction was rolled back
        if verbose:
            typer.echo(traceback.format_exc(), err=True)
        typer.echo(_failed_writing("import", exc), err=True)
        typer.echo("nothing was imported: the warehouse and the source are as they were"
                   + ("" if verbose else " (--verbose shows the trace)"), err=True)
        raise typer.Exit(EXIT_FAILED)
    for line in format_import(result):
        typer.echo(line, err=line.startswith(("refused:", "nothing was imported")))
    if not result.ok:
        raise typer.Exit(EXIT_REFUSED)
    record_source(settings.home, folder, options)  # only now: the import succeeded
    if line := retire_previous_model(settings, result.previous, result.cleared):
        typer.echo(line)
    from adcombo.hints import command

    typer.echo(f"source is now files ({folder}); `{command()} run` trains and scores on them, "
               f"`{command()} source api` switches back.")


def source(
    use: Optional[str] = typer.Argument(None, help="'api' to switch back to the ad-media API"),
    home: Optional[Path] = HOME,
):
    """Show where raw data comes from (api or files), or switch back to the API."""
    settings = load_settings(home)
    if use is not None:
        if use != "api":
            raise typer.BadParameter("only 'api' here; use `adcombo import PATH` for files")
        settings = switch_to_api(settings, home)
    typer.echo(f"source: {settings.source}" + (f" ({settings.import_path})" if settings.source == "files" else ""))


def switch_to_api(before, home: Optional[Path]):
    """Record the API as the source. When that changes the source the warehouse holds, one
    transaction empties the previous data's raw rows (the API's loads would only add to them) and
    its state, and the production model is retired; if it fails, the source is restored."""
    from adcombo.runs import hold_data_folder
    from dagster_project.settings import read_source_file, write_source_file

    with hold_data_folder(before):
        recorded = read_source_file(before.home)
        write_source_file(before.home, "api")
        after = load_settings(home)  # ADCOMBO_SOURCE may still say files: then nothing changes
        try:
            previous, cleared = _empty_previous_source(before, after) if after.source == "api" else (None, None)
        except Exception as exc:
            write_source_file(before.home, recorded.get("source", "api"), recorded.get("path", ""),
                              recorded.get("options"))
            typer.echo(_failed_writing("switch", exc), err=True)
            typer.echo("the warehouse and the source are as they were", err=True)
            raise typer.Exit(EXIT_FAILED)
        if line := retire_previous_model(after, previous, cleared):
            typer.echo(line)
    return after


def _empty_previous_source(before, after):
    """(previous source, what was emptied or None when the warehouse already held the API's data).
    Without a record in the warehouse, the data folder's source before the switch says what it holds."""
    from dagster_project.resources import warehouse_resource
    from ingest.source import RAW_TABLES, STATE_TABLES, Source, recorded_source, switch_loads

    if after.warehouse == "duckdb" and not after.duckdb_path.exists():
        return None, None  # nothing stored yet
    with warehouse_resource(after).open() as wh:
        previous = recorded_source(wh) or Source(before.source, before.import_path if before.source == "files" else "")
        loads, cleared = switch_loads(wh, previous, Source("api"), STATE_TABLES + RAW_TABLES)
        if cleared is not None:
            wh.merge_all(loads)
    return previous, cleared
