"""Live accuracy on worlds with and without a concept drift: does the check flag the change, and
only the change? Library level (no Dagster, no Beam), seconds per seed.

    python -m bench.live_accuracy --world small --seeds 11,12,13 --train-days 10 --drift-day 13

For each seed: one model trained on the first `train-days` days (the shipped training with a
fixed number of trees), its predictions logged once (monitoring.prediction_log), then every later
day measured (monitoring.live_accuracy) on the stable world and on the same world whose rules
change on `drift-day` (both are identical before it, so one model serves both). Prints a table and
writes JSON. The thresholds were chosen on the drifting demo world (seed 7); these seeds report.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import tempfile
import time

import numpy as np
import pandas as pd

TREES = 300


def train_model(world, train_days: int, workdir: str, trees: int = TREES):
    """A ScoringModel trained like ctr_model (term weights, linear base with ad-group offsets beside
    the served ads' asset effects, stumps, history effects) on the first `train_days` days, the last quarter
    validating, with `trees` stumps instead of choosing their number."""
    from models.asset_effects import AssetEffects
    from models.evaluate import world_texts
    from models.fit import arrays, history_effects
    from models.scoring import ScoringModel
    from models.term_weights import learn_term_weights
    from models.train import train_ctr_model
    from transforms.features import COMBINATION_FEATURE_NAMES, featurize_served_ads
    from transforms.tokenizer import load_processor, train_sentencepiece

    ads = world.ads()
    sp = load_processor(train_sentencepiece(world_texts(world), os.path.join(workdir, "tokenizer.model")))
    last = world.start_date + dt.timedelta(days=train_days - 1)
    valid_days = max(1, train_days // 4)
    perf = pd.DataFrame(world.daily_performance(world.start_date, last))
    dates = pd.to_datetime(perf["date"]).dt.date
    perf["split"] = np.where(dates > last - dt.timedelta(days=valid_days), "valid", "train")
    ex = perf.groupby(["ad_id", "split"], as_index=False)[["impressions", "clicks"]].sum()
    ex = ex[ex.impressions > 0]
    group = {a["ad_id"]: a["ad_group_id"] for a in ads}
    by_id = {a["ad_id"]: a for a in ads}
    ex = ex.assign(ad_group_id=ex.ad_id.map(group))
    weights = learn_term_weights(by_id, ex[ex.split == "train"])
    features = dict(zip((a["ad_id"] for a in ads), featurize_served_ads(ads, sp, weights)))
    ex = ex.assign(features=ex.ad_id.map(features)).sort_values(["split", "ad_id"])
    train, valid = ex[ex.split == "train"], ex[ex.split == "valid"]
    (Xt, it, ct, gt), (Xv, iv, cv, gv) = arrays(train), arrays(valid)
    # the training rows' served ads beside them, as ctr_model trains (models.fit)
    result = train_ctr_model(Xt, it, ct, Xv, iv, cv, COMBINATION_FEATURE_NAMES, params={"num_threads": 1},
                             groups_train=gt, groups_valid=gv, num_boost_round=trees,
                             ads_train=[by_id[a] for a in train.ad_id])
    effects = history_effects(result.booster, train, valid, ads)
    return ScoringModel.from_booster(result.booster, sp, AssetEffects(effects), f"first-{train_days}-days",
                                     term_weights=weights)


def measure(world, model, first_day: dt.date) -> pd.DataFrame:
    """monitoring.live_accuracy.daily_accuracy of the served ads from `first_day` to the world's end,
    under one prediction batch logged the day before."""
    from monitoring import live_accuracy as la
    from monitoring.prediction_log import live_creatives, prediction_batch

    batch = prediction_batch(model, live_creatives(world.ads()), first_day, pd.Timestamp("2025-01-01", tz="UTC"))
    delivery = pd.DataFrame(world.daily_performance(first_day, world.end_date))
    delivery = delivery.assign(date=pd.to_datetime(delivery["date"]).dt.date, source="served_ad",
                               creative_id=delivery["ad_id"])
    return la.daily_accuracy(*la.in_force(batch, delivery))


def summarise(acc: pd.DataFrame, drift: dt.date | None) -> dict:
    out = {}
    for name, part in (("before", acc[acc.date < drift] if drift else acc),
                       ("after", acc[acc.date >= drift] if drift else acc.iloc[0:0])):
        if part.empty:
            continue
        out[name] = {"days": len(part), **{s: int((part.status == s).sum()) for s in ("ok", "warn", "error")},
                     "calibration_min": round(float(part.calibration.min()), 3),
                     "calibration_max": round(float(part.calibration.max()), 3),
                     "rank_gap_mean": round(float(part.rank_gap.mean()), 3)}
    return out


def run(world_name: str, seeds: list[int], train_days: int, drift_day: int, log=print) -> list[dict]:
    from admedia.world import World, WorldConfig

    rows = []
    for seed in seeds:
        started = time.perf_counter()
        stable = World.generate(WorldConfig.preset(world_name, seed=seed))
        drifting = World.generate(WorldConfig.preset(world_name, seed=seed, drift_day=drift_day))
        with tempfile.TemporaryDirectory(prefix="adcombo-live-") as workdir:
            model = train_model(stable, train_days, workdir)
        first = stable.start_date + dt.timedelta(days=train_days)
        for kind, world in (("stable", stable), ("drifting", drifting)):
            acc = measure(world, model, first)
            acc = acc[acc.source == "all"]
            rows.append({"world": world_name, "seed": seed, "kind": kind,
                         **summarise(acc, world.config.drift_date)})
        log(f"seed {seed}: {time.perf_counter() - started:.1f}s")
    return rows


def table(rows: list[dict]) -> str:
    lines = ["| world | seed | kind | days before: ok/warn/error | calibration before | days after: ok/warn/error "
             "| calibration after | rank gap after |", "| --- | --- | --- | --- | --- | --- | --- | --- |"]
    for r in rows:
        b, a = r.get("before", {}), r.get("after", {})
        cells = [f"{b.get('ok', 0)}/{b.get('warn', 0)}/{b.get('error', 0)}",
                 f"{b.get('calibration_min', '–')}–{b.get('calibration_max', '–')}",
                 f"{a.get('ok', 0)}/{a.get('warn', 0)}/{a.get('error', 0)}" if a else "–",
                 f"{a.get('calibration_min')}–{a.get('calibration_max')}" if a else "–",
                 str(a.get("rank_gap_mean", "–"))]
        lines.append(f"| {r['world']} | {r['seed']} | {r['kind']} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench.live_accuracy", description=__doc__.split("\n\n")[0])
    ap.add_argument("--world", default="small")
    ap.add_argument("--seeds", default="11,12,13")
    ap.add_argument("--train-days", type=int, default=10)
    ap.add_argument("--drift-day", type=int, default=13)
    ap.add_argument("--out", default="bench/results/live_accuracy.json")
    args = ap.parse_args(argv)
    rows = run(args.world, [int(s) for s in args.seeds.split(",")], args.train_days, args.drift_day)
    print(table(rows))
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    with open(args.out, "w", encoding="utf-8") as f:
        json.dump({"args": vars(args), "rows": rows}, f, indent=2)
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
