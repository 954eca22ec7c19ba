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
