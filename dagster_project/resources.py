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

    def path(self, *parts: str) -> str:
        return os.path.join(self.home, *parts)

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
    backend: str = "duckdb"
    duckdb_path: str

    @contextmanager
    def open(self) -> Iterator:
        from warehouse import open_warehouse

        # A connection per use: DuckDB allows one writer process, and the UI, the CLI and runs
        # must take turns rather than hold the file.
        wh = open_warehouse(self.backend, path=self.duckdb_path)
        try:
            yield wh
        finally:
            wh.close()


class AdMediaApiResource(ConfigurableResource):
    """The ad-media API. With no `base_url`, the bundled simulator is started on loopback."""

    base_url: str = ""
    token: str = ""
    world: str = "demo"
    seed: int = 7
    lookback_days: int = 30

    @contextmanager
    def connect(self, log=None) -> Iterator[tuple]:
        from admedia.client import AdMediaClient

        if self.base_url:
            end = dt.date.today() - dt.timedelta(days=1)
            start = end - dt.timedelta(days=self.lookback_days - 1)
            yield AdMediaClient(self.base_url, self.token), start, end
            return
        from admedia.server import serve_in_background
        from admedia.world import World, WorldConfig

        config = WorldConfig.preset(self.world)
        config = dataclasses.replace(config, seed=self.seed)
        world = World.generate(config)
        with serve_in_background(world, LOCAL_SIMULATOR_TOKEN) as url:
            if log:
                log.info(f"simulator ({self.world} world, seed {self.seed}) serving on {url}")
            yield AdMediaClient(url, LOCAL_SIMULATOR_TOKEN), world.start_date, world.end_date


class BeamRunnerResource(ConfigurableResource):
    """Runner flags for every pipeline the assets launch."""

    runner: str = "FnApiRunner"
    workers: int = 2
    extra_flags: list[str] = []

    def flags(self, workers: int | None = None) -> list[str]:
        from pipelines.options import local_runner_flags

        if self.runner == "FnApiRunner":
            return local_runner_flags(workers or self.workers) + list(self.extra_flags)
        return [f"--runner={self.runner}", *self.extra_flags]
