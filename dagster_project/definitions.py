"""The adcombo code location: `dagster dev -m dagster_project.definitions`.

    settings (read once) ─▶ build_definitions ─▶ resources (local | production, as a whole)
                                              ─▶ assets, checks, schedules, sensors ─▶ library

Nothing here reads the environment at import: the code location's `defs` is built when Dagster
loads it, from `Settings.load()`; the CLI calls `build_definitions(settings)` with its own value.
Heavy libraries (apache_beam, lightgbm) are imported inside the assets, so this loads fast.
"""

from __future__ import annotations

from dagster import Definitions, definitions, in_process_executor

from dagster_project.assets import evaluation, experiments, ingestion, live, model, monitoring, scoring, training
from dagster_project.automation import build_automation_sensor, with_automation
from dagster_project.checks import data_checks, ingestion_checks, model_checks
from dagster_project.resources import build_resources
from dagster_project.schedules import build_schedules
from dagster_project.sensors import build_sensors
from dagster_project.settings import Settings


def build_definitions(settings: Settings) -> Definitions:
    webhook = settings.alert_webhook_url.get_secret_value() if settings.alert_webhook_url else None
    return Definitions(
        assets=with_automation([
            *ingestion.build_assets(settings),
            *training.ASSETS,
            *model.ASSETS,
            *scoring.build_assets(settings),
            *monitoring.ASSETS,
            *experiments.build_assets(settings),
            *live.build_assets(settings),
            *evaluation.ASSETS,
        ], settings),
        asset_checks=[*ingestion_checks.build_checks(settings), *data_checks.CHECKS, *model_checks.CHECKS],
        schedules=build_schedules(settings),
        sensors=[*build_sensors(webhook), build_automation_sensor(settings)],
        resources=build_resources(settings),
        # One process at a time: the embedded DuckDB file takes a single writer, and Beam
        # already uses every core inside the steps that need them.
        executor=in_process_executor,
    )


# Materialised on demand (the UI, their own command), never by a run of every asset.
ON_DEMAND_GROUPS = frozenset({evaluation.GROUP})


def run_asset_keys(defs: Definitions) -> list:
    """The assets a run of every asset materialises (`adcombo run`, the demo): all but the
    on-demand groups."""
    graph = defs.resolve_asset_graph()
    return [k for k in graph.materializable_asset_keys if graph.get(k).group_name not in ON_DEMAND_GROUPS]


@definitions
def defs() -> Definitions:
    """What `dagster dev -m dagster_project.definitions` loads (settings read at load time)."""
    return build_definitions(Settings.load())
