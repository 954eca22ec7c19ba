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
        # the simulator's pools fit an RSA: nothing to select, no pass spent valuing the pool
        assert ins.selection is None and any("fits a responsive search ad" in n for n in ins.notes)
        json.dumps({"explanations": ins.explanations, "assets": ins.asset_values.rows()}, ensure_ascii=False)
    assert n_history > 0


def test_insight_tables_round_trip_through_parquet(tiny_world, model, tmp_path):
    """The warehouse rows: one Arrow table per ad group and output, written and read back as Parquet."""
    import pandas as pd
    import pyarrow as pa
    import pyarrow.parquet as pq

    from models.asset_values import kind_values
    from models.selection import select_submission
    from models.insight_rows import (ASSET_VALUES_SCHEMA, EXPLANATIONS_SCHEMA, SELECTIONS_SCHEMA,
                                     asset_values_table, explanations_table, selections_table)

    opts = InsightOptions(min_diff=2, asset_values=True, explain_ranks=(1, 2), select=True)
    tables = {"assets": [], "explanations": [], "selections": []}
    published = {}
    for pool in pool_inputs(tiny_world.asset_pools(), tiny_world.ads())[:5]:
        out = score_pool(model, pool, 3, insights=opts)
        if not out.ok:
            continue
        published[pool.ad_group_id] = out.scored.top_raw
        tables["assets"].append(asset_values_table(pool.ad_group_id, out.insights.asset_values, "v1"))
        tables["explanations"].append(explanations_table(out.insights.explanations, "v1"))
        # the tiny world's pools fit an RSA (score_pool selects nothing): the whole-pool selection
        h, d = kind_values(out.group, out.scored.maxima, np.empty(0, np.int64))
        selection = select_submission(out.group, out.scored.tables, h.best_with, d.best_with)
        tables["selections"].append(selections_table(pool.ad_group_id, selection, "v1"))
    for name, schema in (("assets", ASSET_VALUES_SCHEMA), ("explanations", EXPLANATIONS_SCHEMA),
                         ("selections", SELECTIONS_SCHEMA)):
        pq.write_table(pa.concat_tables(tables[name]), tmp_path / f"{name}.parquet")
        assert pq.read_schema(tmp_path / f"{name}.parquet").equals(schema, check_metadata=False)
    ex = pd.read_parquet(tmp_path / "explanations.parquet")
    for (ag, rank), part in ex.groupby(["ad_group_id", "rank"]):
        assert list(part["term"]) == list(range(len(part)))
        assert abs(part["value"].sum() - published[ag][rank - 1]) <= 1e-6
        assert (part["raw_score"] == published[ag][rank - 1]).all()
    assets = pd.read_parquet(tmp_path / "assets.parquet")
    assert set(assets["label"]) <= {"keep", "weak", "never useful"} and (assets["model_version"] == "v1").all()
    assert (assets["regret"].dropna() >= 0).all() and (assets["loss_if_removed"].dropna() >= 0).all()
    sel = pd.read_parquet(tmp_path / "selections.parquet")
    assert len(sel) == len(published) and set(sel["method"]) == {"whole pool"}


def test_explained_sample_is_stable_and_about_the_asked_share():
    opts = InsightOptions(explain_ranks=(1,), explain_every=10)
    ids = [f"ag{i:05d}" for i in range(5000)]
    picked = [i for i in ids if opts.explains(i)]
    assert picked == [i for i in ids if InsightOptions(explain_ranks=(1,), explain_every=10).explains(i)]
    assert 400 < len(picked) < 600
    assert not InsightOptions(explain_every=10).explains(ids[0])  # no ranks: nothing explained
    with pytest.raises(ValueError, match="explain_every"):
        InsightOptions(explain_every=0)
