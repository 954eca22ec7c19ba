"""Insights through the one scoring path (score_pool) with a real bundle and its history effects."""

import json

import numpy as np
import pytest

from models.bundle import load_bundle
from models.insight_options import InsightOptions
from models.scoring import ScoringModel, pool_inputs, score_pool
from transforms.features import feature_spec


@pytest.fixture(scope="module")
def model(tiny_bundle):
    return ScoringModel.from_bundle(load_bundle(tiny_bundle, feature_spec()))


def test_insights_come_from_the_same_pass_and_match_the_published_scores(tiny_world, model):
    opts = InsightOptions(min_diff=2, asset_values=True, explain_ranks=(1, 3), select=True)
    n_history = 0
    for pool in pool_inputs(tiny_world.asset_pools(), tiny_world.ads()):
        plain = score_pool(model, pool, 4, keep_all=True)
        out = score_pool(model, pool, 4, insights=opts)
        if not plain.ok:
            assert not out.ok and out.insights is None
            continue
        raw = plain.scored.all_raw  # the published scores of every combination
        ins = out.insights
        n_history += out.with_history
        # diverse top-K: the first is the plain best, all published scores are the plain path's
        assert out.scored.top_rows[0] == plain.scored.top_rows[0]
        np.testing.assert_allclose(out.scored.top_raw, raw[out.scored.top_rows], rtol=0, atol=1e-12)
        for e in ins.explanations:
            assert abs(e["terms_sum"] - e["raw_score"]) <= 1e-6
            assert e["raw_score"] == out.scored.top_raw[e["rank"] - 1]
            assert any(t["kind"] == "history" for t in e["terms"]) == out.with_history
        assert len(ins.asset_values) == len(out.group.headline_ids) + len(out.group.description_ids)
        best = max(r["best_with_raw"] for r in ins.asset_values if r["best_with_raw"] is not None)
        assert best == pytest.approx(raw.max(), abs=1e-9)
        assert ins.selection.method == "whole pool"  # the simulator's pools fit an RSA
        json.dumps({"explanations": ins.explanations, "assets": ins.asset_values,
                    "selection": ins.selection.as_dict()}, ensure_ascii=False)
    assert n_history > 0
