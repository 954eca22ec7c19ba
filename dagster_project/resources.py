"""Dagster resources: where files live, the warehouse, the ad-media API, the Beam runner."""

from __future__ import annotations

import dataclasses
import datetime as dt
import os
from contextlib import contextmanager
from typing import Iterator

from dagster import ConfigurableResource

LOCAL_SIMULATOR_TOKEN = "adcombo-local-simulator"  # only ever valid on the loopback simulator


class LocalPaths(ConfigurableResource):
    """The data folder; every local artifact has one fixed place under it."""

    home: str
    remote_root: str = ""  # gs:// folder that remote (Dataflow) stages read and write

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

    @property
    def bundles_dir(self) -> str:
        return self.path("models", "bundles")

    @property
    def current_model_file(self) -> str:
        return self.path("models", "CURRENT")

    def current_bundle(self) -> str:
        try:
            with open(self.current_model_file, encoding="utf-8") as f:
                version = f.read().strip()
        except FileNotFoundError:
            raise FileNotFoundError(
                f"no production model yet ({self.current_model_file} is missing): "
                "materialise the ctr_model asset first"
            ) from None
        return os.path.join(self.bundles_dir, version)

    def set_current_bundle(self, version: str) -> None:
        tmp = self.current_model_file + ".tmp"
        with open(tmp, "w", encoding="utf-8") as f:
            f.write(version + "\n")
        os.replace(tmp, self.current_model_file)


class WarehouseResource(ConfigurableResource):
    """The warehouse: DuckDB under the data folder (default) or BigQuery (`backend="bigquery"`)."""

    backend: str = "duckdb"
    duckdb_path: str = ""
    bigquery_project: str = ""
    bigquery_location: str = ""
    bigquery_endpoint: str = ""  # only for an emulator; empty = the real BigQuery API
    bigquery_staging: str = "load"  # "stream" for the emulator (it has no load jobs)

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
        config = dataclasses.replace(config, seed=self.seed)
        world = World.generate(config)
        faults = FaultConfig.mixed(self.fault_rate, seed=self.seed, retry_after=0.2,
                                   malformed_rate=self.malformed_rate, restatement_rate=self.restatement_rate)
        with serve_in_background(world, LOCAL_SIMULATOR_TOKEN, faults=faults,
                                 creatives_path=self.creatives_path or None) as url:
            if log:
                log.info(f"simulator ({self.world} world, seed {self.seed}) serving on {url}")
            with self._client(url, LOCAL_SIMULATOR_TOKEN) as client:
                yield client, world.start_date, world.end_date


class BeamRunnerResource(ConfigurableResource):
    """Runner flags for every pipeline the assets launch.

    One setting picks where pipelines run: `profile` ("local" or "dataflow"), or when empty the
    ADCOMBO_RUNNER_PROFILE environment variable, else local. The Dataflow profile's project,
    bucket, machine type, workers and SDK image come from ADCOMBO_* variables (see
    pipelines.options.profile_flags). `runner` is kept for explicit overrides of the local profile.
    """

    profile: str = ""
    runner: str = "FnApiRunner"
    workers: int = 2
    extra_flags: list[str] = []

    def resolved_profile(self) -> str:
        return (self.profile or os.environ.get("ADCOMBO_RUNNER_PROFILE") or "local").strip().lower()

    @property
    def is_local(self) -> bool:
        return self.resolved_profile() == "local"

    def cores(self, workers: int | None = None) -> int | None:
        """Cores the local runner uses (None on a remote runner: Dataflow reports its own)."""
        return max(1, min(workers or self.workers, os.cpu_count() or 1)) if self.is_local else None

    def flags(self, workers: int | None = None) -> list[str]:
        from pipelines.options import local_runner_flags, profile_flags

        profile = self.resolved_profile()
        if profile == "local":
            if self.runner not in ("FnApiRunner", "DirectRunner", ""):
                return [f"--runner={self.runner}", *self.extra_flags]
            return local_runner_flags(workers or self.workers) + list(self.extra_flags)
        return profile_flags(profile, workers or self.workers) + list(self.extra_flags)


class DataflowResource(ConfigurableResource):
    """Where and how scoring jobs launch on Dataflow (Flex Template) and how they are followed."""

    project: str = ""
    region: str = "asia-northeast1"
    template: str = ""  # gs:// Flex Template spec; empty: jobs are submitted from this process
    temp_location: str = ""
    sdk_container_image: str = ""
    machine_type: str = "n2-highcpu-8"
    num_workers: int = 2
    max_workers: int = 20
    service_account: str = ""
    poll_seconds: float = 30.0

    def jobs(self):
        from pipelines.dataflow_jobs import DataflowJobs

        return DataflowJobs(self.project, self.region)

    def environment(self) -> dict:
        env = {"num_workers": self.num_workers, "max_workers": self.max_workers, "machine_type": self.machine_type}
        if self.temp_location:
            env["temp_location"] = self.temp_location
        if self.sdk_container_image:
            env["sdk_container_image"] = self.sdk_container_image
        if self.service_account:
            env["service_account_email"] = self.service_account
        return env
