"""Shared fixtures: a tiny simulated world written as a warehouse snapshot, and its tokenizer."""

import asyncio
import os
import threading

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

# Keep Dagster from phoning home and from writing into the developer's data folder.
os.environ.setdefault("DAGSTER_DISABLE_TELEMETRY", "1")


@pytest.fixture(scope="session")
def tiny_world():
    from admedia.world import World, WorldConfig

    return World.generate(WorldConfig.preset("tiny"))


@pytest.fixture(scope="session")
def tiny_snapshot(tiny_world, tmp_path_factory):
    """Parquet files of raw.ads, raw.ad_daily_performance and raw.asset_pools, plus a tokenizer."""
    from transforms.tokenizer import train_sentencepiece
    from warehouse.schemas import to_frame

    root = tmp_path_factory.mktemp("snapshot")
    rows = {
        "raw.ads": tiny_world.ads(),
        "raw.ad_daily_performance": tiny_world.daily_performance(tiny_world.start_date, tiny_world.end_date),
        "raw.asset_pools": tiny_world.asset_pools(),
    }
    paths = {}
    for table, table_rows in rows.items():
        paths[table] = str(root / f"{table}.parquet")
        pq.write_table(pa.Table.from_pandas(to_frame(table, table_rows), preserve_index=False), paths[table])
    texts = [a["text"] for a in rows["raw.asset_pools"]] + [
        ad[c] for ad in rows["raw.ads"] for c in ("headline_1", "headline_2", "headline_3", "description_1", "description_2")
    ]
    paths["tokenizer"] = train_sentencepiece(texts, str(root / "tokenizer.model"))
    paths["root"] = str(root)
    return paths


@pytest.fixture(scope="session")
def tiny_bundle(tiny_world, tiny_snapshot, tmp_path_factory):
    """A real model bundle trained on the tiny world's served ads (no Beam: pure functions), with
    the lexicon's term weights learnt from the training rows, as ctr_model learns them."""
    import numpy as np
    import pandas as pd

    from models.asset_effects import asset_effects
    from models.bundle import save_bundle
    from models.term_weights import learn_term_weights
    from models.train import train_ctr_model
    from transforms.features import COMBINATION_FEATURE_NAMES, feature_spec, featurize_served_ad
    from transforms.tokenizer import load_processor

    sp = load_processor(tiny_snapshot["tokenizer"])
    perf = pd.read_parquet(tiny_snapshot["raw.ad_daily_performance"])
    perf["valid"] = pd.to_datetime(perf["date"]) >= pd.Timestamp(tiny_world.end_date) - pd.Timedelta(days=2)
    sums = perf.groupby(["ad_id", "valid"], as_index=False)[["impressions", "clicks"]].sum()
    ads = {ad["ad_id"]: ad for ad in tiny_world.ads()}
    sums = sums[sums.ad_id.isin(ads) & (sums.impressions > 0)]
    sums["ad_group_id"] = [ads[a]["ad_group_id"] for a in sums.ad_id]
    weights = learn_term_weights(ads, sums[~sums.valid])
    assert weights  # the bundle every scoring test uses reads the lexicon with weights
    X = np.stack([featurize_served_ad(ads[a], sp, weights) for a in sums.ad_id])

    def part(mask):
        return X[mask], sums.impressions.to_numpy()[mask], sums.clicks.to_numpy()[mask]

    result = train_ctr_model(*part(~sums.valid.to_numpy()), *part(sums.valid.to_numpy()), COMBINATION_FEATURE_NAMES)
    # per-asset history effects from all served days, as the ctr_model asset fits them
    effects = asset_effects([ads[a] for a in sums.ad_id], result.booster.predict(X, raw_score=True),
                            sums.impressions.to_numpy(), sums.clicks.to_numpy())
    return save_bundle(
        str(tmp_path_factory.mktemp("bundles")), result.booster.model_to_string(), tiny_snapshot["tokenizer"],
        feature_spec(), result.metrics, {}, "tinyworld0000", asset_effects=effects, term_weights=weights,
    )


# --- BigQuery through a local BigQuery API emulator (bqemulator) ---------------------------------
# The emulator would download DuckDB's spatial extension at start (GEOGRAPHY support, unused here);
# offline that fails, so the fixture skips that one step. It serves the REST API on loopback from an
# in-memory DuckDB, in a background thread of the test process.


class _Emulator:
    def __init__(self):
        from bqemulator.config import PersistenceMode, Settings
        from bqemulator.server import EmulatorServer

        self.server = EmulatorServer(Settings(
            persistence_mode=PersistenceMode.EPHEMERAL, rest_host="127.0.0.1", rest_port=0,
            grpc_host="127.0.0.1", grpc_port=0, default_project_id="adcombo-test"))
        self._ready, self._error, self._loop = threading.Event(), None, None

    def _run(self):
        self._loop = asyncio.new_event_loop()
        asyncio.set_event_loop(self._loop)
        try:
            self._loop.run_until_complete(self.server.start())
        except BaseException as exc:  # surfaced in start()
            self._error = exc
            self._ready.set()
            return
        self._ready.set()
        self._loop.run_forever()
        self._loop.close()

    def start(self):
        self._thread = threading.Thread(target=self._run, daemon=True, name="bqemulator")
        self._thread.start()
        if not self._ready.wait(120):
            raise RuntimeError("bqemulator did not start")
        if self._error:
            raise self._error
        return self.server.rest_url

    def stop(self):
        if self._loop and not self._loop.is_closed() and self._error is None:
            asyncio.run_coroutine_threadsafe(self.server.stop(), self._loop).result(20)
            self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(20)


@pytest.fixture(scope="session")
def bq_emulator_url():
    pytest.importorskip("bqemulator")
    from bqemulator.storage.engine import DuckDBEngine

    mp = pytest.MonkeyPatch()
    # The only network access at start: INSTALL/LOAD spatial. Skipped: no GEOGRAPHY here.
    mp.setattr(DuckDBEngine, "_load_spatial", lambda self: None)
    emu = _Emulator()
    try:
        yield emu.start()
    finally:
        emu.stop()
        mp.undo()
