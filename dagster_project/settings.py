"""Every setting of adcombo, read from the environment once, into one validated object.

This is the only module that reads ADCOMBO_* variables (the standalone simulator's own entry
point aside). `Settings.load()` is called by the outermost shell — the `adcombo` CLI, or the
Dagster code location when it loads — and the value is passed down: `build_definitions(settings)`
builds every asset, check, schedule, sensor and resource from it, and child processes (the Dagster
webserver) get an explicit environment from `settings.to_env()`.

`ADCOMBO_ENV=production` flips every default that differs in production at once (BigQuery,
Dataflow, gs:// model store); each can still be overridden one by one. Secrets (the API token, the
alert webhook) are SecretStr: never printed; the API token reaches the resource as a Dagster
EnvVar, resolved at run time.

    python -m dagster_project.settings            # the settings table
    python -m dagster_project.settings --readme   # rewrite the README's copy of it
"""

from __future__ import annotations

import datetime as dt
import json
import os
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from pipelines.profiles import DATAFLOW_DEFAULTS

CHECKOUT = Path(__file__).resolve().parents[1]
ENV_PREFIX = "ADCOMBO_"
SOURCE_FILE = "source.json"
PRODUCTION_DEFAULTS = {"warehouse": "bigquery", "runner_profile": "dataflow", "automation": True}
PRODUCTION_REQUIRED = ("api_url", "api_token", "gcp_project", "gcs_root", "gcs_temp", "partition_start")


class SettingsError(ValueError):
    """Settings that cannot work; the message names the variable and what to set."""


class Settings(BaseSettings):
    """adcombo's settings. Each field is the environment variable ADCOMBO_<FIELD NAME>."""

    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, frozen=True, extra="ignore",
                                      env_ignore_empty=True, hide_input_in_errors=True)

    # --- the data folder and the deployment --------------------------------------------------
    home: Path = Field(CHECKOUT / ".adcombo", description="the data folder: DuckDB file, snapshots, artifacts, "
                       "model bundles, scores, exports, the Dagster instance (`dagster/`)")
    env: Literal["local", "production"] = Field(
        "local", description="`production` switches warehouse, runner and model store at once (docs/production.md)")
    # --- where raw data comes from -----------------------------------------------------------
    source: Literal["api", "files"] = Field(
        "api", description="`api` (the ad-media API or the bundled simulator) or `files` (default: what "
        "`adcombo import` recorded in the data folder)")
    import_path: str = Field("", description="folder of imported files (default: what `adcombo import` recorded)")
    import_options: dict = Field(default_factory=dict, description="how to read that folder again, JSON: encoding, "
                                 "columns, as_of, allow_empty, sum_segments (default: what `adcombo import` recorded)")
    world: str = Field("demo", description="simulator world preset (tiny, small, demo, shifted, default, …)")
    seed: int = Field(7, description="simulator seed")
    api_url: str = Field("", description="a real ad-media API; empty: the bundled simulator on loopback")
    api_token: SecretStr | None = Field(None, description="token of that API (secret: passed as a Dagster EnvVar, never logged)")
    partition_start: dt.date | None = Field(None, description="first daily partition (default: the simulator world's first day)")
    partition_end: dt.date | Literal["open"] | None = Field(
        None, description="last daily partition; `open` for a new partition every day (default: the world's "
        "last day, open with a real API)")
    max_rejected_share: float = Field(0.05, ge=0, le=1, description="dead-letter share above which an ingestion check fails")
    # --- warehouse ---------------------------------------------------------------------------
    warehouse: Literal["duckdb", "bigquery"] = Field("duckdb", description="`duckdb` (file in the data folder) or `bigquery`")
    bq_project: str = Field("", description="BigQuery project (default: ADCOMBO_GCP_PROJECT)")
    bq_location: str = Field("", description="BigQuery location, e.g. `asia-northeast1`")
    # --- Beam runners ------------------------------------------------------------------------
    runner_profile: Literal["local", "dataflow"] = Field("local", description="`local` (FnApiRunner) or `dataflow`")
    beam_workers: int = Field(default_factory=lambda: min(2, os.cpu_count() or 1), ge=1,
                              description="local runner worker processes (default: min(2, cores))")
    gcp_project: str = Field("", description="Google Cloud project of the Dataflow jobs")
    gcp_region: str = Field(DATAFLOW_DEFAULTS.region, description="Dataflow region")
    gcs_root: str = Field("", description="gs:// folder for files the Dataflow jobs read and write, and the model store")
    gcs_temp: str = Field("", description="gs:// temp and staging location of Dataflow jobs")
    dataflow_template: str = Field("", description="gs:// Flex Template spec; empty: jobs are submitted directly")
    sdk_container_image: str = Field("", description="custom SDK container image (without: workers install the project)")
    dataflow_machine_type: str = Field(DATAFLOW_DEFAULTS.machine_type, description="Dataflow worker machine type")
    dataflow_num_workers: int = Field(DATAFLOW_DEFAULTS.num_workers, ge=1, description="Dataflow initial workers")
    dataflow_max_workers: int = Field(DATAFLOW_DEFAULTS.max_workers, ge=1, description="Dataflow autoscaling ceiling")
    dataflow_service_account: str = Field("", description="worker service account e-mail")
    # --- model store, scoring, alerts --------------------------------------------------------
    model_store: str = Field("", description="where bundles live: a folder or gs:// prefix (default: `models/` in the "
                             "data folder; in production ADCOMBO_GCS_ROOT/models)")
    top_k: int = Field(5, ge=1, le=1000, description="combinations kept per ad group")
    # --- creative insights (docs/insights.md), from the scoring job's single pass ---------------
    top_min_diff: int = Field(2, ge=0, le=5, description="diverse top-K: any two kept combinations of an ad group "
                              "differ in at least this many of the 5 positions (0 or 1: the plain top-K)")
    asset_values: bool = Field(True, description="what each asset is worth (serving.asset_values, `adcombo assets`)")
    explain_every: int = Field(100, ge=0, description="explain the best combination of 1 ad group in N "
                               "(serving.explanations, the UI's waterfall; runs with fewer than 20·N ad groups "
                               "explain more, so at least 20 are shown); 0: none")
    select_submission: bool = Field(True, description="for pools larger than a responsive search ad (15 + 4): "
                                    "which 15 + 4 to submit (serving.selections)")
    alert_webhook_url: SecretStr | None = Field(None, description="Slack-compatible webhook for run and check "
                                                "failures (secret)")
    # --- the loop: automation, retraining, the simulator's clock ------------------------------
    automation: bool = Field(False, description="`true`: the daily ingestion schedule and the automation sensor "
                             "start running (each switchable in the UI; docs/monitoring.md); default true in production")
    retrain_cron: str = Field("0 5 * * 1", description="cadence of retraining (cron, Asia/Tokyo), besides when live "
                              "accuracy or input drift call for it")
    today: dt.date | None = Field(None, description="the simulator's clock: it reports the days before it; the "
                                  "last partition is the day before (default: the day after the world's last day)")
    drift_day: int | None = Field(None, ge=1, description="simulator: the day of the world (from its first) on which "
                                  "its CTR rules change (concept drift; default: the preset's, `drifting`: 30)")

    @field_validator("partition_end", mode="before")
    @classmethod
    def _open_end(cls, value: Any) -> Any:
        return "open" if isinstance(value, str) and value.strip().lower() == "open" else value

    @field_validator("retrain_cron", mode="after")
    @classmethod
    def _cron(cls, value: str) -> str:
        from dagster import AutomationCondition

        try:  # Dagster's own parser: what it accepts here, the automation condition accepts
            AutomationCondition.cron_tick_passed(value, "Asia/Tokyo")
        except Exception:
            raise ValueError(f"not a cron schedule: {value!r} (five fields, e.g. '0 5 * * 1')") from None
        return value

    @field_validator("home", mode="after")
    @classmethod
    def _absolute(cls, value: Path) -> Path:
        return Path(os.path.abspath(value))

    @model_validator(mode="before")
    @classmethod
    def _deployment_defaults(cls, data: Any) -> Any:
        """Production flips defaults; the recorded import source and the world's days fill gaps."""
        data = {k: v for k, v in dict(data).items() if v not in (None, "")}
        if data.get("env") == "production":
            for key, value in PRODUCTION_DEFAULTS.items():
                data.setdefault(key, value)
        home = Path(os.path.abspath(data.get("home") or CHECKOUT / ".adcombo"))
        recorded = read_source_file(home)
        data.setdefault("source", recorded.get("source", "api"))
        if recorded.get("path"):
            data.setdefault("import_path", recorded["path"])
        if recorded.get("options"):
            data.setdefault("import_options", recorded["options"])
        first, last = world_date_range(str(data.get("world", "demo")))
        if data.get("env") != "production":  # production names its first day (required below)
            data.setdefault("partition_start", first)
        if data.get("today") and not data.get("api_url"):  # the simulator's clock: days before today
            last = dt.date.fromisoformat(str(data["today"])) - dt.timedelta(days=1)
        data.setdefault("partition_end", "open" if data.get("api_url") else last)
        if data.get("gcp_project"):
            data.setdefault("bq_project", data["gcp_project"])
        return data

    @model_validator(mode="after")
    def _production_complete(self) -> "Settings":
        if self.env == "production":
            missing = [ENV_PREFIX + name.upper() for name in PRODUCTION_REQUIRED if not getattr(self, name)]
            if missing:
                raise ValueError("ADCOMBO_ENV=production needs " + ", ".join(missing) + " (see docs/production.md)")
        if self.runner_profile == "dataflow" and self.warehouse != "bigquery":
            raise ValueError("ADCOMBO_RUNNER_PROFILE=dataflow reads and writes BigQuery: set ADCOMBO_WAREHOUSE=bigquery "
                             "(Dataflow workers cannot read the local DuckDB file)")
        if self.today is not None and not self.api_url:
            first, last = world_date_range(self.world)
            if not first < self.today <= last + dt.timedelta(days=1):
                raise ValueError(f"ADCOMBO_TODAY {self.today} is outside the {self.world} world: the simulator's clock "
                                 f"runs from {first + dt.timedelta(days=1)} to {last + dt.timedelta(days=1)}")
        if self.partition_end not in (None, "open") and self.partition_start and self.partition_end < self.partition_start:
            raise ValueError(f"ADCOMBO_PARTITION_END {self.partition_end} is before ADCOMBO_PARTITION_START "
                             f"{self.partition_start}")
        return self

    # --- reading -------------------------------------------------------------------------------

    @classmethod
    def load(cls, **overrides: Any) -> "Settings":
        """Settings from the environment, with explicit overrides (CLI options) on top.

        Raises SettingsError with one line per problem, naming the variable.
        """
        try:
            return cls(**{k: v for k, v in overrides.items() if v is not None})
        except ValidationError as exc:
            raise SettingsError(_one_line_errors(exc)) from None

    # --- derived values ------------------------------------------------------------------------

    @property
    def dagster_home(self) -> Path:
        return self.home / "dagster"

    @property
    def duckdb_path(self) -> Path:
        return self.home / "warehouse.duckdb"

    @property
    def open_ended(self) -> bool:
        return self.partition_end in (None, "open")

    @property
    def model_store_root(self) -> str:
        if self.model_store:
            return self.model_store
        if self.env == "production" and self.gcs_root:
            return self.gcs_root.rstrip("/") + "/models"
        return str(self.home / "models")

    def to_env(self) -> dict[str, str]:
        """ADCOMBO_* variables that reproduce these settings in a child process (secrets included,
        for that process only; never printed)."""
        out = {}
        for name in type(self).model_fields:
            value = getattr(self, name)
            if value is None or value == "":
                continue
            if isinstance(value, SecretStr):
                value = value.get_secret_value()
            if isinstance(value, dict):
                value = json.dumps(value, ensure_ascii=False) if value else ""
            elif isinstance(value, dt.date):
                value = value.isoformat()
            if value != "":
                out[ENV_PREFIX + name.upper()] = str(value)
        return out

    @classmethod
    def markdown_table(cls) -> str:
        """The settings table of the README (kept in sync by a test)."""
        lines = ["| variable | default | meaning |", "| --- | --- | --- |"]
        for name, field in cls.model_fields.items():
            default = field.default if field.default_factory is None else None
            shown = {None: "—", "": "—"}.get(default, f"`{default}`") if not isinstance(default, Path) else "`.adcombo` in the checkout"
            lines.append(f"| `{ENV_PREFIX}{name.upper()}` | {shown} | {field.description} |")
        return "\n".join(lines)


def _one_line_errors(exc: ValidationError) -> str:
    parts = []
    for err in exc.errors(include_url=False, include_input=False):
        loc = ".".join(str(x) for x in err["loc"] if x not in ("__root__",))
        name = ENV_PREFIX + loc.split(".")[0].upper() if loc else ""
        msg = err["msg"].removeprefix("Value error, ")
        parts.append(f"{name}: {msg}" if name else msg)
    return "; ".join(parts)


def read_source_file(home: Path | str) -> dict:
    try:
        with open(os.path.join(home, SOURCE_FILE), encoding="utf-8") as f:
            return json.load(f)
    except FileNotFoundError:
        return {}
    except ValueError:
        raise SettingsError(f"{os.path.join(home, SOURCE_FILE)} is not valid JSON: fix or delete it") from None


def write_source_file(home: Path | str, source: str, path: str = "", options: dict | None = None) -> str:
    """Record the raw-data source in the data folder (atomically), for later commands and the UI:
    which source, the imported folder and the options to read it again."""
    os.makedirs(home, exist_ok=True)
    target = os.path.join(home, SOURCE_FILE)
    tmp = target + ".tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        json.dump({"source": source, "path": path, "options": options or {}}, f, ensure_ascii=False)
    os.replace(tmp, target)
    return target


def world_date_range(world: str) -> tuple[dt.date, dt.date]:
    """First and last day of a simulator preset (cheap: no world is generated)."""
    from admedia.world import WorldConfig

    try:
        config = WorldConfig.preset(world)
    except ValueError:
        config = WorldConfig.preset("demo")
    return config.start_date, config.end_date


def update_readme(path: Path = CHECKOUT / "README.md") -> None:
    """Rewrite the README's settings table (between its settings markers) from the fields."""
    import re

    text = path.read_text(encoding="utf-8")
    block = f"<!-- settings:start -->\n{Settings.markdown_table()}\n<!-- settings:end -->"
    path.write_text(re.sub(r"<!-- settings:start -->.*?<!-- settings:end -->", lambda _: block, text, flags=re.S),
                    encoding="utf-8")


if __name__ == "__main__":
    import sys

    update_readme() if "--readme" in sys.argv[1:] else print(Settings.markdown_table())
