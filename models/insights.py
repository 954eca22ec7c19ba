"""Creative insights of one scored ad group, from the scorer's single pass (docs/insights.md).

score_pool(..., insights=InsightOptions(...)) fills PoolScores.insights with:
- asset_values:  one row per asset (models.asset_values);
- explanations:  the named terms of the requested ranks of the published top-K (models.explain);
- selection:     the "submit these 15 + 4" set for pools larger than an RSA (models.selection);
- notes:         what could not be computed, and why.
The diverse top-K needs nothing here: with min_diff >= 2 it is the published top-K itself.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from models.asset_values import AssetValues, asset_values, kind_values
from models.explain import centre, explain
from models.insight_options import InsightOptions
from models.selection import MAX_DESCRIPTIONS, MAX_HEADLINES, Selection, select_submission


@dataclass
class PoolInsights:
    asset_values: AssetValues | None = None  # columns, models.asset_values.asset_values
    explanations: list = field(default_factory=list)  # dicts, models.explain.explain
    selection: Selection | None = None
    notes: list = field(default_factory=list)


def build_insights(group, scored, opts: InsightOptions, ad_group_id: str, effects=None,
                   served_impressions: dict | None = None, current: tuple | None = None,
                   seed: int = 0) -> PoolInsights:
    """Insights of a scored ad group (group: AdGroupCombinations, scored: models.pairwise.ScoredGroup
    scored with the same options)."""
    out = PoolInsights()
    if opts.asset_values and scored.maxima is not None:
        best_raw = float(scored.maxima.row_max.max())
        out.asset_values = asset_values(group, scored.maxima, scored.leading_rows, best_raw,
                                        effects=effects, served_impressions=served_impressions)
    explain_here = opts.explains(ad_group_id)
    select_here = opts.select and (len(group.headline_ids) > MAX_HEADLINES or len(group.description_ids) > MAX_DESCRIPTIONS)
    if opts.select and not select_here:  # nothing to choose, and no pass over the pool to value it
        out.notes.append(f"no selection: the pool fits a responsive search ad ({len(group.headline_ids)} headlines, "
                         f"{len(group.description_ids)} descriptions): submit it whole")
    if explain_here or select_here:
        if scored.tables is None:
            out.notes.append(f"no explanation or selection: the ad group was scored by {scored.method} "
                             "(the model does not decompose into position-pair tables, or the tables "
                             "disagreed with Booster.predict)")
            return out
    if explain_here:
        centred = centre(scored.tables)
        combos = group.rows(scored.top_rows)
        for rank in opts.explain_ranks:
            if rank > len(scored.top_rows):
                out.notes.append(f"rank {rank} not explained: only {len(scored.top_rows)} combinations kept")
                continue
            out.explanations.append(explain(group, centred, combos[rank - 1], float(scored.top_raw[rank - 1]),
                                            ad_group_id, rank))
    if select_here:
        h, d = kind_values(group, scored.maxima, np.empty(0, np.int64))
        try:
            out.selection = select_submission(group, scored.tables, h.best_with, d.best_with, current=current,
                                              seed=seed)
        except ValueError as exc:
            out.notes.append(f"no selection: {exc}")
    return out
