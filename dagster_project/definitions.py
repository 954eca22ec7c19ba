"""The adcombo code location: `dagster dev -m dagster_project.definitions`.

Heavy libraries (apache_beam, lightgbm) are imported inside the assets, so this loads fast.
"""

from __future__ import annotations

import os

from dagster import (
    Definitions,
    EnvVar,
    in_process_executor,
    load_asset_checks_from_package_module,
    load_assets_from_package_module,
)

from dagster_project import assets, checks
from dagster_project.resources import (
    AdMediaApiResource,
    BeamRunnerResource,
    DataflowResource,
    LocalPaths,
    WarehouseResource,
)
from dagster_project.schedules import SCHEDULES
from dagster_project.sensors import build_sensors
from dagster_project.settings import Settings


def warehouse_resource(settings: Settings) -> WarehouseResource:
    """The configured warehouse; the CLI reads results through the same one."""
    return WarehouseResource(
        backend=settings.warehouse,
        duckdb_path=os.path.join(settings.home, "warehouse.duckdb"),
        bigquery_project=settings.bigquery_project,
        bigquery_location=settings.bigquery_location,
    )


def build_definitions(settings: Settings) -> Definitions:
    api_token = EnvVar("ADCOMBO_API_TOKEN") if os.environ.get("ADCOMBO_API_TOKEN") else ""
    return Definitions(
        # Every module under assets/ and checks/ is picked up: adding a stage is adding a module.
        assets=load_assets_from_package_module(assets),
        asset_checks=load_asset_checks_from_package_module(checks),
        schedules=SCHEDULES,
        # Transitional: the lead's Settings passes settings.alert_webhook_url here.
        sensors=build_sensors(os.environ.get("ADCOMBO_ALERT_WEBHOOK_URL")),
        resources={
            "paths": LocalPaths(home=settings.home, remote_root=settings.gcs_root),
            "warehouse": warehouse_resource(settings),
            "admedia": AdMediaApiResource(
                base_url=settings.api_url, token=api_token, world=settings.world, seed=settings.seed,
                creatives_path=os.path.join(settings.home, "simulator", "creatives.json"),
            ),
            "beam_runner": BeamRunnerResource(profile=settings.runner_profile, workers=settings.beam_workers),
            "dataflow": DataflowResource(
                project=settings.gcp_project,
                region=settings.gcp_region,
                template=settings.dataflow_template,
                temp_location=os.environ.get("ADCOMBO_GCS_TEMP", ""),
                sdk_container_image=os.environ.get("ADCOMBO_SDK_CONTAINER_IMAGE", ""),
                machine_type=os.environ.get("ADCOMBO_DATAFLOW_MACHINE_TYPE", "n2-highcpu-8"),
                num_workers=int(os.environ.get("ADCOMBO_DATAFLOW_NUM_WORKERS", "2")),
                max_workers=int(os.environ.get("ADCOMBO_DATAFLOW_MAX_WORKERS", "20")),
                service_account=os.environ.get("ADCOMBO_DATAFLOW_SERVICE_ACCOUNT", ""),
            ),
        },
        # One process at a time: the embedded DuckDB file takes a single writer, and Beam
        # already uses every core inside the steps that need them.
        executor=in_process_executor,
    )


defs = build_definitions(Settings.from_env())
