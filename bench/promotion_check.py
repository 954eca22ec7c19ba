"""The promotion check on retrainings: how often is a normal weekly retraining refused, and is a
broken one still caught? Library level (no Dagster, no Beam), ~2 min per world and seed.

    python -m bench.promotion_check --world default,noisy,dense,sparse,mixed,days14 --seeds 7,3,11,5

For each world variant and seed: production is trained (models.fit.fit_ctr_model, as `ctr_model`
trains) on the history up to a week before the world's last day, the candidate on the whole
history, each with the validation days models.split plans for it; then the check's comparison
(models.promotion.compare and verdict) on the candidate's validation rows, as the asset check
makes it. Two broken candidates (the same booster, its history effects' prior unshrunk (sd x20),
or no history effects at all (sd 1e-4)) measure whether the check still refuses them. The
paired limit and the tolerance were set on the drifting demo world, MATERIAL_CHANGE_PERCENT on
seeds 7 and 3 of these worlds; seeds 11 and 5 report (docs/model.md, "Dagster").
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import sys
import tempfile
import time

import pandas as pd

RETRAIN_EVERY_DAYS = 7
# The candidate's history effects, broken in two ways the booster alone cannot show.
BROKEN = {"unshrunk": lambda sd: sd * 20.0, "none": lambda sd: 1e-4}


def training_frames(world, ads: list[dict], features: dict, last_day: dt.date):
    """(train, valid, split) of the history up to last_day, split as models.split plans it, in
    read_training_set's order."""
    from models.evaluate import examples_frame, plan_valid_from

    perf = pd.DataFrame(world.daily_performance(world.start_date, last_day))
    valid_from, split = plan_valid_from(ads, perf)
    if valid_from is None:
        raise ValueError(f"{(last_day - world.start_date).days + 1} days of history: too short for a day split")
    ex = examples_frame(ads, perf, valid_from)
    ex = ex.assign(features=ex.ad_id.map(features)).sort_values(["split", "ad_id"], kind="stable")
    return ex[ex.split == "train"].reset_index(drop=True), ex[ex.split == "valid"].reset_index(drop=True), split


def retraining(world_name: str, seed: int, log=None) -> dict:
    """One world's weekly retraining through the promotion check, and the two broken candidates."""
    from admedia.world import World
    from models.evaluate import world_config, world_texts
    from models.fit import fit_ctr_model
    from models.promotion import Contender, compare, verdict
    from transforms.features import featurize_served_ads
    from transforms.tokenizer import load_processor, train_sentencepiece

    log = log or (lambda line: print(line, flush=True))
    started = time.perf_counter()
    world = World.generate(world_config(world_name, seed))
    ads = world.ads()
    models = {}
    with tempfile.TemporaryDirectory(prefix="adcombo-promotion-") as workdir:
        tokenizer = train_sentencepiece(world_texts(world), os.path.join(workdir, "tokenizer.model"))
        sp = load_processor(tokenizer)
        features = dict(zip((a["ad_id"] for a in ads), featurize_served_ads(ads, sp)))
        for role, last in (("production", world.end_date - dt.timedelta(days=RETRAIN_EVERY_DAYS)),
                           ("candidate", world.end_date)):
            train, valid, split = training_frames(world, ads, features, last)
            fitted = fit_ctr_model(train, valid, ads, tokenizer, split)
            models[role] = Contender(fitted.result.booster, fitted.result.metrics.get("asset_effects"),
                                     fitted.term_weights, sp)
            log(f"  {world_name} seed {seed}: {role} on {(last - world.start_date).days + 1} days, "
                f"{len(train):,} + {len(valid):,} rows")
    # the check compares on the candidate's training set: `train`, `valid` are the last window's
    row = {"world": world_name, "seed": seed, "days": world.config.days, "validation_rows": len(valid)}
    passed, meta = verdict(compare(models["candidate"], models["production"], train, valid, ads))
    row["retraining"] = {"promoted": passed, **meta}
    for name, change in BROKEN.items():
        priors = dict(models["candidate"].priors or {})
        priors["prior_sd"] = change(float(priors["prior_sd"]))
        broken = Contender(models["candidate"].booster, priors, models["candidate"].term_weights, sp)
        passed, meta = verdict(compare(broken, models["production"], train, valid, ads))
        row[f"broken_{name}"] = {"promoted": passed, **meta}
    row["seconds"] = round(time.perf_counter() - started, 1)
    return row


def table(rows: list[dict]) -> str:
    lines = ["| world | seed | retraining: promoted | relative change (booster / with effects) | paired z (groups) "
             "| unshrunk effects: promoted, z | no effects: promoted, z |",
             "| --- | --- | --- | --- | --- | --- | --- |"]
    for r in rows:
        t = r["retraining"]
        broken = [f"{'yes' if r[k]['promoted'] else 'no'}, {r[k].get('paired_z_with_history_effects', '–')}"
                  for k in ("broken_unshrunk", "broken_none")]
        lines.append(f"| {r['world']} | {r['seed']} | {'yes' if t['promoted'] else 'no'} "
                     f"| {t.get('relative_change_%', '–')} % / {t.get('relative_change_with_history_effects_%', '–')} % "
                     f"| {t.get('paired_z_with_history_effects', '–')} ({t.get('paired_ad_groups', '–')}) "
                     f"| {broken[0]} | {broken[1]} |")
    refused = sum(not r["retraining"]["promoted"] for r in rows)
    caught = sum(not r[k]["promoted"] for r in rows for k in ("broken_unshrunk", "broken_none"))
    lines.append(f"\nnormal retrainings refused: {refused} of {len(rows)}; broken candidates refused: "
                 f"{caught} of {2 * len(rows)}")
    return "\n".join(lines)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench.promotion_check", description=__doc__.split("\n\n")[0])
    ap.add_argument("--world", default="default,noisy,dense,sparse,mixed,days14",
                    help="world variants (models.world_variants) or simulator presets, comma-separated")
    ap.add_argument("--seeds", default="7,3,11,5")
    ap.add_argument("--out", default="bench/results/promotion_check.json")
    args = ap.parse_args(argv)
    from models.evaluate import world_config

    try:
        for name in args.world.split(","):
            world_config(name, 0)
    except ValueError as exc:  # before two minutes of training: one line, as `models.evaluate` says it
        print(f"error: {exc}", file=sys.stderr)
        return 2
    rows = []
    for name in args.world.split(","):
        for seed in (int(s) for s in args.seeds.split(",")):
            rows.append(retraining(name, seed))
            print(f"{name} seed {seed}: done in {rows[-1]['seconds']:.0f} s", flush=True)
    print(table(rows))
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    with open(args.out, "w", encoding="utf-8") as f:
        json.dump({"args": vars(args), "rows": rows}, f, indent=2, default=str)
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
