"""The drift report: training inputs versus the inputs of a scoring run.

Compares per-asset features (each distinct text featurised once, with its ad group's keyword),
text coverage (empty texts, tokens the tokenizer maps to <unk>) and model scores: a seeded sample
of valid combinations of the scored pools against the same kind of sample taken when the model was
trained (the bundle's score reference; bundles written before it: the training set's served ads).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Sequence

import numpy as np

from monitoring.drift import (
    OOV_ERROR, OOV_WARN, PSI_ERROR, PSI_WARN, SCORE_DRIFT_P, FeatureDrift, empty_rate, feature_drift, ks, ks_pvalue,
    oov_rate, psi, severity,
)

# A few noisy features should not page anyone: the run is an ERROR when this share of features
# is at ERROR level (or when coverage or scores are), a WARN when any single feature is.
FEATURE_ERROR_SHARE = 0.10
# How scores are sampled, on both sides of the comparison: at training time (the bundle's score
# reference, which records these) and in every scoring run.
SAMPLE_PER_GROUP, SAMPLE_MAX_GROUPS, SAMPLE_SEED = 20, 300, 7
# What the score sample is compared with.
REFERENCE_POOLS = "pools at training"  # the bundle's score reference: like with like
REFERENCE_SERVED = "served ads"  # a bundle without one: the training set's served ads, as before


@dataclass
class DriftReport:
    features: list[FeatureDrift]
    oov_train: float
    oov_score: float
    empty_train: float
    empty_score: float
    score_psi: float
    score_ks: float
    n_train_texts: int
    n_score_texts: int
    score_ks_pvalue: float = 0.0
    reasons: list[str] = field(default_factory=list)
    score_reference: str = REFERENCE_SERVED  # what the scoring run's sample was compared with
    n_reference_scores: int = 0
    n_sample_scores: int = 0
    notes: list[str] = field(default_factory=list)  # said once in the log, never a drift reason

    @property
    def error_share(self) -> float:
        return sum(f.severity == "error" for f in self.features) / max(len(self.features), 1)

    @property
    def status(self) -> str:
        self.reasons = []
        if self.error_share >= FEATURE_ERROR_SHARE:
            self.reasons.append(f"{self.error_share:.0%} of features drifted past PSI {PSI_ERROR} / KS")
        oov = severity(self.oov_score - self.oov_train, OOV_WARN, OOV_ERROR)
        if oov != "ok":
            self.reasons.append(f"tokenizer <unk> rate {self.oov_score:.1%} vs {self.oov_train:.1%} in training")
        score = severity(self.score_psi, PSI_WARN, PSI_ERROR)
        if not np.isfinite(self.score_psi):
            # No scores on one side (no training set, or no valid combination sampled): say so.
            score = "warn"
            self.reasons.append("score drift could not be measured (no scores on one side)")
        elif score != "ok" and not self.score_ks_pvalue < SCORE_DRIFT_P:
            score = "ok"  # a PSI this large happens by chance on samples this small (docs/monitoring.md)
        elif score != "ok":
            self.reasons.append(f"score PSI {self.score_psi:.3f}")
        warn_features = [f.feature for f in self.features if f.severity != "ok"]
        if "error" in (oov, score) or self.error_share >= FEATURE_ERROR_SHARE:
            return "error"
        if warn_features or "warn" in (oov, score):
            if warn_features:
                self.reasons.append(f"{len(warn_features)} features drifting: {', '.join(warn_features[:5])}")
            return "warn"
        return "ok"

    def top_features(self, n: int = 15) -> list[dict]:
        ranked = sorted(self.features, key=lambda f: -np.nan_to_num(f.psi))
        return [{"feature": f.feature, "psi": f.psi, "ks": f.ks, "severity": f.severity} for f in ranked[:n]]


def unique_text_keyword(pairs: Sequence[tuple[str, str]]) -> list[tuple[str, str]]:
    return sorted({(t or "", k or "") for t, k in pairs})


def asset_feature_matrix(pairs: Sequence[tuple[str, str]], sp, term_weights=None) -> np.ndarray:
    """Per-asset features of distinct (text, keyword) pairs, grouped by keyword for one call each,
    as the model computes them (its tokenizer and term weights)."""
    from transforms.features import featurize_assets

    by_keyword: dict[str, list[str]] = {}
    for text, keyword in pairs:
        by_keyword.setdefault(keyword, []).append(text)
    blocks = [featurize_assets(texts, keyword, sp, term_weights).feats for keyword, texts in sorted(by_keyword.items())]
    return np.vstack(blocks) if blocks else np.empty((0, 0), dtype=np.float32)


def piece_ids(sp, texts: Sequence[str]) -> list[list[int]]:
    from transforms.text import normalize

    return [sp.encode(normalize(t)) for t in texts if normalize(t)]


def build_report(
    train_pairs: Sequence[tuple[str, str]],
    score_pairs: Sequence[tuple[str, str]],
    sp,
    train_scores: np.ndarray,
    sample_scores: np.ndarray,
    term_weights=None,
) -> DriftReport:
    """train_scores: the reference side of the score comparison (the bundle's score reference, or
    the served ads' scores); sample_scores: the scoring run's sample; term_weights: the model's
    (both sides' features are computed as the model computes them)."""
    from transforms.features import ASSET_FEATURE_NAMES

    # An empty slot (a served ad without H3 or D2) is not an asset: it counts in the empty-text
    # rates below, not in the feature distributions (pools never hold empty assets).
    train_u = [p for p in unique_text_keyword(train_pairs) if p[0].strip()]
    score_u = [p for p in unique_text_keyword(score_pairs) if p[0].strip()]
    X_train, X_score = asset_feature_matrix(train_u, sp, term_weights), asset_feature_matrix(score_u, sp, term_weights)
    unk = sp.unk_id()
    report = DriftReport(
        features=feature_drift(list(ASSET_FEATURE_NAMES), X_train, X_score),
        oov_train=oov_rate(piece_ids(sp, [t for t, _ in train_u]), unk),
        oov_score=oov_rate(piece_ids(sp, [t for t, _ in score_u]), unk),
        empty_train=empty_rate([t for t, _ in train_pairs]),
        empty_score=empty_rate([t for t, _ in score_pairs]),
        score_psi=psi(train_scores, sample_scores),
        score_ks=ks(train_scores, sample_scores),
        score_ks_pvalue=ks_pvalue(train_scores, sample_scores),
        n_train_texts=len(train_u),
        n_score_texts=len(score_u),
        n_reference_scores=len(train_scores),
        n_sample_scores=len(sample_scores),
    )
    report.status  # fills reasons
    return report


def group_key(seed: int, ad_group_id: str) -> int:
    """A seeded pseudo-random key of an ad group, from its id alone (not its place in a list)."""
    import hashlib

    return int.from_bytes(hashlib.sha256(f"{seed}:{ad_group_id}".encode("utf-8")).digest()[:8], "big")


def sample_published_scores(model, pools, per_group: int = SAMPLE_PER_GROUP, max_groups: int = SAMPLE_MAX_GROUPS,
                            seed: int = SAMPLE_SEED) -> "pd.DataFrame":
    """Scores of a seeded sample of valid combinations, exactly as production publishes them.

    Each sampled ad group goes through models.scoring.score_pool (the one scoring path: booster
    plus per-asset history effects); up to `per_group` of its valid combinations are drawn
    uniformly. Returns ad_group_id, row (enumeration order), raw_score, score (predicted CTR).
    Unscorable pools are skipped: the scoring run lists them with their reason.

    Which ad groups (the `max_groups` with the smallest group_key) and which of their combinations
    are drawn depends on each ad group's id and pool alone, so an ad group that did not change
    contributes the same scores to every sample, whatever ad groups came or went beside it: the
    score reference of a bundle and a later run's sample then differ only where the pools did.
    """
    import pandas as pd

    from models.scoring import score_pool, sigmoid

    pools = sorted(pools, key=lambda p: p.ad_group_id)
    if len(pools) > max_groups:
        chosen = {p.ad_group_id for p in sorted(pools, key=lambda p: group_key(seed, p.ad_group_id))[:max_groups]}
        pools = [p for p in pools if p.ad_group_id in chosen]
    frames = []
    for pool in pools:
        out = score_pool(model, pool, 1, keep_all=True)
        if not out.ok:
            continue
        n = len(out.group)
        rows = np.arange(n) if n <= per_group else np.sort(
            np.random.default_rng(group_key(seed, pool.ad_group_id)).choice(n, size=per_group, replace=False))
        raw = out.scored.all_raw[rows]
        frames.append(pd.DataFrame({"ad_group_id": pool.ad_group_id, "row": rows, "raw_score": raw,
                                    "score": sigmoid(raw)}))
    columns = ["ad_group_id", "row", "raw_score", "score"]
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=columns)


def served_ad_scores(model, X: np.ndarray, ads) -> np.ndarray:
    """Predicted CTR of served ads (their feature rows X) as production would publish them: the
    booster plus the history effects of the assets each ad shows."""
    from models.scoring import sigmoid

    raw = np.asarray(model.booster.predict(X, raw_score=True), dtype=np.float64)
    if model.effects is not None and len(ads):
        raw = raw + model.effects.for_ads(ads)
    return sigmoid(raw)


TEXT_COLUMNS = ("headline_1", "headline_2", "headline_3", "description_1", "description_2")


def served_ads_once(training: "pd.DataFrame", ad_ids) -> "pd.DataFrame":
    """One training row per served ad that is still in raw.ads (`ad_ids`): an ad's rows of the
    training and validation splits are one creative with one score, and counted twice they would
    fake a sample twice as large to the KS test of score drift (the imported example's 48 served
    ads as 88 rows: p 0.007 instead of 0.085, a blocking error on its first run)."""
    ids = training["ad_id"].astype(str)
    return training[ids.isin(ad_ids) & ~ids.duplicated()]


def score_reference(model, ad_rows, pool_rows, per_group: int = SAMPLE_PER_GROUP,
                    max_groups: int = SAMPLE_MAX_GROUPS, seed: int = SAMPLE_SEED) -> "pd.DataFrame":
    """The reference distribution of a model's scores, taken when it is trained: its scores of a
    seeded sample of valid combinations of the pools (raw.asset_pools with raw.ads' keywords), by
    the very function and parameters that sample each scoring run. Stored with the bundle; the
    scoring run's sample is compared with it, so both sides are one kind of population (the served
    ads are not: a selected set whose assets' history effects were fitted on exactly them)."""
    from models.scoring import pool_inputs

    return sample_published_scores(model, pool_inputs(pool_rows, ad_rows), per_group, max_groups, seed)


def reference_sample_spec(per_group: int = SAMPLE_PER_GROUP, max_groups: int = SAMPLE_MAX_GROUPS,
                          seed: int = SAMPLE_SEED) -> dict:
    """How a reference was sampled, as the bundle's manifest records it."""
    return {"per_group": int(per_group), "max_groups": int(max_groups), "seed": int(seed)}


def drift_report(model, ad_rows, pool_rows, training: "pd.DataFrame", per_group: int = SAMPLE_PER_GROUP,
                 max_groups: int = SAMPLE_MAX_GROUPS, seed: int = SAMPLE_SEED,
                 reference: "pd.DataFrame | None" = None) -> DriftReport:
    """This scoring run's inputs against the model's training inputs.

    ad_rows, pool_rows: raw.ads and raw.asset_pools rows (dicts); training: the training set's rows
    (ad_id: which ads were served). Texts are compared as the model sees them (each pool text with its ad
    group's keyword, by the one keyword rule); scores as production publishes them on both sides.
    reference: the bundle's score reference (score_reference, sampled with these parameters). The
    run's sample is compared with it. Without one (a bundle written before references), the
    sample is compared with the model's predictions of the training set's served ads, as before,
    and the report carries a note saying so.
    """
    from transforms.combinations import ad_group_keywords

    keywords = {ag: kw for ag, (kw, _) in ad_group_keywords(ad_rows).items()}
    train_pairs = [(ad.get(c) or "", ad.get("keyword") or "") for c in TEXT_COLUMNS for ad in ad_rows]
    score_pairs = [(a.get("text") or "", keywords.get(str(a["ad_group_id"]), "")) for a in pool_rows]
    if reference is not None:
        reference_scores, kind, notes = reference["score"].to_numpy(dtype=np.float64), REFERENCE_POOLS, []
    else:
        reference_scores, kind = served_scores(model, ad_rows, training), REFERENCE_SERVED
        notes = [f"model {model.version or '(unversioned)'} has no score reference (trained before references were "
                 "stored, or without pools to sample): its pool sample is compared with its served ads, a selected "
                 "population that differs by construction; retrain to compare like with like"]
    sample = score_reference(model, ad_rows, pool_rows, per_group, max_groups, seed)  # drawn as the reference was
    report = build_report(train_pairs, score_pairs, model.sp, reference_scores, sample["score"].to_numpy(),
                          model.term_weights)
    report.score_reference, report.notes = kind, notes
    return report


def bundle_drift_report(bundle, model, ad_rows, pool_rows, training: "pd.DataFrame") -> DriftReport:
    """drift_report against a loaded bundle's score reference, sampled as its manifest records
    (a bundle written before references: the served-ads fallback)."""
    sampled = {k: v for k, v in bundle.score_reference_sample.items() if k in ("per_group", "max_groups", "seed")}
    return drift_report(model, ad_rows, pool_rows, training, reference=bundle.score_reference(), **sampled)


def served_scores(model, ad_rows, training: "pd.DataFrame") -> np.ndarray:
    """The model's predicted CTR of the training set's served ads, one per ad still in raw.ads
    (featurised as the model reads them: the training set's features count every lexicon match 1)."""
    from transforms.features import featurize_served_ads

    by_id = {str(a["ad_id"]): a for a in ad_rows}
    served = served_ads_once(training, by_id)
    if not len(served):
        return np.empty(0)
    ads = [by_id[str(a)] for a in served["ad_id"]]
    return served_ad_scores(model, featurize_served_ads(ads, model.sp, model.term_weights), ads)
