"""The one way to score an ad group's pool: featurise → exact scores → history effects → top-K.

Every consumer calls `score_pool`: the Beam model handler (production scoring), the evaluation
against the simulator's ground truth, the experiment's challenger arm and the drift report's score
sample. What they see is therefore what production publishes, to the last bit.

    model = ScoringModel.from_bundle(load_bundle(path, feature_spec()))   # once per process
    out = score_pool(model, PoolInput(ad_group_id, keyword, assets), k=5)  # per ad group
    out.group.rows(out.scored.top_rows), out.scored.top_raw                # the K best, exact

An ad group that cannot be scored (an invalid pin, no valid combination) comes back with
`out.reason` set and nothing scored, never an exception: callers list it with its reason.
"""

from __future__ import annotations

import time
import zlib
from dataclasses import dataclass, field
from typing import Any, Mapping, Sequence

import numpy as np

from models.insight_options import InsightOptions
from models.insights import PoolInsights, build_insights
from models.pairwise import PairwiseScorer, ScoredGroup
from transforms.combinations import AdGroupCombinations, build_ad_group_combinations, unscorable_reason


@dataclass(frozen=True)
class PoolInput:
    """One ad group's pool as every reader gets it: assets are dicts with asset_id, asset_type,
    text, pinned_field (raw.asset_pools rows), in any order."""

    ad_group_id: str
    keyword: str = ""
    assets: Sequence[Mapping] = field(default_factory=tuple)
    industry: str = ""


@dataclass
class ScoringModel:
    """What scoring needs in memory, built once per process: the booster's exact scorer, the
    SentencePiece processor and the lexicon's term weights its features were computed with, and the
    per-asset history effects (may be None)."""

    scorer: PairwiseScorer
    sp: Any  # sentencepiece.SentencePieceProcessor
    effects: Any = None  # models.asset_effects.AssetEffects
    version: str = ""
    term_weights: Any = None  # transforms.features.TermWeights; None: every lexicon match counts 1

    @classmethod
    def from_bundle(cls, bundle, force_predict: bool = False, num_threads: int = 1) -> "ScoringModel":
        from transforms.tokenizer import load_processor

        scorer = PairwiseScorer(bundle.booster, bundle.feature_names, num_threads=num_threads,
                                force_predict=force_predict)
        return cls(scorer, load_processor(bundle.tokenizer_path), bundle.effects, bundle.version,
                   bundle.term_weights)

    @classmethod
    def from_booster(cls, booster, sp, effects=None, version: str = "", force_predict: bool = False,
                     num_threads: int = 1, term_weights=None) -> "ScoringModel":
        """A model that lives in memory only (evaluation): same scorer, same effects lookup."""
        return cls(PairwiseScorer(booster, num_threads=num_threads, force_predict=force_predict), sp,
                   effects, version, term_weights)

    @property
    def booster(self):
        return self.scorer.booster


@dataclass
class PoolScores:
    """The result for one ad group. `group` holds the enumeration (row i of `scored` is
    group.rows([i])); `reason` says why nothing was scored, empty otherwise."""

    ad_group_id: str
    group: AdGroupCombinations | None
    scored: ScoredGroup | None
    featurize_seconds: float = 0.0
    reason: str = ""
    with_history: bool = False
    insights: PoolInsights | None = None  # when score_pool was given InsightOptions

    @property
    def ok(self) -> bool:
        return not self.reason

    def top(self) -> list[tuple[np.ndarray, float]]:
        """[(combo (5,) asset indexes, raw score)] best first."""
        if not self.ok:
            return []
        return list(zip(self.group.rows(self.scored.top_rows), self.scored.top_raw.tolist()))


def score_pool(model: ScoringModel, pool: PoolInput, k: int, keep_all: bool = False,
               insights: InsightOptions | None = None, served_impressions: Mapping | None = None,
               current: tuple | None = None) -> PoolScores:
    """Exact top K of one ad group's pool (raw log-odds, booster plus history effects).

    keep_all=True also returns every valid combination's raw score (scored.all_raw, enumeration
    order). Ties go to the lower enumeration row, so results do not depend on the caller.

    insights: what else to take from the same pass (models.insights): with min_diff >= 2 the
    top K is the diverse top-K; asset values, explanations of some ranks and a 15 + 4 selection go
    to PoolScores.insights. served_impressions ({asset_id: impressions}; default: what the model's
    history effects table recorded for the ad group) and current ((headline_ids, description_ids)
    live now; default: the assets the ad group's served ads showed) only enrich those outputs.
    """
    start = time.perf_counter()
    try:
        group = build_ad_group_combinations(pool.keyword or "", pool.assets, model.sp,
                                            industry=pool.industry or "", ad_group_id=pool.ad_group_id,
                                            term_weights=model.term_weights)
    except ValueError as exc:  # an invalid pin: the pool, not the run, is wrong
        return PoolScores(pool.ad_group_id, None, None, time.perf_counter() - start, f"invalid pin: {exc}")
    featurize_s = time.perf_counter() - start
    if len(group) == 0:
        return PoolScores(pool.ad_group_id, group, None, featurize_s, unscorable_reason(group))
    effects = None
    if model.effects is not None:
        effects = model.effects.for_pool(pool.ad_group_id, group.headline_texts, group.description_texts)
    # The verification sample is seeded by the pool itself: the same pool is checked the same way.
    seed = zlib.crc32("\x1f".join(group.headline_ids + group.description_ids).encode("utf-8"))
    scored = model.scorer.score(group, k, keep_all=keep_all, seed=seed, effects=effects, insights=insights)
    out = PoolScores(pool.ad_group_id, group, scored, featurize_s, with_history=effects is not None)
    if insights is not None:
        if served_impressions is None and (insights.asset_values or insights.select) and model.effects is not None:
            served_impressions = model.effects.impressions_for_pool(pool.ad_group_id, pool.assets)
        if current is None and insights.select and served_impressions:  # the set live now: what was served
            served = [a for a in pool.assets if served_impressions.get(str(a["asset_id"]), 0) > 0]
            if served:
                current = ([str(a["asset_id"]) for a in served if a["asset_type"] == "HEADLINE"],
                           [str(a["asset_id"]) for a in served if a["asset_type"] == "DESCRIPTION"])
        out.insights = build_insights(group, scored, insights, pool.ad_group_id, effects,
                                      served_impressions=served_impressions, current=current, seed=seed)
    return out


def sigmoid(x):
    return 1.0 / (1.0 + np.exp(-np.asarray(x, dtype=np.float64)))


def pool_inputs(pool_rows, ads) -> list[PoolInput]:
    """raw.asset_pools rows and raw.ads rows (dicts, nulls as None) → one PoolInput per ad group,
    in ad_group_id order, with the keyword rule every consumer shares."""
    from transforms.combinations import ad_group_keywords

    keywords = ad_group_keywords(ads)
    by_group: dict[str, list] = {}
    for row in pool_rows:
        by_group.setdefault(str(row["ad_group_id"]), []).append(row)
    out = []
    for ag, rows in sorted(by_group.items()):
        keyword, industry = keywords.get(ag, ("", ""))
        out.append(PoolInput(ag, keyword, tuple(rows), industry))
    return out
