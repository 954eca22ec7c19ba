"""What every command shares: the --home option and reading the settings once."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from dagster_project.settings import Settings, SettingsError

HOME = typer.Option(None, "--home", help="data folder (default: $ADCOMBO_HOME, else .adcombo in the checkout)")


def load_settings(home: Optional[Path] = None, **overrides) -> Settings:
    """The settings of this command: environment plus options. A bad setting is one line, exit 2."""
    try:
        return Settings.load(home=home.resolve() if home else None, **overrides)
    except SettingsError as exc:
        typer.echo(f"adcombo: bad settings: {exc}", err=True)
        raise typer.Exit(2) from None
