"""`adcombo`: run the job on the current settings, show its results, open the UI.

Every command works on the data folder named by --home or ADCOMBO_HOME (default: `.adcombo` in
the checkout). Settings are read once, here, from the environment and the options, and passed
down; `run` and `demo` materialise the same Dagster definitions the UI shows and record their
runs in the same Dagster instance, so the UI shows CLI runs too.
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path
from typing import Optional

import typer

from dagster_project.settings import Settings, SettingsError

app = typer.Typer(add_completion=False, no_args_is_help=True, help=__doc__)
HOME = typer.Option(None, "--home", help="data folder (default: $ADCOMBO_HOME, else .adcombo in the checkout)")


def load_settings(home: Optional[Path] = None, **overrides) -> Settings:
    """The settings of this command: environment plus options. A bad setting is one line, exit 2."""
    try:
        return Settings.load(home=home.resolve() if home else None, **overrides)
    except SettingsError as exc:
        typer.echo(f"adcombo: bad settings: {exc}", err=True)
        raise typer.Exit(2) from None


@app.command()
def run(home: Optional[Path] = HOME):
    """Materialise every asset on the current settings (same definitions as the UI)."""
    from adcombo.runs import materialize_all

    if not materialize_all(load_settings(home)):
        typer.echo("run failed: see the step errors above (or the run in the Dagster UI)", err=True)
        raise typer.Exit(1)


@app.command()
def demo(
    home: Optional[Path] = HOME,
    world: str = typer.Option("demo", help="simulator world preset: tiny, small, demo, shifted, default"),
    fresh: bool = typer.Option(True, help="start from an empty warehouse and no artifacts"),
):
    """The whole job on the local defaults: simulator → DuckDB → Beam → LightGBM → Beam scoring."""
    from adcombo.demo import clear_data_folder, report
    from adcombo.runs import materialize_all
    from admedia.world import WorldConfig

    try:
        WorldConfig.preset(world)  # before anything is deleted
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="--world") from None
    # The demo is the simulator, whatever was imported into this folder before.
    settings = load_settings(home, world=world, source="api")
    if fresh:
        clear_data_folder(settings.home)
        settings = load_settings(home, world=world, source="api")
    typer.echo(f"adcombo demo: world '{world}', data folder {settings.home}")
    started = time.perf_counter()
    if not materialize_all(settings):
        typer.echo("demo failed: see the step errors above", err=True)
        raise typer.Exit(1)
    report(settings, time.perf_counter() - started)


@app.command("import")
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


@app.command()
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


@app.command()
def top(
    home: Optional[Path] = HOME,
    k: int = typer.Option(3, min=1, help="combinations per ad group"),
    ad_group: Optional[str] = typer.Option(None, help="only this ad group"),
    out: Optional[Path] = typer.Option(None, help="write a CSV instead of printing"),
    groups: int = typer.Option(10, help="ad groups to print (ignored with --out)"),
):
    """Top combinations per ad group: ids and texts of the five positions, score, model version."""
    from adcombo.results import top as show_top

    show_top(load_settings(home), k, ad_group, out, groups)


@app.command()
def ui(
    home: Optional[Path] = HOME,
    port: int = typer.Option(3000),
    host: str = typer.Option("127.0.0.1"),
):
    """Open the Dagster UI (and daemon) on this code location."""
    from adcombo.runs import child_env, instance

    settings = load_settings(home)
    instance(settings).dispose()  # make sure the data folder's instance exists
    dagster = str(Path(sys.executable).with_name("dagster"))
    cmd = [dagster, "dev", "-m", "dagster_project.definitions", "-h", host, "-p", str(port)]
    typer.echo(f"Dagster UI on http://{host}:{port} (Ctrl-C stops it)")
    raise typer.Exit(subprocess.call(cmd, env=child_env(settings)))


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

    settings = load_settings()
    token = settings.api_token.get_secret_value() if settings.api_token else "adcombo-local-simulator"
    serve(["--preset", world, "--seed", str(seed), "--port", str(port), "--token", token])


if __name__ == "__main__":
    app()
