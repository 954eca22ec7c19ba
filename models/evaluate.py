"""Evaluate the CTR model against the simulator's hidden ground truth, with baselines, per world
variant and seed, and say where the gap to the oracle is.

    python -m models.evaluate --world default --seeds 7,3,11 --out evaluation.json
    python -m models.evaluate --role report --out docs/evaluation.json       # every reported world
    python -m models.evaluate --world visibility,days7 --seed 3               # any variant, one seed

A world is a simulator preset (tiny, small, demo, default, shifted, drifting) or a named variant
of models.world_variants. One run, one world, one split, everything compared on the same data:

1. The world's served ads and daily performance are turned into training examples exactly as the
   training-set pipeline does (shared featurisation, per-split sums). The validation split is the
   one models.split plans for this history (the last k days; k = a quarter of the days, at most 7).
2. A share of the ad groups is held out entirely (chosen by a stable hash of the id). The model
   and the logistic baseline are trained on the other ad groups only. The held-out groups' own
   training-days history is what scoring would know of them: the shipped model (`lightgbm`) gets
   its per-asset history effects from it, counted per slot with the slot scales learnt from the
   training groups' delivery (models.asset_effects), and the asset-mean baseline its means.
   `lightgbm_equal_slots` is the same with every slot counting alike; `lightgbm_text_only` is the
   booster alone; `known_quality` (a reference, not a model) is the booster plus the simulator's
   true hidden quality of every asset the group served: the most any history effects could add.
   `known_rules` (a reference) puts the simulator's own text rules in place of the booster, and
   `known_rules_effects` adds history effects fitted around them as the shipped ones are: the
   shipped model with a perfect text model, so the gap splits into the text model's part
   (known_rules_effects - lightgbm) and what the served history cannot tell (1 - known_rules_effects).
3. Observed metrics (log loss, AUC, calibration) on the held-out groups' validation days.
4. Ground truth on the held-out groups (the rules in force when recommendations are served): every
   valid combination of each pool is scored the way production scores it
   (models.scoring.score_pool); per ad group the Spearman correlation between predicted and true
   CTR and the true lift of the top-1 combination over a random one (the mean over all valid
   combinations) as a share of the oracle's lift (best true combination). Shares are the ratio of
   the summed lifts (robust to ad groups whose spread is tiny) and the per-group median.
   Where the gap is: `ordered_share` is the share if the top-1's five assets were put in their
   best valid order; order loss = ordered_share - share, asset-choice loss = 1 - ordered_share.

Several worlds or seeds: every run is kept, and each model's figures are summarised per world as
mean ± sd over the seeds, plus the mean over the reported market variants (30 days).
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
import itertools
import json
import os
import sys
import tempfile
import time
import zlib
from dataclasses import dataclass

import numpy as np
import pandas as pd

from models.asset_effects import UNIT_SCALES, AssetEffects, asset_effects, effect_priors, position_scales
from models.baselines import AssetMeanCTR, LogisticCTR
from models.scoring import PoolInput, ScoringModel, score_pool
from models.train import evaluate as observed_metrics
from models.train import fit_group_offsets
from models.train import train_ctr_model

TEXT_COLUMNS = ("headline_1", "headline_2", "headline_3", "description_1", "description_2")
MODELS = ("lightgbm", "lightgbm_equal_slots", "lightgbm_text_only", "known_quality", "known_rules",
          "known_rules_effects", "logistic_regression", "asset_mean_ctr")
# References, not models (simulator only), that split the gap between the text model and the history:
# - known_quality: the booster plus the true hidden quality of every asset the ad group served:
#   what perfect history effects would reach with this text model;
# - known_rules: the simulator's own text rules (its true log-odds without the hidden quality) in
#   place of the booster, no history: what a perfect text model would reach alone;
# - known_rules_effects: those rules plus history effects fitted around them exactly as the shipped
#   ones are around the booster: `lightgbm` with a perfect text model. The gap from `lightgbm` to
#   it is the text model's; from it to the oracle, what the served history cannot tell.
REFERENCES = ("known_quality", "known_rules", "known_rules_effects")
BASELINES = ("logistic_regression", "asset_mean_ctr")
# Which ad groups the text model learns from: the other groups only (the reported protocol: a held-out
# group is one it never saw), or all of them, the held-out groups' training days too (as production).
BOOSTER_GROUPS = ("others", "all")


def is_holdout(ad_group_id: str, share: float) -> bool:
    return (zlib.crc32(ad_group_id.encode("utf-8")) % 1000) < share * 1000


def examples_frame(ads: list[dict], perf: pd.DataFrame, valid_from: dt.date | None) -> pd.DataFrame:
    """One row per (served ad, split): impressions and clicks summed over the split's days."""
    p = perf[["date", "ad_id", "impressions", "clicks"]].copy()
    day = pd.to_datetime(p["date"]).dt.date
    p["split"] = np.where(day >= valid_from, "valid", "train") if valid_from else "train"
    sums = p.groupby(["ad_id", "split"], as_index=False)[["impressions", "clicks"]].sum()
    sums = sums[sums.impressions > 0]
    ad_frame = pd.DataFrame(ads)[["ad_id", "ad_group_id"]]
    return sums.merge(ad_frame, on="ad_id", how="inner").sort_values(["split", "ad_id"]).reset_index(drop=True)


def plan_valid_from(ads: list[dict], perf: pd.DataFrame) -> tuple[dt.date | None, dict]:
    """The first validation day models.split plans for this history (None: not a day split)."""
    from models.split import LAST_DAYS, history_days, plan_split, served_ads

    plan = plan_split(history_days(perf), served_ads(perf, pd.DataFrame(ads)))
    return (plan.valid_from if plan.method == LAST_DAYS else None), plan.to_metadata()


@dataclass
class Prepared:
    world: object
    sp: object
    tokenizer_path: str
    ads: dict  # ad_id -> raw.ads row
    X_by_ad: dict  # ad_id -> row index into X
    X: np.ndarray | None  # served ads' features, row X_by_ad[ad_id]: run_evaluation's, once the term weights are known
    examples: pd.DataFrame
    holdout: set
    valid_from: dt.date | None
    split: dict


def world_texts(world) -> list[str]:
    """Every text of a simulator world, its served ads' and then its pools' (what a tokenizer for
    it is trained on)."""
    return [a[c] for a in world.ads() for c in TEXT_COLUMNS] + [a["text"] for a in world.asset_pools()]


def prepare(world, workdir: str, holdout_share: float = 0.2, valid_days: int | None = None) -> Prepared:
    """valid_days: the last days validate; None lets models.split plan it from the history."""
    from transforms.tokenizer import load_processor, train_sentencepiece

    ads = world.ads()
    tok = train_sentencepiece(world_texts(world), os.path.join(workdir, "tokenizer.model"))
    sp = load_processor(tok)
    perf = pd.DataFrame(world.daily_performance(world.start_date, world.end_date))
    if valid_days is None:
        valid_from, split = plan_valid_from(ads, perf)
    else:
        valid_from = world.end_date - dt.timedelta(days=valid_days - 1)
        split = {"method": "last_days", "valid_from": valid_from.isoformat(), "reason": "given valid_days"}
    examples = examples_frame(ads, perf, valid_from)
    holdout = {g for g in world.ad_group_ids() if is_holdout(g, holdout_share)}
    return Prepared(world, sp, tok, {a["ad_id"]: a for a in ads}, {a["ad_id"]: i for i, a in enumerate(ads)},
                    None, examples, holdout, valid_from, split)


def _arrays(prep: Prepared, part: pd.DataFrame):
    X = prep.X[[prep.X_by_ad[a] for a in part.ad_id]]
    return X, part.impressions.to_numpy(), part.clicks.to_numpy()


def known_quality(world, ad_group_id: str, served: set, world_combos: np.ndarray) -> np.ndarray:
    """Per combination (pool-index combinations, the world's order): the true hidden-quality
    log-odds of the assets that were served in the ad group's history (in any slot of their kind),
    counted in the slots they take here."""
    seen_h = {t for c, t in served if c.startswith("headline")}
    seen_d = {t for c, t in served if c.startswith("description")}
    return world.hidden_quality_combinations(ad_group_id, world_combos, seen=(seen_h, seen_d))


def ordered_best(group, row: int, true: np.ndarray) -> float:
    """Best true CTR over the valid orderings of the five assets of enumeration row `row`."""
    n_p = len(group.pairs)
    triple, pair = group.triples[row // n_p], group.pairs[row % n_p]
    t_index = {tuple(x): i for i, x in enumerate(group.triples.tolist())}
    p_index = {tuple(x): i for i, x in enumerate(group.pairs.tolist())}
    best = float(true[row])
    for t in itertools.permutations(triple.tolist()):
        i = t_index.get(t)
        if i is None:  # a pin or width rule forbids this order
            continue
        for p in itertools.permutations(pair.tolist()):
            j = p_index.get(p)
            if j is not None:
                best = max(best, float(true[i * n_p + j]))
    return best


def truth_metrics(pred: np.ndarray, true: np.ndarray, group=None) -> dict:
    from scipy.stats import spearmanr

    top = int(np.argmax(pred))
    mean, best = float(true.mean()), float(true.max())
    rho = spearmanr(pred, true).statistic if np.ptp(pred) > 0 else 0.0
    ordered = ordered_best(group, top, true) if group is not None else float(true[top])
    return {"spearman": float(rho) if np.isfinite(rho) else 0.0, "lift": float(true[top]) - mean,
            "ordered_lift": ordered - mean, "oracle_lift": best - mean}


def summarise_truth(rows: list[dict]) -> dict:
    lift = np.array([r["lift"] for r in rows])
    ordered = np.array([r.get("ordered_lift", r["lift"]) for r in rows])
    oracle = np.array([r["oracle_lift"] for r in rows])
    ok = oracle > 0
    share = float(lift.sum() / oracle.sum())
    ordered_share = float(ordered.sum() / oracle.sum())
    return {
        "spearman_mean": float(np.mean([r["spearman"] for r in rows])),
        "top1_share_of_oracle_lift": share,
        "top1_share_median": float(np.median(lift[ok] / oracle[ok])),
        "ordered_share_of_oracle_lift": ordered_share,
        "order_loss": ordered_share - share,
        "asset_choice_loss": 1.0 - ordered_share,
        "ad_groups": len(rows),
    }


def run_evaluation(world, workdir: str, params: dict | None = None, holdout_share: float = 0.2,
                   valid_days: int | None = None, max_truth_groups: int | None = None, log=print,
                   asset_prior_sd: float | None = None, term_weights: bool = True,
                   term_prior_sd: float | None = None, booster_groups: str = "others") -> dict:
    """term_weights=False: the lexicon's terms count alike (what models before term weights did);
    term_prior_sd fixes how far a term may depart from its category (None: learnt, as ctr_model does).
    booster_groups: "others", the text model (term weights, booster, logistic baseline, slot scales)
    learns from the other ad groups only, so the held-out groups are groups it never saw; "all", also
    from the held-out groups' training days, as ctr_model learns from every ad group it then scores."""
    from models.term_weights import learn_term_weights, prior_note
    from transforms.combinations import ad_group_keywords
    from transforms.features import COMBINATION_FEATURE_NAMES, featurize_served_ads, term_count

    t0 = time.perf_counter()
    prep = prepare(world, workdir, holdout_share, valid_days)
    ex = prep.examples
    hold = ex.ad_group_id.isin(prep.holdout)
    train, valid = ex[~hold & (ex.split == "train")], ex[~hold & (ex.split == "valid")]
    hold_hist, hold_valid = ex[hold & (ex.split == "train")], ex[hold & (ex.split == "valid")]
    if booster_groups == "all":  # the held-out groups' validation days stay out: they are the observed metrics
        train = ex[ex.split == "train"]
    log(f"prepared {len(ex):,} examples ({len(prep.holdout)} held-out ad groups, validation from "
        f"{prep.valid_from}) in {time.perf_counter() - t0:.1f}s")
    # The lexicon's term weights from the training groups' training rows, as ctr_model learns them
    # (models.fit.fit_ctr_model); every featurisation below reads the lexicon with them.
    tw_info: dict = {}
    weights = learn_term_weights(prep.ads, train, prior_sd=term_prior_sd, info=tw_info) if term_weights else {}
    prep.X = featurize_served_ads([prep.ads[a] for a in sorted(prep.X_by_ad, key=prep.X_by_ad.get)], prep.sp, weights)
    log(f"term weights: {term_count(weights)} lexicon terms weighted{prior_note(tw_info, term_prior_sd is not None)}")

    t1 = time.perf_counter()
    result = train_ctr_model(*_arrays(prep, train), *_arrays(prep, valid), COMBINATION_FEATURE_NAMES, params=params,
                             groups_train=train.ad_group_id.to_numpy(), groups_valid=valid.ad_group_id.to_numpy(),
                             ads_train=[prep.ads[a] for a in train.ad_id])
    log(f"model: {result.metrics['linear_trees']} linear trees (penalty {result.metrics['linear_l2']:g}, "
        f"between-ad sd {result.metrics['between_ad_sd']:.3f}, {result.metrics['between_ad_sd_beside_effects']:.3f} "
        f"beside the effects) + "
        f"{result.metrics['residual_stumps']} stumps in {time.perf_counter() - t1:.1f}s")
    logit_models = {}
    best_c, best_ll = None, np.inf
    for C in (0.01, 0.1, 1.0):
        lr = LogisticCTR(C=C).fit(*_arrays(prep, train))
        if len(valid):
            ll = observed_metrics(lr.predict(_arrays(prep, valid)[0]), valid.impressions.to_numpy(),
                                  valid.clicks.to_numpy())["logloss"]
        else:
            ll = -C  # no validation rows: the least regularised
        logit_models[C] = lr
        if ll < best_ll:
            best_c, best_ll = C, ll
    lr = logit_models[best_c]
    asset_mean = AssetMeanCTR().fit([prep.ads[a] for a in hold_hist.ad_id], hold_hist.impressions.to_numpy(),
                                    hold_hist.clicks.to_numpy())

    # Slot scales and the prior sd from the training groups' delivery, as ctr_model learns them
    # from its groups (models.asset_effects.effect_priors); a given asset_prior_sd is kept.
    t2 = time.perf_counter()
    train_ads = [prep.ads[a] for a in train.ad_id]
    train_raw = result.booster.predict(_arrays(prep, train)[0], raw_score=True)
    train_delivery = (train_ads, train_raw, train.impressions.to_numpy(), train.clicks.to_numpy())
    learnt_sd = asset_prior_sd is None
    if learnt_sd:
        asset_prior_sd, scales = effect_priors(*train_delivery)
    else:
        scales = position_scales(*train_delivery, asset_prior_sd=asset_prior_sd)
    # The shipped scorer adds per-asset history effects (models.asset_effects) fitted on each
    # ad group's served history; here the held-out groups' training days, as for asset_mean_ctr.
    Xh, imp_h, clk_h = _arrays(prep, hold_valid)
    hist = (*_arrays(prep, hold_hist), hold_hist.ad_group_id.to_numpy())
    hist_ads = [prep.ads[a] for a in hold_hist.ad_id]
    hist_raw = result.booster.predict(hist[0], raw_score=True)
    effects = {
        "lightgbm": AssetEffects(asset_effects(hist_ads, hist_raw, hist[1], hist[2], asset_prior_sd, scales)),
        "lightgbm_equal_slots": AssetEffects(asset_effects(hist_ads, hist_raw, hist[1], hist[2], asset_prior_sd,
                                                           UNIT_SCALES)),
    }
    log(f"slot scales {np.round(scales, 2).tolist()}, prior sd {asset_prior_sd:g} ({'learnt' if learnt_sd else 'given'}); "
        f"history effects in {time.perf_counter() - t2:.1f}s")
    # The same effects around the simulator's own text rules (reference known_rules_effects): their
    # slot scales and prior sd learnt from the training groups' delivery under those rules.
    rules_train = world.text_rules_logit_ads(list(train.ad_id))
    rules_sd, rules_scales = effect_priors(train_ads, rules_train, train.impressions.to_numpy(), train.clicks.to_numpy())
    rules_effects = AssetEffects(asset_effects(hist_ads, world.text_rules_logit_ads(list(hold_hist.ad_id)),
                                               hist[1], hist[2], rules_sd, rules_scales))
    valid_ads = [prep.ads[a] for a in hold_valid.ad_id]

    def with_history(raw_fn, hist_add=0.0, valid_add=0.0):
        # Each held-out ad group's level fitted on its own training days (model fixed), as the
        # asset-mean baseline uses that history too.
        offsets = fit_group_offsets(raw_fn(hist[0]) + hist_add, hist[1], hist[2], hist[3])
        raw = raw_fn(Xh) + valid_add + np.array([offsets.get(g, 0.0) for g in hold_valid.ad_group_id])
        return observed_metrics(1 / (1 + np.exp(-raw)), imp_h, clk_h)

    def lgb_raw_fn(X):
        return result.booster.predict(X, raw_score=True)

    observed = {}
    if len(hold_valid):
        observed = {
            **{k: with_history(lgb_raw_fn, e.for_ads(hist_ads), e.for_ads(valid_ads)) for k, e in effects.items()},
            "lightgbm_text_only": with_history(lgb_raw_fn),
            "logistic_regression": with_history(lr.decision_function),
            "asset_mean_ctr": observed_metrics(asset_mean.predict_ads(valid_ads), imp_h, clk_h),
        }

    t3 = time.perf_counter()
    served_groups = sorted({prep.ads[a]["ad_group_id"] for a in hold_hist.ad_id})
    if max_truth_groups:
        served_groups = served_groups[:max_truth_groups]
    # The shipped model is scored the way production scores a pool (models.scoring.score_pool);
    # the baselines on the same enumerated combinations.
    scorers = {k: ScoringModel.from_booster(result.booster, prep.sp, e, term_weights=weights)
               for k, e in effects.items()}
    text_only = ScoringModel.from_booster(result.booster, prep.sp, None, term_weights=weights)
    # only its effects are used: this scorer's score less the booster's is their sum per combination
    rules_effects_scorer = ScoringModel.from_booster(result.booster, prep.sp, rules_effects, term_weights=weights)
    keywords = ad_group_keywords(prep.ads.values())
    served: dict[str, set] = {}
    for a in hist_ads:
        served.setdefault(a["ad_group_id"], set()).update((c, a.get(c) or "") for c in TEXT_COLUMNS)
    truth_rows: dict[str, list] = {k: [] for k in MODELS}
    n_combos = 0
    for g in served_groups:
        heads, descs = world.pool(g)
        keyword, industry = keywords.get(g, ("", ""))
        pool = PoolInput(g, keyword, heads + descs, industry)
        out = score_pool(scorers["lightgbm"], pool, 1, keep_all=True)
        if not out.ok or len(out.group) < 2:
            continue
        group = out.group
        text_only_raw = score_pool(text_only, pool, 1, keep_all=True).scored.all_raw
        # the enumeration indexes the pool in asset_id order; the world's truth takes its own order
        h_index = {a["asset_id"]: i for i, a in enumerate(heads)}
        d_index = {a["asset_id"]: i for i, a in enumerate(descs)}
        h_world = np.array([h_index[x] for x in group.headline_ids], dtype=np.int64)
        d_world = np.array([d_index[x] for x in group.description_ids], dtype=np.int64)
        combos = group.combos
        world_combos = np.concatenate([h_world[combos[:, :3]], d_world[combos[:, 3:]]], axis=1)
        true = world.true_ctr_combinations(g, world_combos)
        rules = world.text_rules_logit_combinations(g, world_combos)
        n_combos += len(combos)
        preds = {
            "lightgbm": out.scored.all_raw,
            "lightgbm_equal_slots": score_pool(scorers["lightgbm_equal_slots"], pool, 1, keep_all=True).scored.all_raw,
            "lightgbm_text_only": text_only_raw,
            "known_quality": text_only_raw + known_quality(world, g, served.get(g, set()), world_combos),
            "known_rules": rules,
            "known_rules_effects": rules + score_pool(rules_effects_scorer, pool, 1, keep_all=True).scored.all_raw
            - text_only_raw,
            "logistic_regression": lr.decision_function(group.X),
            "asset_mean_ctr": asset_mean.predict_combinations(g, group.headline_texts, group.description_texts, combos),
        }
        group._X = None  # free the feature matrix before the next ad group
        for k, p in preds.items():
            truth_rows[k].append(truth_metrics(p, true, group))
    log(f"ground truth: {n_combos:,} combinations of {len(served_groups)} held-out ad groups in "
        f"{time.perf_counter() - t3:.1f}s")
    truth = {k: summarise_truth(v) for k, v in truth_rows.items() if v}
    config = world.config
    return {
        "world": {"n_ad_groups": len(world.ad_group_ids()), "days": config.days, "seed": config.seed,
                  "served_ads_per_group": config.served_ads_per_group,
                  "slot_visibility": list(config.slot_visibility), "redundancy": config.redundancy,
                  "ordering": config.ordering, "quality_sd": config.quality_sd, "ctr_noise_sd": config.ctr_noise_sd,
                  "mean_daily_impressions": config.mean_daily_impressions},
        "split": {"plan": prep.split, "valid_from": prep.valid_from.isoformat() if prep.valid_from else None,
                  "holdout_share": holdout_share, "booster_groups": booster_groups,
                  "train_examples": len(train), "valid_examples": len(valid),
                  "holdout_ad_groups": len(served_groups), "holdout_valid_examples": len(hold_valid),
                  "truth_combinations": n_combos},
        "lightgbm": {"num_trees": result.metrics["num_trees"], "linear_trees": result.metrics["linear_trees"],
                     "residual_stumps": result.metrics["residual_stumps"], "linear_l2": result.metrics["linear_l2"],
                     "between_ad_sd": result.metrics["between_ad_sd"],
                     "between_ad_sd_beside_effects": result.metrics["between_ad_sd_beside_effects"],
                     "early_stopping": result.metrics["early_stopping"],
                     "params": {k: v for k, v in result.params.items() if k != "interaction_constraints"},
                     "valid_same_groups": result.metrics["valid"]},
        "logistic_regression": {"C": best_c},
        "term_weights": {"terms": term_count(weights), **tw_info},
        "asset_effects": {"prior_sd": asset_prior_sd, "prior_sd_learnt": learnt_sd, "slot_scales": [round(float(s), 4) for s in scales],
                          "assets": len(effects["lightgbm"]),
                          "around_known_rules": {"prior_sd": rules_sd, "slot_scales": [round(float(s), 4) for s in rules_scales]}},
        "observed_holdout_valid": observed,
        "ground_truth_holdout": truth,
        "seconds": round(time.perf_counter() - t0, 1),
    }


# ---- several worlds and seeds -------------------------------------------------------------------


def world_config(name: str, seed: int):
    """A named variant (models.world_variants) or a simulator preset, with this seed."""
    from admedia.world import WorldConfig, preset_names
    from models.world_variants import VARIANTS

    if name in VARIANTS:
        return VARIANTS[name].config(seed)
    if name in preset_names():
        return WorldConfig.preset(name, seed=seed)
    raise ValueError(f"unknown world {name!r}: use a variant ({', '.join(VARIANTS)}) or a preset "
                     f"({', '.join(preset_names())})")


def _stats(values: list[float]) -> dict:
    v = np.asarray(values, dtype=np.float64)
    return {"mean": float(v.mean()), "sd": float(v.std(ddof=1)) if len(v) > 1 else 0.0,
            "values": [round(float(x), 5) for x in v]}


SUMMARY_METRICS = ("top1_share_of_oracle_lift", "ordered_share_of_oracle_lift", "order_loss",
                   "asset_choice_loss", "spearman_mean", "top1_share_median")


def summarise(runs: list[dict]) -> dict:
    """Per world: each model's metrics as mean ± sd over its seeds, and whether the shipped model
    beat both baselines' top-1 share on every seed."""
    from models.world_variants import REPORT_MARKET_VARIANTS

    by_world: dict[str, list[dict]] = {}
    for r in runs:
        by_world.setdefault(r["world"]["name"], []).append(r)
    out = {"worlds": {}}
    for name, rs in by_world.items():
        models = [m for m in MODELS if all(m in r["ground_truth_holdout"] for r in rs)]
        world = {"seeds": [r["world"]["seed"] for r in rs], "days": rs[0]["world"]["days"], "models": {}}
        for m in models:
            world["models"][m] = {k: _stats([r["ground_truth_holdout"][m][k] for r in rs]) for k in SUMMARY_METRICS}
        world["beats_baselines_every_seed"] = all(
            r["ground_truth_holdout"]["lightgbm"]["top1_share_of_oracle_lift"]
            > max(r["ground_truth_holdout"][b]["top1_share_of_oracle_lift"] for b in BASELINES) for r in rs)
        out["worlds"][name] = world
    market = [w for w in REPORT_MARKET_VARIANTS if w in out["worlds"]]
    if market:
        out["market_variants_mean"] = {
            "worlds": market,
            **{m: float(np.mean([out["worlds"][w]["models"][m]["top1_share_of_oracle_lift"]["mean"] for w in market]))
               for m in MODELS if all(m in out["worlds"][w]["models"] for w in market)},
        }
    return out


def format_table(report: dict) -> str:
    """One world and seed: the models side by side (observed metrics where there are validation days)."""
    obs, truth = report["observed_holdout_valid"], report["ground_truth_holdout"]
    lines = [
        "| model | AUC | log loss | calibration | Spearman (true CTR) | top-1 share of oracle lift | ordered share "
        "| order loss | asset-choice loss | median share |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for k in truth:
        o, t = obs.get(k), truth[k]
        o_cells = (f"{o['auc']:.4f} | {o['logloss']:.5f} | {o['calibration']:.3f}" if o else "– | – | –")
        lines.append(f"| {k} | {o_cells} | {t['spearman_mean']:.3f} | {t['top1_share_of_oracle_lift']:.1%} | "
                     f"{t['ordered_share_of_oracle_lift']:.1%} | {t['order_loss']:.1%} | {t['asset_choice_loss']:.1%} | "
                     f"{t['top1_share_median']:.1%} |")
    return "\n".join(lines)


def format_summary(summary: dict) -> str:
    """Per world: mean ± sd over seeds of the shipped model, where its gap is, and the others."""

    def ms(x: dict) -> str:
        return f"{x['mean']:.1%} ± {x['sd']:.1%}" if len(x["values"]) > 1 else f"{x['mean']:.1%}"

    lines = [
        "| world | days | seeds | lightgbm top-1 share | ordered share | order loss | asset-choice loss | Spearman "
        "| equal slots | text only | known quality | known rules | known rules + effects | logistic | asset mean "
        "| beats both every seed |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for name, w in summary["worlds"].items():
        m = w["models"]
        s = m["lightgbm"]

        def other(k):
            return ms(m[k]["top1_share_of_oracle_lift"]) if k in m else "–"

        lines.append(
            f"| {name} | {w['days']} | {','.join(map(str, w['seeds']))} | {ms(s['top1_share_of_oracle_lift'])} | "
            f"{ms(s['ordered_share_of_oracle_lift'])} | {s['order_loss']['mean']:.1%} | "
            f"{s['asset_choice_loss']['mean']:.1%} | {s['spearman_mean']['mean']:.3f} | "
            f"{other('lightgbm_equal_slots')} | {other('lightgbm_text_only')} | {other('known_quality')} | "
            f"{other('known_rules')} | {other('known_rules_effects')} | {other('logistic_regression')} | "
            f"{other('asset_mean_ctr')} | {'yes' if w['beats_baselines_every_seed'] else 'NO'} |")
    if "market_variants_mean" in summary:
        mv = summary["market_variants_mean"]
        lines.append(f"\nmean over the reported market variants ({', '.join(mv['worlds'])}): "
                     f"lightgbm {mv['lightgbm']:.1%}, text only {mv.get('lightgbm_text_only', float('nan')):.1%}, "
                     f"known quality {mv.get('known_quality', float('nan')):.1%}, "
                     f"known rules {mv.get('known_rules', float('nan')):.1%} "
                     f"(+ effects {mv.get('known_rules_effects', float('nan')):.1%}), "
                     f"logistic {mv.get('logistic_regression', float('nan')):.1%}, "
                     f"asset mean {mv.get('asset_mean_ctr', float('nan')):.1%}")
    return "\n".join(lines)


def summary_plot(summary: dict, booster_groups: str = "others") -> bytes:
    """PNG for the UI: per world, the shipped model's top-1 share (mean, sd bar over seeds) split
    into what it captures, what a better order of the same assets would add (order loss) and the
    rest (asset choice), with the text-only model and the baselines as markers. The title says
    which ad groups the text model learnt from."""
    import io

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = list(summary["worlds"])
    w = [summary["worlds"][n]["models"] for n in names]
    share = np.array([m["lightgbm"]["top1_share_of_oracle_lift"]["mean"] for m in w]) * 100
    sd = np.array([m["lightgbm"]["top1_share_of_oracle_lift"]["sd"] for m in w]) * 100
    order = np.array([m["lightgbm"]["order_loss"]["mean"] for m in w]) * 100
    x = np.arange(len(names))
    fig, ax = plt.subplots(figsize=(max(6.0, 0.9 * len(names) + 2), 4.5))
    ax.bar(x, share, yerr=sd, color="#3b6ea5", label="top-1 share (lightgbm)", capsize=3)
    ax.bar(x, order, bottom=share, color="#f0a35e", label="order loss")
    ax.bar(x, 100 - share - order, bottom=share + order, color="#dddddd", label="asset-choice loss")
    for key, marker, label in (("known_quality", "_", "known quality (reference)"),
                               ("known_rules_effects", "x", "known rules + effects (reference)"),
                               ("lightgbm_text_only", "o", "text only"),
                               ("logistic_regression", "s", "logistic"), ("asset_mean_ctr", "^", "asset mean")):
        ys = [m[key]["top1_share_of_oracle_lift"]["mean"] * 100 if key in m else np.nan for m in w]
        ax.scatter(x, ys, marker=marker, color="black", s=18, zorder=3, label=label)
    ax.axhline(85, color="#a33", lw=1, ls="--")
    ax.set_xticks(x, names, rotation=30, ha="right")
    ax.set_ylabel("% of the oracle's lift over random")
    ax.set_ylim(0, 100)
    learnt = ("text model learnt from every ad group, as in production" if booster_groups == "all"
              else "text model never saw the held-out ad groups")
    ax.set_title(f"Top-1 share of oracle lift by world (mean ± sd over seeds; {learnt})", fontsize=10)
    ax.legend(fontsize=7, loc="lower left", ncol=2)
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=90, bbox_inches="tight")
    plt.close(fig)
    return buf.getvalue()


def evaluate_worlds(worlds: list[str], seeds: list[int], params: dict | None = None, holdout_share: float = 0.2,
                    valid_days: int | None = None, asset_prior_sd: float | None = None, log=print,
                    max_truth_groups: int | None = None, ad_groups: int | None = None,
                    term_weights: bool = True, term_prior_sd: float | None = None,
                    booster_groups: str = "others") -> dict:
    """ad_groups: generate each world with this many ad groups instead of its own number (the
    first ones keep their content: each ad group has its own random stream), to see how the
    shares change with the volume of served ads."""
    from admedia.world import World

    if booster_groups not in BOOSTER_GROUPS:  # before minutes of world generation
        raise ValueError(f"booster_groups is one of {BOOSTER_GROUPS}, not {booster_groups!r}")
    runs = []
    total = len(worlds) * len(seeds)
    for k, (name, seed) in enumerate(itertools.product(worlds, seeds), 1):
        t0 = time.perf_counter()
        config = world_config(name, seed)
        if ad_groups:
            config = dataclasses.replace(config, n_ad_groups=ad_groups)
        world = World.generate(config)
        log(f"[{k}/{total}] world {name!r} seed {seed}: {len(world.ad_group_ids())} ad groups, {config.days} days")
        with tempfile.TemporaryDirectory(prefix="adcombo-eval-") as workdir:
            report = run_evaluation(world, workdir, params=params, holdout_share=holdout_share, valid_days=valid_days,
                                    log=lambda m: log("  " + m), asset_prior_sd=asset_prior_sd,
                                    max_truth_groups=max_truth_groups, term_weights=term_weights,
                                    term_prior_sd=term_prior_sd, booster_groups=booster_groups)
        report["world"]["name"] = name
        t = report["ground_truth_holdout"]["lightgbm"]
        log(f"  lightgbm top-1 share {t['top1_share_of_oracle_lift']:.1%} (ordered {t['ordered_share_of_oracle_lift']:.1%}) "
            f"in {time.perf_counter() - t0:.0f}s")
        runs.append(report)
    return {"runs": runs, "summary": summarise(runs)}


def _ints(text: str) -> list[int]:
    return [int(x) for x in text.split(",") if x.strip()]


def main(argv=None) -> int:
    from models import world_variants

    ap = argparse.ArgumentParser(prog="python -m models.evaluate", description=__doc__.split("\n\n")[0])
    ap.add_argument("--world", default="", help="comma-separated worlds: variants "
                    f"({', '.join(world_variants.names())}) or presets (tiny, small, demo, default, ...)")
    ap.add_argument("--role", choices=("choose", "report"), default=None,
                    help="every world of this role in models.world_variants (with its seeds unless --seeds)")
    ap.add_argument("--seed", type=int, default=None, help="one seed (default 7)")
    ap.add_argument("--seeds", default="", help="comma-separated seeds, e.g. 7,3,11")
    ap.add_argument("--holdout_share", type=float, default=0.2)
    ap.add_argument("--valid_days", type=int, default=None,
                    help="the last days validate (default: what models.split plans for the history)")
    ap.add_argument("--out", default="evaluation.json", help="JSON report path")
    ap.add_argument("--params", default="", help="JSON object of LightGBM params overriding the defaults")
    ap.add_argument("--asset_prior_sd", type=float, default=None,
                    help="prior sd of the per-asset history effects (log-odds); default: learnt from the "
                         "training groups' delivery, as ctr_model learns it (models.asset_effects.prior_sd)")
    ap.add_argument("--max_truth_groups", type=int, default=None, help="score at most this many held-out groups")
    ap.add_argument("--ad_groups", type=int, default=None,
                    help="generate the worlds with this many ad groups (the first keep their content): how the "
                         "shares grow with the served ads the text model learns from")
    ap.add_argument("--no_term_weights", action="store_true",
                    help="count every lexicon term alike, as models before term weights did (docs/model.md)")
    ap.add_argument("--term_prior_sd", type=float, default=None,
                    help="prior sd of a lexicon term's departure from its category; default: chosen by held-out "
                         "ad groups, as ctr_model chooses it (models.term_weights.choose_prior_sd)")
    ap.add_argument("--booster_groups", choices=BOOSTER_GROUPS, default="others",
                    help="others: the text model learns from the other ad groups only, so the held-out groups "
                         "are groups it never saw (the reported figures); all: also from the held-out groups' "
                         "training days, as ctr_model learns from every ad group it scores")
    ap.add_argument("--plot", default="", help="also write the summary plot (PNG) here")
    args = ap.parse_args(argv)
    worlds = [w for w in args.world.split(",") if w] or (world_variants.names(args.role) if args.role else ["default"])
    if args.seeds:
        seeds = _ints(args.seeds)
    elif args.seed is not None:
        seeds = [args.seed]
    else:
        seeds = list(world_variants.CHOOSE_SEEDS if args.role == "choose" else
                     world_variants.REPORT_SEEDS if args.role == "report" else (7,))
    try:
        for w in worlds:
            world_config(w, seeds[0])
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    report = evaluate_worlds(worlds, seeds, params=json.loads(args.params) if args.params else None,
                             holdout_share=args.holdout_share, valid_days=args.valid_days,
                             asset_prior_sd=args.asset_prior_sd, log=lambda m: print(m, file=sys.stderr, flush=True),
                             max_truth_groups=args.max_truth_groups, ad_groups=args.ad_groups,
                             term_weights=not args.no_term_weights, term_prior_sd=args.term_prior_sd,
                             booster_groups=args.booster_groups)
    report["command"] = "python -m models.evaluate " + " ".join(argv if argv is not None else sys.argv[1:])
    if len(report["runs"]) == 1:
        print(format_table(report["runs"][0]))
        print()
    print(format_summary(report["summary"]))
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    with open(args.out, "w", encoding="utf-8") as f:
        json.dump(report, f, indent=2, ensure_ascii=False)
    print(f"wrote {args.out}")
    if args.plot:
        with open(args.plot, "wb") as f:
            f.write(summary_plot(report["summary"], args.booster_groups))
        print(f"wrote {args.plot}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
