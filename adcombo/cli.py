"""`adcombo`: run the job on the current settings, show its results, open the UI.

Every command works on the data folder named by --home or ADCOMBO_HOME (default: `.adcombo` in
the checkout). Settings are read once, here, from the environment and the options, and passed
down; `run` and `demo` materialise the same Dagster definitions the UI shows and record their
runs in the same Dagster instance, so the UI shows CLI runs too.
"""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from adcombo import demo, importing, monitor, results, runs, ui
from adcombo.common import HOME, load_settings
from adcombo import insights

app = typer.Typer(add_completion=False, no_args_is_help=True,
                  help="adcombo: the best combinations of ad text, from ingestion to experiments. Every command "
                       "works on one data folder (--home, or $ADCOMBO_HOME).")
# Commands that live in their own modules (one module per area of the CLI), in the order a
# newcomer meets them.
app.command()(demo.demo)
app.command()(runs.run)
app.command()(results.top)
app.command()(monitor.monitor)
app.command("import")(importing.import_)
app.command()(importing.source)
app.command()(ui.ui)
app.command()(insights.explain)
app.command()(insights.assets)


@app.command()
def evaluate(
    world: str = typer.Option("default", help="world variants or presets, comma-separated (python -m models.evaluate "
                              "--help lists them); `report` or `choose`: every world of that role"),
    seeds: Optional[str] = typer.Option(None, "--seeds", "--seed", help="comma-separated seeds (default: 7; a role's own seeds)"),
    out: Path = typer.Option(Path("evaluation.json"), help="JSON report: every run and the summary per world"),
    plot: Optional[Path] = typer.Option(None, help="also write the summary plot (PNG)"),
    booster_groups: str = typer.Option("others", "--booster-groups", help="others: the text model never saw the "
                                       "held-out ad groups (the reported figures); all: it learns from their "
                                       "training days too, as ctr_model learns from every ad group it scores"),
):
    """Model vs baselines on held-out ad groups, against the simulator's ground truth: top-1 share
    of the oracle's lift per world (mean ± sd over seeds), order vs asset-choice loss, Spearman."""
    from models.evaluate import main as evaluate_main

    role = ["--role", world] if world in ("report", "choose") else ["--world", world]
    argv = [*role, "--out", str(out), "--booster_groups", booster_groups] + (["--seeds", seeds] if seeds else []) \
        + (["--plot", str(plot)] if plot else [])
    raise typer.Exit(evaluate_main(argv))


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
