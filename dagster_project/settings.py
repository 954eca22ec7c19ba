"""Settings read from the environment once, at definition load time.

One variable, `ADCOMBO_HOME`, decides where every local artifact lives; the rest pick the
simulator world, the runner and an optional external API. Secrets are never read here: the API
token goes through Dagster's `EnvVar` so it is resolved at run time and never shown.
"""

from __future__ import annotations

import datetime as dt
import json
import os
from dataclasses import dataclass
from pathlib import Path

CHECKOUT = Path(__file__).resolve().parents[1]


@dataclass(frozen=True)
class Settings:
    home: str
    world: str
    seed: int
    api_url: str
    beam_workers: int
    # Ingestion (docs/ingestion.md). source: "api" (the ad-media API or the bundled simulator) or
    # "files" (a folder of exported files at import_path).
    source: str = "api"
    import_path: str = ""
    partition_start: dt.date = dt.date(2025, 6, 1)
    partition_end: dt.date | None = dt.date(2025, 6, 30)  # inclusive; None: open-ended (production)
    warehouse: str = "duckdb"
    bigquery_project: str = ""
    bigquery_location: str = ""
    max_rejected_share: float = 0.05
    # The one switch between the laptop and production (docs/production.md).
    env: str = "local"
    runner_profile: str = "local"
    gcp_project: str = ""
    gcp_region: str = ""
    gcs_root: str = ""  # gs:// folder for files the Dataflow stages read and write
    dataflow_template: str = ""  # gs:// Flex Template spec; empty: submit jobs directly

    @classmethod
    def from_env(cls, env=os.environ) -> "Settings":
        def integer(name: str, default: int) -> int:
            raw = env.get(name, "")
            try:
                return int(raw) if raw else default
            except ValueError:
                raise ValueError(f"{name}={raw!r} is not a whole number") from None

        def date(name: str, default: dt.date | None) -> dt.date | None:
            raw = env.get(name, "")
            if not raw:
                return default
            if raw.lower() == "open":
                return None
            try:
                return dt.date.fromisoformat(raw)
            except ValueError:
                raise ValueError(f"{name}={raw!r} is not a date YYYY-MM-DD") from None

        mode = env.get("ADCOMBO_ENV", "local")
        if mode not in ("local", "production"):
            raise ValueError(f"ADCOMBO_ENV={mode!r}: expected 'local' or 'production'")
        if mode == "production":
            # Production flips every default at once; each can still be overridden one by one.
            env = {**PRODUCTION_DEFAULTS, **env}
            missing = [name for name in PRODUCTION_REQUIRED if not env.get(name)]
            if missing:
                raise ValueError(
                    "ADCOMBO_ENV=production needs " + ", ".join(missing) + " (see docs/production.md)"
                )
        home = os.path.abspath(env.get("ADCOMBO_HOME") or str(CHECKOUT / ".adcombo"))
        world = env.get("ADCOMBO_WORLD", "demo")
        api_url = env.get("ADCOMBO_API_URL", "")
        # `adcombo import` records the source in the data folder, so later commands and the UI
        # use the imported files with no flag; ADCOMBO_SOURCE overrides it.
        recorded = read_source_file(home)
        source = env.get("ADCOMBO_SOURCE") or recorded.get("source", "api")
        if source not in ("api", "files"):
            raise ValueError(f"ADCOMBO_SOURCE={source!r}: expected 'api' or 'files'")
        warehouse = env.get("ADCOMBO_WAREHOUSE", "duckdb")
        if warehouse not in ("duckdb", "bigquery"):
            raise ValueError(f"ADCOMBO_WAREHOUSE={warehouse!r}: expected 'duckdb' or 'bigquery'")
        # Partitions are fixed when definitions load: by default the simulator world's days; with
        # a real API, from ADCOMBO_PARTITION_START and open-ended (a new partition every day).
        first, last = world_date_range(world)
        share = env.get("ADCOMBO_MAX_REJECTED_SHARE", "")
        return cls(
            home=home,
            world=world,
            seed=integer("ADCOMBO_SEED", 7),
            api_url=api_url,
            beam_workers=integer("ADCOMBO_BEAM_WORKERS", min(2, os.cpu_count() or 1)),
            source=source,
            import_path=env.get("ADCOMBO_IMPORT_PATH") or recorded.get("path", ""),
            partition_start=date("ADCOMBO_PARTITION_START", first),
            partition_end=date("ADCOMBO_PARTITION_END", None if api_url else last),
            warehouse=warehouse,
            bigquery_project=env.get("ADCOMBO_BQ_PROJECT") or env.get("ADCOMBO_GCP_PROJECT", ""),
            bigquery_location=env.get("ADCOMBO_BQ_LOCATION", ""),
            max_rejected_share=float(share) if share else 0.05,
            env=mode,
            runner_profile=env.get("ADCOMBO_RUNNER_PROFILE", "local"),
            gcp_project=env.get("ADCOMBO_GCP_PROJECT", ""),
            gcp_region=env.get("ADCOMBO_GCP_REGION", "asia-northeast1"),
            gcs_root=env.get("ADCOMBO_GCS_ROOT", ""),
            dataflow_template=env.get("ADCOMBO_DATAFLOW_TEMPLATE", ""),
        )


PRODUCTION_DEFAULTS = {"ADCOMBO_WAREHOUSE": "bigquery", "ADCOMBO_RUNNER_PROFILE": "dataflow"}
PRODUCTION_REQUIRED = (
    "ADCOMBO_API_URL", "ADCOMBO_API_TOKEN", "ADCOMBO_GCP_PROJECT", "ADCOMBO_GCS_ROOT", "ADCOMBO_GCS_TEMP",
    "ADCOMBO_PARTITION_START",
)


SOURCE_FILE = "source.json"


def read_source_file(home: str) -> dict:
    try:
        with open(os.path.join(home, SOURCE_FILE), encoding="utf-8") as f:
            return json.load(f)
    except FileNotFoundError:
        return {}
    except ValueError:
        raise ValueError(f"{os.path.join(home, SOURCE_FILE)} is not valid JSON: fix or delete it") from None


def write_source_file(home: str, source: str, path: str = "") -> str:
    os.makedirs(home, exist_ok=True)
    target = os.path.join(home, SOURCE_FILE)
    tmp = target + ".tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        json.dump({"source": source, "path": path}, f)
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
