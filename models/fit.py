"""The training job's core: training-set shards in, a fitted model with its report out.

    train, valid = read_training_set(files)
    fitted = fit_ctr_model(train, valid, ads_rows, tokenizer_path)  # term weights, booster, metrics, effects, plots
    reference = monitoring.report.score_reference(fitted_scoring_model(fitted, tokenizer_path), ads_rows, pool_rows)
    bundle_dir = save_fitted(fitted, store.build_dir(), tokenizer_path, reference)

The Dagster asset wires these to the data folder and the model store and turns `fitted` into
metadata; the promotion check reads validation rows with the same functions.
"""

from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass

import numpy as np
import pandas as pd


def fingerprint(train: pd.DataFrame, valid: pd.DataFrame) -> str:
    """Content hash of the training set as read (read_training_set's rows and order): the bundle
    records what it was trained on. Hashed from the rows, not the shard files, so the same data
    written in another shard layout (Beam decides it) has the same fingerprint."""
    h = hashlib.sha256()
    for part in (train, valid):
        plain = part[sorted(c for c in part.columns if c != "features")]
        h.update(pd.util.hash_pandas_object(plain, index=False).to_numpy().tobytes())
        h.update(np.ascontiguousarray(arrays(part)[0]).tobytes())
    return h.hexdigest()


def read_training_set(files: list[str]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(train, valid) in a stable order: shard order must not change the model."""
    if not files:
        raise FileNotFoundError("no training set: materialise training_set")
    df = pd.concat([pd.read_parquet(f) for f in files], ignore_index=True)
    df = df.sort_values(["split", "ad_id"], kind="stable").reset_index(drop=True)
    train, valid = df[df.split == "train"], df[df.split == "valid"]
    if train.empty or valid.empty:
        raise ValueError(f"need both splits to train: {len(train)} train and {len(valid)} validation examples")
    return train, valid


def arrays(part: pd.DataFrame):
    """(X, impressions, clicks, ad_group_ids) of a training-set part."""
    X = np.stack(part["features"].to_numpy()).astype(np.float32)
    return X, part["impressions"].to_numpy(), part["clicks"].to_numpy(), part["ad_group_id"].astype(str).to_numpy()


@dataclass
class FittedModel:
    result: object  # models.train.TrainResult
    calibration: pd.DataFrame
    importance: pd.DataFrame
    effects: pd.DataFrame  # models.asset_effects.EFFECT_COLUMNS
    images: dict  # file name -> PNG bytes, stored in the bundle
    seconds: float
    data_fingerprint: str = ""
    term_weights: dict | None = None  # models.term_weights: what the booster's lex_* were counted with

    @property
    def metrics(self) -> dict:
        return self.result.metrics

    def metrics_table(self) -> pd.DataFrame:
        m = self.metrics
        rows = [("train", m["train"]), ("valid", m["valid"]),
                ("valid, ad-group offsets from history", m["valid_with_group_offsets"])]
        keys = ("logloss", "auc", "calibration", "observed_ctr", "rows", "impressions")
        return pd.DataFrame([{"split": s, **{k: v[k] for k in keys}} for s, v in rows])


def history_effects(booster, train: pd.DataFrame, valid: pd.DataFrame, ads_rows,
                    priors: dict | None = None) -> pd.DataFrame:
    """Per-asset history effects (models.asset_effects) from every served day of the training set:
    each example's ad texts from raw.ads, its raw score from the new booster. The prior sd and the
    slot scales are learnt from the same delivery; `priors`, when given, receives them
    ({"prior_sd", "slot_scales"}, for the bundle's metrics)."""
    from models.asset_effects import asset_effects, effect_priors

    examples = pd.concat([train, valid], ignore_index=True)
    by_id = {str(r["ad_id"]): r for r in ads_rows}
    examples = examples[examples["ad_id"].astype(str).isin(by_id)]
    X, imp, clk, _ = arrays(examples)
    ads = [by_id[str(a)] for a in examples["ad_id"]]
    raw = booster.predict(X, raw_score=True)
    sd, scales = effect_priors(ads, raw, imp, clk)
    if priors is not None:
        priors.update(prior_sd=float(sd), slot_scales=[round(float(x), 4) for x in scales])
    return asset_effects(ads, raw, imp, clk, sd, scales)


def validation_report(booster, train: pd.DataFrame, valid: pd.DataFrame, ads_rows, priors: dict | None = None) -> dict:
    """A model on the validation rows, two ways (what the promotion check compares):

    - "text_only": the booster, each ad group's offset fitted on its history (the training rows);
    - "with_history_effects": as scoring uses the model for a combination not served, the booster
      plus the offset and asset effects fitted on the history of the group's *other* served ads
      (models.asset_effects.left_out_raw) with the bundle's prior sd and slot scales (`priors`, as
      the bundle's metrics record them; learnt from the history when missing). Only rows whose
      group has another served ad in the history; None when there is none or no ad texts.
    """
    from models.asset_effects import effect_priors, left_out_raw
    from models.train import evaluate, evaluate_raw_with_offsets, raw_scores

    hist, target = arrays(train), arrays(valid)
    raw_h, raw_v = raw_scores(booster, hist[0]), raw_scores(booster, target[0])
    out = {"text_only": evaluate_raw_with_offsets(raw_h, hist, raw_v, target), "with_history_effects": None}
    by_id = {str(r["ad_id"]): r for r in ads_rows}

    def ads(part):  # an ad missing from raw.ads shows no asset: only its group's offset applies
        return [by_id.get(str(a)) or {"ad_id": str(a), "ad_group_id": str(g)}
                for a, g in zip(part["ad_id"], part["ad_group_id"])]

    if not by_id:
        return out
    hist_ads, target_ads = ads(train), ads(valid)
    sd, scales = (priors or {}).get("prior_sd"), (priors or {}).get("slot_scales")
    if sd is None or not scales:
        sd, scales = effect_priors(hist_ads, raw_h, hist[1], hist[2])
    raw_t = left_out_raw(hist_ads, raw_h, hist[1], hist[2], target_ads, raw_v, float(sd), scales)
    known = ~np.isnan(raw_t)
    if known.any():
        out["with_history_effects"] = evaluate(1.0 / (1.0 + np.exp(-raw_t[known])), target[1][known], target[2][known])
        out["with_history_effects_raw"] = raw_t  # per validation row, for paired comparisons
    return out


def paired_loglik_z(raw_a: np.ndarray, raw_b: np.ndarray, impressions, clicks, groups) -> tuple[float, int]:
    """(z, ad groups): how much better model a predicts the rows than model b, as a z statistic
    over ad groups of the per-group sums of log-likelihood differences (a - b; rows either model
    leaves NaN are skipped). Positive: a predicts better. 0 when the sums do not vary (identical
    models) or there are fewer than two groups.

    Why per ad group: a model's errors are shared by an ad group's rows (its offset, its assets'
    effects), so rows are not independent and groups are the units. Paired, the clicks' own noise
    cancels, which a difference of two log losses does not: there the effects' share is below any
    sensible relative tolerance (docs/model.md, "Dagster")."""
    a, b = np.asarray(raw_a, dtype=np.float64), np.asarray(raw_b, dtype=np.float64)
    n = np.asarray(impressions, dtype=np.float64)
    c = np.minimum(np.asarray(clicks, dtype=np.float64), n)
    ok = ~(np.isnan(a) | np.isnan(b))
    d = (c * a - n * np.logaddexp(0.0, a)) - (c * b - n * np.logaddexp(0.0, b))
    sums = pd.Series(d[ok]).groupby(np.asarray(groups)[ok]).sum().to_numpy()
    sd = sums.std(ddof=1) if len(sums) > 1 else 0.0
    return (float(sums.mean() / (sd / np.sqrt(len(sums)))) if sd > 0 else 0.0), int(len(sums))


def model_features(part: pd.DataFrame, ads_by_id: dict, sp, term_weights) -> pd.DataFrame:
    """`part` (training-set rows) with its features as a model with these term weights computes
    them. The training set's features count every lexicon match 1 (the weights are learnt from it), so
    without weights there is nothing to recompute; with them, every row's ad must be in raw.ads."""
    from transforms.features import featurize_served_ads

    if not term_weights or part.empty:
        return part
    ads = [ads_by_id.get(str(a)) for a in part["ad_id"]]
    missing = sum(a is None for a in ads)
    if missing:
        raise ValueError(f"{missing:,} training-set rows have no ad in raw.ads, so their features cannot be read "
                         "with the model's term weights; rebuild the training set (materialise training_set)")
    out = part.copy()
    out["features"] = list(featurize_served_ads(ads, sp, term_weights))
    return out


def fit_ctr_model(train: pd.DataFrame, valid: pd.DataFrame, ads_rows, tokenizer_path: str,
                  split: dict | None = None, progress=None) -> FittedModel:
    """Learn the lexicon's term weights, train, calibrate, fit history effects and draw the plots;
    the training set's fingerprint goes with them. `split` (models.split's record of how
    validation rows were chosen) goes into the metrics, hence into the bundle's manifest;
    progress(line) hears how far training is."""
    from models.plots import model_plots
    from models.term_weights import learn_term_weights, prior_note
    from models.train import calibration_table, train_ctr_model
    from transforms.features import COMBINATION_FEATURE_NAMES, term_count
    from transforms.tokenizer import load_processor

    data_fingerprint = fingerprint(train, valid)
    # Each training row's served ad, so that the text rules are learnt beside the ads' own asset
    # effects (models.train._fit_base), as the evaluation trains them.
    by_id = {str(r["ad_id"]): r for r in ads_rows}
    ads_train = [by_id.get(str(a)) for a in train["ad_id"]]
    term_weights: dict = {}
    term_info: dict = {}  # the prior sd the weights were learnt with
    missing = sum(a is None for a in ads_train)
    if missing:
        if progress:
            progress(f"{missing:,} training rows have no ad in raw.ads: the text rules are learnt without asset "
                     "effects and the lexicon's terms count alike")
        ads_train = None
    elif not valid["ad_id"].astype(str).isin(by_id).all():
        if progress:  # their features could not be recomputed with the weights
            progress("some validation rows have no ad in raw.ads: the lexicon's terms count alike")
    else:
        started = time.perf_counter()
        term_weights = learn_term_weights(by_id, train, info=term_info)
        if progress:
            progress(f"term weights: {term_count(term_weights):,} lexicon terms weighted from "
                     f"{len(train):,} training rows{prior_note(term_info)} in {time.perf_counter() - started:.1f}s")
        sp = load_processor(tokenizer_path)
        train, valid = (model_features(part, by_id, sp, term_weights) for part in (train, valid))
    Xt, it, ct, gt = arrays(train)
    Xv, iv, cv, gv = arrays(valid)
    started = time.perf_counter()
    result = train_ctr_model(Xt, it, ct, Xv, iv, cv, COMBINATION_FEATURE_NAMES, groups_train=gt, groups_valid=gv,
                             ads_train=ads_train, progress=progress)
    seconds = time.perf_counter() - started
    if split:
        result.metrics["split"] = split
    result.metrics["term_weights"] = {"terms": term_count(term_weights), **term_info}
    calibration = calibration_table(result.valid_pred, iv, cv)
    importance = (pd.DataFrame({"feature": COMBINATION_FEATURE_NAMES, "gain": result.booster.feature_importance("gain")})
                  .sort_values("gain", ascending=False))
    priors: dict = {}
    effects = history_effects(result.booster, train, valid, ads_rows, priors)
    result.metrics["asset_effects"] = priors  # the learnt prior sd and slot scales of the shipped effects
    return FittedModel(result, calibration, importance, effects, model_plots(calibration, importance), seconds,
                       data_fingerprint, term_weights)


def fitted_scoring_model(fitted: FittedModel, tokenizer_path: str):
    """The fitted model as scoring will use it once its bundle is loaded (models.scoring.ScoringModel:
    the booster read back from the text the bundle stores, the tokenizer, the term weights, the
    history effects), for
    what must be computed before the bundle is written, such as its score reference."""
    import lightgbm as lgb

    from models.asset_effects import AssetEffects
    from models.scoring import ScoringModel
    from transforms.tokenizer import load_processor

    booster = lgb.Booster(model_str=fitted.result.booster.model_to_string())
    return ScoringModel.from_booster(booster, load_processor(tokenizer_path), AssetEffects(fitted.effects),
                                     term_weights=fitted.term_weights)


def save_fitted(fitted: FittedModel, bundle_root: str, tokenizer_path: str, score_reference=None,
                score_reference_sample: dict | None = None) -> str:
    """Write the bundle (atomically) under bundle_root; returns its directory. score_reference:
    the fitted model's scores of a sample of the pools (monitoring.report.score_reference) and how
    it was sampled, for the drift report of later scoring runs."""
    from models.bundle import save_bundle
    from transforms.features import feature_spec

    params = {k: v for k, v in fitted.result.params.items() if k != "interaction_constraints"}
    return save_bundle(bundle_root, fitted.result.booster.model_to_string(), tokenizer_path, feature_spec(),
                       fitted.metrics, params, fitted.data_fingerprint, extra_files=fitted.images,
                       asset_effects=fitted.effects, score_reference=score_reference,
                       score_reference_sample=score_reference_sample, term_weights=fitted.term_weights)
