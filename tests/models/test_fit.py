"""The training job's core around the training-set shards: what the bundle says it was trained on."""
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from models.fit import fingerprint, read_training_set
from pipelines.training_set import TRAINING_SCHEMA


def _rows(n=12, clicks=3):
    rng = np.random.default_rng(0)
    return [{"ad_id": f"ad{i:03d}", "ad_group_id": f"ag{i // 4}", "split": "valid" if i % 3 == 0 else "train",
             "impressions": 1000 + i, "clicks": clicks + i % 5,
             "features": rng.random(6, dtype=np.float32).tolist()}
            for i in range(n)]


def _write(tmp_path, name, rows, shards):
    paths = []
    for k in range(shards):
        part = [{f.name: r.get(f.name) for f in TRAINING_SCHEMA} for r in rows[k::shards]]
        path = tmp_path / f"{name}-{k:05d}-of-{shards:05d}.parquet"
        pq.write_table(pa.Table.from_pylist(part, schema=TRAINING_SCHEMA), path)
        paths.append(str(path))
    return paths


def test_fingerprint_follows_the_rows_not_the_shard_layout(tmp_path):
    rows = _rows()
    one = fingerprint(*read_training_set(_write(tmp_path, "one", rows, 1)))
    three = fingerprint(*read_training_set(_write(tmp_path, "three", rows[::-1], 3)))
    assert one == three  # Beam picks the number of shards and their order; the data is the same
    changed = fingerprint(*read_training_set(_write(tmp_path, "changed", _rows(clicks=4), 2)))
    assert changed != one
