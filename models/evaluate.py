"""Evaluate the CTR model against the simulator's hidden ground truth, with baselines.

    python -m models.evaluate --world default [--out evaluation.json] [--seed 7]

One run, one world, one split, everything compared on the same data:

1. The world's served ads and daily performance are turned into training examples exactly as the
   training-set pipeline does (shared featurisation, per-split sums; the most recent
   ``valid_days`` days are validation).
2. A share of the ad groups is held out entirely (chosen by a stable hash of the id). The model
   and the logistic baseline are trained on the other ad groups only (models.train's early
   stopping). The held-out groups' own training-days history is what scoring would know of them:
   the shipped model (`lightgbm`) gets its per-asset history effects from it
   (models.asset_effects), and the asset-mean baseline its means, the only way it can work.
   `lightgbm_text_only` is the booster alone.
3. Observed metrics (log loss, AUC, calibration) on the held-out groups' validation days.
4. Ground truth on the held-out groups: every valid combination of each pool is featurised and
   scored; per ad group the Spearman correlation between predicted and true CTR, and the true
   lift of the top-1 combination over a random one (the mean over all valid combinations) as a
   share of the oracle's lift (best true combination). Shares are reported as the ratio of the
   summed lifts (robust to ad groups whose spread is tiny) and as the per-group median.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import sys
import tempfile
import time
import zlib
from dataclasses import dataclass

import numpy as np
import pandas as pd

from models.asset_effects import ASSET_PRIOR_SD, AssetEffects, asset_effects
from models.baselines import AssetMeanCTR, LogisticCTR
from models.scoring import PoolInput, ScoringModel, score_pool
from models.train import evaluate as observed_metrics
from models.train import fit_group_offsets
from models.train import train_ctr_model

TEXT_COLUMNS = ("headline_1", "headline_2", "headline_3", "description_1", "description_2")


def is_holdout(ad_group_id: str, share: float) -> bool:
    return (zlib.crc32(ad_group_id.encode("utf-8")) % 1000) < share * 1000


def examples_frame(ads: list[dict], perf: pd.DataFrame, valid_from: dt.date) -> pd.DataFrame:
    """One row per (served ad, split): impressions and clicks summed over the split's days."""
    p = perf[["date", "ad_id", "impressions", "clicks"]].copy()
    p["split"] = np.where(pd.to_datetime(p["date"]).dt.date >= valid_from, "valid", "train")
    sums = p.groupby(["ad_id", "split"], as_index=False)[["impressions", "clicks"]].sum()
    sums = sums[sums.impressions > 0]
    ad_frame = pd.DataFrame(ads)[["ad_id", "ad_group_id"]]
    return sums.merge(ad_frame, on="ad_id", how="inner").sort_values(["split", "ad_id"]).reset_index(drop=True)


@dataclass
class Prepared:
    world: object
    sp: object
    tokenizer_path: str
    ads: dict  # ad_id -> raw.ads row
    X_by_ad: dict  # ad_id -> row index into X
    X: np.ndarray
    examples: pd.DataFrame
    holdout: set
    valid_from: dt.date


def prepare(world, workdir: str, holdout_share: float = 0.2, valid_days: int = 7) -> Prepared:
    from transforms.features import featurize_served_ads
    from transforms.tokenizer import load_processor, train_sentencepiece

    ads = world.ads()
    pools = world.asset_pools()
    texts = [a[c] for a in ads for c in TEXT_COLUMNS] + [a["text"] for a in pools]
    tok = train_sentencepiece(texts, os.path.join(workdir, "tokenizer.model"))
    sp = load_processor(tok)
    perf = pd.DataFrame(world.daily_performance(world.start_date, world.end_date))
    valid_from = world.end_date - dt.timedelta(days=valid_days - 1)
    examples = examples_frame(ads, perf, valid_from)
    X = featurize_served_ads(ads, sp)
    holdout = {g for g in world.ad_group_ids() if is_holdout(g, holdout_share)}
    return Prepared(world, sp, tok, {a["ad_id"]: a for a in ads}, {a["ad_id"]: i for i, a in enumerate(ads)},
                    X, examples, holdout, valid_from)


def _arrays(prep: Prepared, part: pd.DataFrame):
    X = prep.X[[prep.X_by_ad[a] for a in part.ad_id]]
    return X, part.impressions.to_numpy(), part.clicks.to_numpy()


def truth_metrics(pred: np.ndarray, true: np.ndarray) -> dict:
    from scipy.stats import spearmanr

    top = int(np.argmax(pred))
    mean, best = float(true.mean()), float(true.max())
    rho = spearmanr(pred, true).statistic if np.ptp(pred) > 0 else 0.0
    return {"spearman": float(rho) if np.isfinite(rho) else 0.0,
            "lift": float(true[top]) - mean, "oracle_lift": best - mean}


def summarise_truth(rows: list[dict]) -> dict:
    lift = np.array([r["lift"] for r in rows])
    oracle = np.array([r["oracle_lift"] for r in rows])
    ok = oracle > 0
    return {
        "spearman_mean": float(np.mean([r["spearman"] for r in rows])),
        "top1_share_of_oracle_lift": float(lift.sum() / oracle.sum()),
        "top1_share_median": float(np.median(lift[ok] / oracle[ok])),
        "ad_groups": len(rows),
    }


def run_evaluation(world, workdir: str, params: dict | None = None, holdout_share: float = 0.2,
                   valid_days: int = 7, max_truth_groups: int | None = None, log=print,
                   asset_prior_sd: float = ASSET_PRIOR_SD) -> dict:
    from transforms.combinations import ad_group_keywords
    from transforms.features import COMBINATION_FEATURE_NAMES

    t0 = time.perf_counter()
    prep = prepare(world, workdir, holdout_share, valid_days)
    ex = prep.examples
    hold = ex.ad_group_id.isin(prep.holdout)
    train, valid = ex[~hold & (ex.split == "train")], ex[~hold & (ex.split == "valid")]
    hold_hist, hold_valid = ex[hold & (ex.split == "train")], ex[hold & (ex.split == "valid")]
    log(f"prepared {len(ex):,} examples ({len(prep.holdout)} held-out ad groups) in {time.perf_counter() - t0:.1f}s")

    t1 = time.perf_counter()
    result = train_ctr_model(*_arrays(prep, train), *_arrays(prep, valid), COMBINATION_FEATURE_NAMES, params=params,
                             groups_train=train.ad_group_id.to_numpy(), groups_valid=valid.ad_group_id.to_numpy())
    log(f"LightGBM: {result.metrics['num_trees']} trees in {time.perf_counter() - t1:.1f}s")
    logit_models = {}
    best_c, best_ll = None, np.inf
    for C in (0.01, 0.1, 1.0):
        lr = LogisticCTR(C=C).fit(*_arrays(prep, train))
        ll = observed_metrics(lr.predict(_arrays(prep, valid)[0]), valid.impressions.to_numpy(),
                              valid.clicks.to_numpy())["logloss"]
        logit_models[C] = lr
        if ll < best_ll:
            best_c, best_ll = C, ll
    lr = logit_models[best_c]
    asset_mean = AssetMeanCTR().fit([prep.ads[a] for a in hold_hist.ad_id], hold_hist.impressions.to_numpy(),
                                    hold_hist.clicks.to_numpy())

    Xh, imp_h, clk_h = _arrays(prep, hold_valid)
    hist = (*_arrays(prep, hold_hist), hold_hist.ad_group_id.to_numpy())

    # The shipped scorer adds per-asset history effects (models.asset_effects) fitted on each
    # ad group's served history; here the held-out groups' training days, as for asset_mean_ctr.
    hist_ads = [prep.ads[a] for a in hold_hist.ad_id]
    effects = AssetEffects(asset_effects(hist_ads, result.booster.predict(hist[0], raw_score=True),
                                         hold_hist.impressions.to_numpy(), hold_hist.clicks.to_numpy(),
                                         asset_prior_sd=asset_prior_sd))
    hist_eff = effects.for_ads(hist_ads)
    valid_eff = effects.for_ads([prep.ads[a] for a in hold_valid.ad_id])

    def with_history(raw_fn, hist_add=0.0, valid_add=0.0):
        # Each held-out ad group's level fitted on its own training days (model fixed), as the
        # asset-mean baseline uses that history too.
        offsets = fit_group_offsets(raw_fn(hist[0]) + hist_add, hist[1], hist[2], hist[3])
        raw = raw_fn(Xh) + valid_add + np.array([offsets.get(g, 0.0) for g in hold_valid.ad_group_id])
        return observed_metrics(1 / (1 + np.exp(-raw)), imp_h, clk_h)

    def lgb_raw_fn(X):
        return result.booster.predict(X, raw_score=True)

    observed = {
        "lightgbm": with_history(lgb_raw_fn, hist_eff, valid_eff),
        "lightgbm_text_only": with_history(lgb_raw_fn),
        "logistic_regression": with_history(lr.decision_function),
        "asset_mean_ctr": observed_metrics(asset_mean.predict_ads([prep.ads[a] for a in hold_valid.ad_id]),
                                           imp_h, clk_h),
    }

    t2 = time.perf_counter()
    served_groups = sorted({prep.ads[a]["ad_group_id"] for a in hold_hist.ad_id})
    if max_truth_groups:
        served_groups = served_groups[:max_truth_groups]
    # The shipped model and the booster alone are scored the way production scores a pool
    # (models.scoring.score_pool); the baselines on the same enumerated combinations.
    shipped = ScoringModel.from_booster(result.booster, prep.sp, effects)
    text_only = ScoringModel.from_booster(result.booster, prep.sp, None)
    keywords = ad_group_keywords(prep.ads.values())
    truth_rows: dict[str, list] = {k: [] for k in observed}
    n_combos = 0
    for g in served_groups:
        heads, descs = world.pool(g)
        keyword, industry = keywords.get(g, ("", ""))
        pool = PoolInput(g, keyword, heads + descs, industry)
        out = score_pool(shipped, pool, 1, keep_all=True)
        if not out.ok or len(out.group) < 2:
            continue
        group = out.group
        # the enumeration indexes the pool in asset_id order; the world's truth takes its own order
        h_index = {a["asset_id"]: i for i, a in enumerate(heads)}
        d_index = {a["asset_id"]: i for i, a in enumerate(descs)}
        h_world = np.array([h_index[x] for x in group.headline_ids], dtype=np.int64)
        d_world = np.array([d_index[x] for x in group.description_ids], dtype=np.int64)
        combos = group.combos
        world_combos = np.concatenate([h_world[combos[:, :3]], d_world[combos[:, 3:]]], axis=1)
        true = world.true_ctr_combinations(g, world_combos)
        X = group.X
        n_combos += len(combos)
        preds = {
            "lightgbm": out.scored.all_raw,
            "lightgbm_text_only": score_pool(text_only, pool, 1, keep_all=True).scored.all_raw,
            "logistic_regression": lr.decision_function(X),
            "asset_mean_ctr": asset_mean.predict_combinations(g, group.headline_texts, group.description_texts, combos),
        }
        for k, p in preds.items():
            truth_rows[k].append(truth_metrics(p, true))
    log(f"ground truth: {n_combos:,} combinations of {len(served_groups)} held-out ad groups in "
        f"{time.perf_counter() - t2:.1f}s")
    truth = {k: summarise_truth(v) for k, v in truth_rows.items()}
    return {
        "world": {"n_ad_groups": len(world.ad_group_ids()), "days": world.config.days, "seed": world.config.seed},
        "split": {"valid_from": prep.valid_from.isoformat(), "holdout_share": holdout_share,
                  "train_examples": len(train), "valid_examples": len(valid),
                  "holdout_ad_groups": len(served_groups), "holdout_valid_examples": len(hold_valid),
                  "truth_combinations": n_combos},
        "lightgbm": {"num_trees": result.metrics["num_trees"], "params": {
            k: v for k, v in result.params.items() if k != "interaction_constraints"},
            "valid_same_groups": result.metrics["valid"]},
        "logistic_regression": {"C": best_c},
        "asset_effects": {"prior_sd": asset_prior_sd, "assets": len(effects)},
        "observed_holdout_valid": observed,
        "ground_truth_holdout": truth,
        "seconds": round(time.perf_counter() - t0, 1),
    }


def format_table(report: dict) -> str:
    obs, truth = report["observed_holdout_valid"], report["ground_truth_holdout"]
    # observed: held-out ad groups' validation days; ground truth: all their valid combinations
    lines = [
        "| model | AUC | log loss | calibration | Spearman (true CTR) | top-1 share of oracle lift | median share |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    for k in truth:
        o, t = obs.get(k), truth[k]
        o_cells = (f"{o['auc']:.4f} | {o['logloss']:.5f} | {o['calibration']:.3f}" if o else "– | – | –")
        lines.append(f"| {k} | {o_cells} | "
                     f"{t['spearman_mean']:.3f} | {t['top1_share_of_oracle_lift']:.1%} | {t['top1_share_median']:.1%} |")
    return "\n".join(lines)


def main(argv=None) -> int:
    from admedia.world import World, WorldConfig

    ap = argparse.ArgumentParser(prog="python -m models.evaluate", description=__doc__.split("\n\n")[0])
    ap.add_argument("--world", default="default", help="world preset: tiny, demo, default")
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--holdout_share", type=float, default=0.2)
    ap.add_argument("--valid_days", type=int, default=7)
    ap.add_argument("--out", default="evaluation.json", help="JSON report path")
    ap.add_argument("--params", default="", help="JSON object of LightGBM params overriding the defaults")
    ap.add_argument("--asset_prior_sd", type=float, default=ASSET_PRIOR_SD,
                    help="prior sd of the per-asset history effects (log-odds)")
    args = ap.parse_args(argv)
    config = WorldConfig.preset(args.world, seed=args.seed)
    t0 = time.perf_counter()
    world = World.generate(config)
    print(f"world {args.world!r} (seed {args.seed}): {len(world.ad_group_ids())} ad groups, "
          f"{config.days} days, generated in {time.perf_counter() - t0:.1f}s", file=sys.stderr)
    with tempfile.TemporaryDirectory(prefix="adcombo-eval-") as workdir:
        report = run_evaluation(world, workdir, params=json.loads(args.params) if args.params else None,
                                holdout_share=args.holdout_share, valid_days=args.valid_days,
                                log=lambda m: print(m, file=sys.stderr), asset_prior_sd=args.asset_prior_sd)
    report["world"]["preset"] = args.world
    print(format_table(report))
    s = report["split"]
    print(f"\nheld-out ad groups: {s['holdout_ad_groups']}, validation from {s['valid_from']}, "
          f"{s['truth_combinations']:,} combinations scored against the ground truth; "
          f"LightGBM {report['lightgbm']['num_trees']} trees")
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    with open(args.out, "w", encoding="utf-8") as f:
        json.dump(report, f, indent=2, ensure_ascii=False)
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
