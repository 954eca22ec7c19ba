"""Dagster resources: where files live, the warehouse, the ad-media API, the Beam runner, the model
store. `build_resources(settings)` makes the whole set for the deployment the settings chose."""

from __future__ import annotations

import dataclasses
import datetime as dt
import os
from contextlib import contextmanager
from typing import Iterator

from dagster import ConfigurableResource

from pipelines.profiles import DATAFLOW_DEFAULTS, DataflowConfig

LOCAL_SIMULATOR_TOKEN = "adcombo-local-simulator"  # only ever valid on the loopback simulator
SPLIT_FILE = "_split_plan.json"  # beside the training-set shards: how the validation split was chosen


class LocalPaths(ConfigurableResource):
    """The data folder; every local artifact has one fixed place under it."""

    home: str
    remote_root: str = ""  # gs:// folder that remote (Dataflow) stages read and write
    remote_stages: bool = False  # the Beam jobs run on Dataflow: their files live under remote_root

    def path(self, *parts: str) -> str:
        return os.path.join(self.home, *parts)

    def remote(self, *parts: str) -> str:
        from pipelines.storage import join

        if not self.remote_root:
            raise ValueError("a remote runner needs ADCOMBO_GCS_ROOT (gs://bucket/folder) for stage files")
        return join(self.remote_root, *parts)

    def snapshot(self, table: str) -> str:
        return self.path("snapshots", f"{table.replace('.', '__')}.parquet")

    @property
    def tokenizer(self) -> str:
        return self.path("artifacts", "tokenizer.model")

    @property
    def training_set_dir(self) -> str:
        return self.path("training_set")

    def training_set_location(self) -> str:
        """Where the training-set job writes: the data folder, or gs:// for Dataflow jobs."""
        return self.remote("training_set") if self.remote_stages else self.training_set_dir

    def write_training_split(self, plan: dict, folder: str) -> None:
        """The validation split's record (models.split) beside the training-set shards; the leading
        underscore keeps Parquet readers of the folder from taking it for data."""
        import json

        from pipelines.storage import join, upload

        local = os.path.join(self.home, ".split_plan.json.tmp")
        with open(local, "w", encoding="utf-8") as f:
            json.dump(plan, f)
        if self.remote_stages:
            upload(local, join(folder, SPLIT_FILE))
            os.remove(local)
        else:
            os.replace(local, os.path.join(folder, SPLIT_FILE))

    def training_split(self) -> dict:
        """How the current training set was split (after training_files() fetched it)."""
        import json

        try:
            with open(os.path.join(self.training_set_dir, SPLIT_FILE), encoding="utf-8") as f:
                return json.load(f)
        except FileNotFoundError:
            return {}

    def training_files(self) -> list[str]:
        """Local Parquet files of the training set (fetched from gs:// first when it lives there)."""
        import glob

        if self.remote_stages:
            import shutil

            from pipelines.storage import download_matching, join

            shutil.rmtree(self.training_set_dir, ignore_errors=True)  # never mix in an older set's shards
            download_matching(join(self.training_set_location(), SPLIT_FILE), self.training_set_dir)
            return download_matching(join(self.training_set_location(), "part*"), self.training_set_dir)
        return sorted(glob.glob(os.path.join(self.training_set_dir, "*.parquet")))


class WarehouseResource(ConfigurableResource):
    """The warehouse: DuckDB under the data folder (default) or BigQuery (`backend="bigquery"`)."""

    backend: str = "duckdb"
    duckdb_path: str = ""
    bigquery_project: str = ""
    bigquery_location: str = ""
    bigquery_endpoint: str = ""  # only for an emulator; empty = the real BigQuery API
    bigquery_staging: str = "load"  # "stream" for the emulator (it has no load jobs)

    @property
    def is_bigquery(self) -> bool:
        return self.backend == "bigquery"

    def beam_source(self, table: str, paths: "LocalPaths") -> str:
        """What a Beam job reads for a raw table: the BigQuery table itself (`bq://`), or its
        Parquet snapshot in the data folder (DuckDB has no read API for workers)."""
        if self.is_bigquery:
            if not self.bigquery_project:
                raise ValueError("BigQuery needs a project: set ADCOMBO_BQ_PROJECT or ADCOMBO_GCP_PROJECT")
            return f"bq://{self.bigquery_project}.{table}"
        return paths.snapshot(table)

    def beam_table(self, table: str) -> str:
        """A BigQuery table as Beam's WriteToBigQuery names it: PROJECT:DATASET.TABLE."""
        return f"{self.bigquery_project}:{table}"

    @contextmanager
    def open(self) -> Iterator:
        from warehouse import open_warehouse

        if self.backend == "bigquery":
            wh = open_warehouse("bigquery", project=self.bigquery_project or None,
                                location=self.bigquery_location or None,
                                api_endpoint=self.bigquery_endpoint or None, staging=self.bigquery_staging)
        else:
            # A connection per use: DuckDB allows one writer process, and the UI, the CLI and
            # runs must take turns rather than hold the file.
            wh = open_warehouse(self.backend, path=self.duckdb_path)
        try:
            yield wh
        finally:
            wh.close()


class AdMediaApiResource(ConfigurableResource):
    """The ad-media API. With no `base_url`, the bundled simulator is started on loopback.

    The token comes from `EnvVar("ADCOMBO_API_TOKEN")` in production and is never logged. The
    simulator's fault knobs (`fault_rate` etc.) let a demo show the retries and dead letters.
    """

    base_url: str = ""
    token: str = ""
    world: str = "demo"
    seed: int = 7
    lookback_days: int = 30
    page_size: int = 1000
    max_attempts: int = 6
    timeout_seconds: float = 30.0
    fault_rate: float = 0.0
    malformed_rate: float = 0.0
    restatement_rate: float = 0.0
    creatives_path: str = ""  # where the simulator keeps submitted experiment creatives
    today: str = ""  # the simulator's clock (YYYY-MM-DD): it serves the days before it
    drift_day: int = 0  # the simulator world's concept drift day (0: the preset's)

    def _client(self, url: str, token: str):
        from admedia.client import AdMediaClient

        return AdMediaClient(url, token, timeout=self.timeout_seconds, page_size=self.page_size,
                             max_attempts=self.max_attempts)

    @contextmanager
    def connect(self, log=None) -> Iterator[tuple]:
        """Yields (client, first_day, last_day) of the data the source has."""
        if self.base_url:
            if not self.token:
                raise ValueError("ADCOMBO_API_URL is set but ADCOMBO_API_TOKEN is not: export the token")
            end = dt.date.today() - dt.timedelta(days=1)
            start = end - dt.timedelta(days=self.lookback_days - 1)
            with self._client(self.base_url, self.token) as client:
                yield client, start, end
            return
        from admedia.server import FaultConfig, serve_in_background
        from admedia.world import World, WorldConfig

        config = WorldConfig.preset(self.world)
        config = dataclasses.replace(config, seed=self.seed, drift_day=self.drift_day or config.drift_day)
        world = World.generate(config)
        faults = FaultConfig.mixed(self.fault_rate, seed=self.seed, retry_after=0.2,
                                   malformed_rate=self.malformed_rate, restatement_rate=self.restatement_rate)
        today = dt.date.fromisoformat(self.today) if self.today else None
        with serve_in_background(world, LOCAL_SIMULATOR_TOKEN, faults=faults,
                                 creatives_path=self.creatives_path or None, today=today) as url:
            if log:
                log.info(f"simulator ({self.world} world, seed {self.seed}"
                         + (f", today {today}" if today else "") + f") serving on {url}")
            with self._client(url, LOCAL_SIMULATOR_TOKEN) as client:
                last = min(world.end_date, today - dt.timedelta(days=1)) if today else world.end_date
                yield client, world.start_date, last


class BeamRunnerResource(ConfigurableResource):
    """Where pipelines run: `profile` "local" (FnApiRunner with `workers` processes) or "dataflow"
    (DataflowRunner with the Dataflow fields below, jobs launched from the Flex Template `template`
    when set, else submitted from this process). Values come from the settings, never the
    environment."""

    profile: str = "local"
    workers: int = 2
    extra_flags: list[str] = []
    project: str = ""
    region: str = DATAFLOW_DEFAULTS.region
    temp_location: str = ""
    machine_type: str = DATAFLOW_DEFAULTS.machine_type
    num_workers: int = DATAFLOW_DEFAULTS.num_workers
    max_workers: int = DATAFLOW_DEFAULTS.max_workers
    sdk_container_image: str = ""
    service_account: str = ""
    template: str = ""  # gs:// Flex Template spec
    poll_seconds: float = 30.0

    @property
    def is_local(self) -> bool:
        return self.profile == "local"

    @property
    def dataflow(self) -> DataflowConfig:
        return DataflowConfig(project=self.project, region=self.region, temp_location=self.temp_location,
                              machine_type=self.machine_type, num_workers=self.num_workers,
                              max_workers=self.max_workers, sdk_container_image=self.sdk_container_image,
                              service_account=self.service_account)

    def cores(self, workers: int | None = None) -> int | None:
        """Cores the local runner uses (None on a remote runner: Dataflow reports its own)."""
        return max(1, min(workers or self.workers, os.cpu_count() or 1)) if self.is_local else None

    def flags(self, workers: int | None = None) -> list[str]:
        from pipelines.profiles import profile_flags

        return profile_flags(self.profile, workers or self.workers, self.dataflow) + list(self.extra_flags)

    def jobs(self):
        from pipelines.dataflow_jobs import DataflowJobs

        return DataflowJobs(self.project, self.region)


class ModelStoreResource(ConfigurableResource):
    """Candidate and production bundles (models.store.ModelStore): a local folder or a gs:// prefix,
    the same interface either way."""

    root: str

    def store(self):
        from models.store import ModelStore

        return ModelStore(self.root)


def warehouse_resource(settings) -> WarehouseResource:
    """The configured warehouse; the CLI reads results through the same one."""
    return WarehouseResource(backend=settings.warehouse, duckdb_path=str(settings.duckdb_path),
                             bigquery_project=settings.bq_project, bigquery_location=settings.bq_location)


def build_resources(settings) -> dict:
    """Every resource of the deployment the settings chose (local or production), as one set."""
    from dagster import EnvVar

    return {
        "paths": LocalPaths(home=str(settings.home), remote_root=settings.gcs_root,
                            remote_stages=settings.runner_profile != "local"),
        "warehouse": warehouse_resource(settings),
        "admedia": AdMediaApiResource(
            base_url=settings.api_url,
            # resolved by Dagster at run time, so the token is never part of the definitions
            token=EnvVar("ADCOMBO_API_TOKEN") if settings.api_token else "",
            world=settings.world, seed=settings.seed,
            creatives_path=str(settings.home / "simulator" / "creatives.json"),
            today=settings.today.isoformat() if settings.today else "", drift_day=settings.drift_day or 0,
        ),
        "beam_runner": BeamRunnerResource(
            profile=settings.runner_profile, workers=settings.beam_workers, project=settings.gcp_project,
            region=settings.gcp_region, temp_location=settings.gcs_temp, machine_type=settings.dataflow_machine_type,
            num_workers=settings.dataflow_num_workers, max_workers=settings.dataflow_max_workers,
            sdk_container_image=settings.sdk_container_image, service_account=settings.dataflow_service_account,
            template=settings.dataflow_template,
        ),
        "model_store": ModelStoreResource(root=settings.model_store_root),
    }
