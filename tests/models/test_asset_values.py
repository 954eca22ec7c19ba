"""Asset values equal brute force: best with / without each asset over every valid combination."""

import numpy as np
import pytest

from _scoring_testlib import brute_order, brute_scores, random_effects, vary  # fixtures: conftest.py
from models.asset_values import KEEP, KEEP_REGRET, NEVER, WEAK, WEAK_REGRET
from models.insight_options import InsightOptions
from models.insights import build_insights
from models.pairwise import PairwiseScorer
from transforms.combinations import build_ad_group_combinations


def brute_values(raw, g, top_n):
    """{(kind, index): (best_with, best_without, share)} by definition over all rows."""
    combos = g.combos
    best = raw.max()
    top = combos[brute_order(raw)[:top_n]]
    out = {}
    for kind, cols, n in (("HEADLINE", slice(0, 3), len(g.headline_ids)), ("DESCRIPTION", slice(3, 5),
                                                                          len(g.description_ids))):
        for a in range(n):
            has = (combos[:, cols] == a).any(axis=1)
            with_ = raw[has].max() if has.any() else None
            without = raw[~has].max() if (~has).any() else None
            share = (top[:, cols] == a).any(axis=1).mean()
            out[kind, a] = (with_, without, share, best)
    return out


@pytest.mark.parametrize("force_predict", [False, True])
def test_asset_values_equal_brute_force(constrained_booster, pools, sp, force_predict, monkeypatch):
    import models.tables as tables

    monkeypatch.setattr(tables, "BLOCK_CELLS", 211)  # many blocks: the streaming maxima are exercised
    scorer = PairwiseScorer(constrained_booster, force_predict=force_predict)
    rng = np.random.default_rng(17)
    labels = set()
    n_groups = 0
    for keyword, assets in pools:
        g = build_ad_group_combinations(keyword, vary(assets, rng), sp)
        if not len(g):
            continue
        effects = random_effects(g, rng, 0.1) if n_groups % 2 else None
        raw = brute_scores(constrained_booster, g, effects)
        opts = InsightOptions(asset_values=True, top_n=37)
        scored = scorer.score(g, 5, effects=effects, insights=opts)
        rows = build_insights(g, scored, opts, "ag", effects).asset_values
        want = brute_values(raw, g, 37)
        assert len(rows) == len(g.headline_ids) + len(g.description_ids)
        h_index = {a: i for i, a in enumerate(g.headline_ids)}
        d_index = {a: i for i, a in enumerate(g.description_ids)}
        for r in rows:
            i = (h_index if r["asset_type"] == "HEADLINE" else d_index)[r["asset_id"]]
            with_, without, share, best = want[r["asset_type"], i]
            if with_ is None:
                assert r["best_with_raw"] is None and r["label"] == NEVER and r["regret"] is None
                assert "never shown" in r["reason"] or "no valid combination" in r["reason"]
            else:
                assert r["best_with_raw"] == pytest.approx(with_, abs=1e-9)
                assert r["regret"] == pytest.approx(best - with_, abs=1e-9) and r["regret"] >= 0
                assert raw[r["best_with_row"]] == pytest.approx(with_, abs=1e-9)  # a combination using it
                assert r["asset_id"] in g.row_asset_ids(r["best_with_row"])
                if effects is not None:
                    slot = ("h1", "h2", "h3", "d1", "d2").index(r["best_slot"])
                    assert r["history_effect"] == effects[slot][i]
                else:
                    assert r["history_effect"] is None
            if without is None:
                assert r["loss_if_removed"] is None and r["label"] == KEEP
            else:
                assert r["loss_if_removed"] == pytest.approx(best - without, abs=1e-9) and r["loss_if_removed"] >= 0
            assert r["top_n_share"] == pytest.approx(share, abs=1e-12)
            if r["regret"] is not None and (r["loss_if_removed"] or 0) == 0:
                expect = KEEP if r["regret"] <= KEEP_REGRET else WEAK if r["regret"] <= WEAK_REGRET else NEVER
                assert r["label"] == expect
            labels.add(r["label"])
        # exactly one best combination's assets lose something when removed (unless twins tie)
        assert sum((r["loss_if_removed"] or 0) > 0 for r in rows) <= 5
        n_groups += 1
    assert n_groups >= 8 and labels == {KEEP, WEAK, NEVER}


def test_unusable_assets_say_why(constrained_booster, pools, sp):
    keyword, assets = pools[0]
    assets = [dict(a, pinned_field="") for a in assets]
    heads = [a for a in assets if a["asset_type"] == "HEADLINE"]
    heads[0]["text"] = "あ" * 16  # width 32 > 30
    heads[1]["text"] = "   "
    g = build_ad_group_combinations(keyword, assets, sp)
    opts = InsightOptions(asset_values=True)
    rows = build_insights(g, PairwiseScorer(constrained_booster).score(g, 3, insights=opts), opts, "ag").asset_values
    by_id = {r["asset_id"]: r for r in rows}
    assert "over the 30-wide limit" in by_id[heads[0]["asset_id"]]["reason"]
    assert "empty" in by_id[heads[1]["asset_id"]]["reason"]
    assert by_id[heads[0]["asset_id"]]["label"] == NEVER
