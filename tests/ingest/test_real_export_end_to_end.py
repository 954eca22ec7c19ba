"""A real-looking export imports, trains and scores: examples/byod_ja (CP932 and UTF-16 files,
Japanese headers, customizers, most served ads with an empty description 2) with 5 days of
delivery, the same with 3 days, and as one aggregated period without dates. The pipelines run as
the product runs them: import → warehouse → Parquet snapshot → tokenizer → split plan → Beam
training set → LightGBM → bundle → Beam scoring."""

import csv
import datetime as dt
import io
import shutil
from collections import defaultdict

import numpy as np
import pandas as pd
import pytest

from _files_testlib import BYOD_JA, TODAY
from ingest.importer import ImportOptions, import_files
from ingest.report import format_import
from models.split import HELD_OUT_AD_GROUPS, LAST_DAYS, plan_from_snapshot, plan_from_warehouse
from transforms.combinations import Pool
from warehouse import DuckDBWarehouse
from warehouse.schemas import RAW_SCHEMAS

PERF = "広告の掲載結果.csv"


def _perf_rows(folder):
    text = (folder / PERF).read_bytes().decode("utf-16")
    rows = list(csv.reader(io.StringIO(text), delimiter="\t"))
    return rows[:3], rows[3:]  # report title, date range, header; then the data (and the total row)


def _write_perf(folder, head, rows):
    buf = io.StringIO()
    csv.writer(buf, delimiter="\t", lineterminator="\r\n").writerows(head + rows)
    (folder / PERF).write_bytes(buf.getvalue().encode("utf-16"))


def _variant(tmp_path, name):
    folder = tmp_path / name
    shutil.copytree(BYOD_JA, folder)
    head, rows = _perf_rows(folder)
    if name == "3 days":
        days = sorted({r[0] for r in rows if r[0].startswith("2025/")}, key=lambda d: dt.datetime.strptime(d, "%Y/%m/%d"))
        _write_perf(folder, head, [r for r in rows if r[0] not in days[:2]])
    elif name == "one period":  # the same delivery as totals per ad, no date column
        sums = defaultdict(lambda: [0, 0, 0])
        for r in rows:
            if r[1]:
                for k, v in enumerate((r[2], r[3], r[4])):
                    sums[r[1]][k] += int(v.replace(",", ""))
        _write_perf(folder, head[:2] + [head[2][1:5]], [[a, f"{i:,}", f"{c:,}", str(v)] for a, (i, c, v) in sums.items()])
    return folder


def _train_bundle(snap, tokenizer, plan, out):
    """What the ctr_model asset does, through the same library calls."""
    from models.asset_effects import asset_effects
    from models.bundle import save_bundle
    from models.train import train_ctr_model
    from pipelines import training_set
    from transforms.features import COMBINATION_FEATURE_NAMES, feature_spec

    training_set.run(["--runner=FnApiRunner", f"--ads={snap['raw.ads']}", f"--performance={snap['raw.ad_daily_performance']}",
                      f"--tokenizer={tokenizer}", f"--output={out}/ts/part", *plan.to_flags()])
    df = pd.read_parquet(out / "ts").sort_values(["split", "ad_id"]).reset_index(drop=True)
    assert set(df["split"]) == {"train", "valid"}
    assert len(df) == plan.train_examples + plan.valid_examples

    def arrays(part):
        return (np.stack(part["features"].to_numpy()).astype(np.float32), part["impressions"].to_numpy(),
                part["clicks"].to_numpy(), part["ad_group_id"].astype(str).to_numpy())

    train, valid = df[df.split == "train"], df[df.split == "valid"]
    result = train_ctr_model(*arrays(train)[:3], *arrays(valid)[:3], COMBINATION_FEATURE_NAMES,
                             groups_train=arrays(train)[3], groups_valid=arrays(valid)[3])
    ads = {r["ad_id"]: r for r in pd.read_parquet(snap["raw.ads"]).to_dict("records")}
    X, imp, clk, _ = arrays(df)
    effects = asset_effects([ads[a] for a in df["ad_id"]], result.booster.predict(X, raw_score=True), imp, clk)
    metrics = {**result.metrics, "split": plan.to_metadata()}
    return save_bundle(str(out / "bundles"), result.booster.model_to_string(), tokenizer, feature_spec(), metrics,
                       {}, "e2e", asset_effects=effects), effects


@pytest.mark.parametrize("variant,method", [("5 days", LAST_DAYS), ("3 days", LAST_DAYS),
                                            ("one period", HELD_OUT_AD_GROUPS)])
def test_real_export_imports_trains_and_scores(tmp_path, variant, method):
    from pipelines import score
    from transforms.tokenizer import train_sentencepiece

    folder = _variant(tmp_path, variant)
    wh = DuckDBWarehouse(str(tmp_path / "w.duckdb"))
    as_of = dt.date(2025, 6, 30) if variant == "one period" else None
    result = import_files(wh, str(folder), ImportOptions(encoding="cp932", as_of=as_of, today=TODAY))
    assert result.ok, format_import(result)
    ads_report = result.files["raw.ads"]
    assert ads_report.rejected == 0 and ads_report.loaded == ads_report.rows_read  # every served ad accepted
    ads = wh.query("SELECT * FROM `raw.ads`")
    assert (ads["description_2"] == "").mean() > 0.5

    snap = {t: str(tmp_path / "snap" / f"{t}.parquet") for t in RAW_SCHEMAS}
    for t, path in snap.items():
        wh.export_parquet(t, path)
    pools = wh.query("SELECT * FROM `raw.asset_pools`")
    texts = list(pools["text"]) + [t for c in ("headline_1", "headline_2", "headline_3", "description_1",
                                               "description_2") for t in ads[c]]
    tokenizer = train_sentencepiece(texts, str(tmp_path / "tokenizer.model"))

    plan = plan_from_warehouse(wh)
    assert plan == plan_from_snapshot(snap["raw.ad_daily_performance"], snap["raw.ads"])  # SQL == frames
    assert plan.method == method, plan.reason
    assert plan.days == {"5 days": 5, "3 days": 3, "one period": 1}[variant]
    wh.close()

    bundle, effects = _train_bundle(snap, tokenizer, plan, tmp_path)
    assert len(effects)  # history effects fitted despite the empty positions
    assert not (effects["text"] == "").any()

    out = tmp_path / "scores" / "part"
    score.run(["--runner=FnApiRunner", f"--pools={snap['raw.asset_pools']}", f"--ads={snap['raw.ads']}",
               f"--bundle={bundle}", f"--output={out}", "--top_k=3"])
    top = pd.read_parquet(tmp_path / "scores")
    valid = {g for g, part in pools.groupby("ad_group_id")
             if len(Pool.from_assets(part.to_dict("records")).enumerate_factored()[0])
             and len(Pool.from_assets(part.to_dict("records")).enumerate_factored()[1])}
    assert valid and set(top.loc[top["rank"] == 1, "ad_group_id"]) == valid  # a top combination for each
    # what goes out keeps the customizer syntax as written
    written = set(pools["text"])
    shown = set(top[["headline_1", "headline_2", "headline_3", "description_1", "description_2"]].to_numpy().ravel())
    assert shown <= written
    assert any("{KeyWord:" in t for t in shown), sorted(shown)[:20]
