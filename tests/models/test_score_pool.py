"""score_pool is the one scoring path: the Beam pipeline, the drift sample, the challenger arm and
the evaluation all publish the same numbers for the same combinations."""

import numpy as np
import pandas as pd
import pytest

from models.bundle import load_bundle
from models.scoring import PoolInput, ScoringModel, pool_inputs, score_pool
from monitoring.report import sample_published_scores
from pipelines import score
from transforms.features import feature_spec


@pytest.fixture(scope="module")
def model(tiny_bundle):
    return ScoringModel.from_bundle(load_bundle(tiny_bundle, feature_spec()))


def test_drift_sample_scores_equal_published_scores(tiny_world, tiny_snapshot, tiny_bundle, model, tmp_path):
    """The drift report's score sample is what production publishes: booster plus history effects
    (it used to leave the effects out), row for row against the pipeline's all-scores output."""
    sample = sample_published_scores(model, pool_inputs(tiny_world.asset_pools(), tiny_world.ads()), per_group=7)
    assert len(sample) > 0 and sample["ad_group_id"].nunique() >= 10
    score.run(["--runner=FnApiRunner", f"--pools={tiny_snapshot['raw.asset_pools']}",
               f"--ads={tiny_snapshot['raw.ads']}", f"--bundle={tiny_bundle}", "--top_k=3",
               f"--output={tmp_path / 'top' / 'part'}", f"--all_scores_output={tmp_path / 'all' / 'part'}"])
    published = pd.read_parquet(tmp_path / "all").set_index(["ad_group_id", "row"])["raw_score"]
    got = published.loc[list(zip(sample["ad_group_id"], sample["row"]))].to_numpy()
    np.testing.assert_allclose(sample["raw_score"].to_numpy(), got, rtol=0, atol=1e-9)
    np.testing.assert_allclose(sample["score"], 1 / (1 + np.exp(-got)), rtol=0, atol=1e-12)
    # and the history effects are in there: without them the numbers differ
    plain = ScoringModel(model.scorer, model.sp, None, model.version)
    bare = sample_published_scores(plain, pool_inputs(tiny_world.asset_pools(), tiny_world.ads()), per_group=7)
    assert np.abs(bare["raw_score"].to_numpy() - sample["raw_score"].to_numpy()).max() > 1e-3


def test_unscorable_pools_come_back_with_a_reason(model):
    one_headline = [{"asset_id": "h1", "asset_type": "HEADLINE", "text": "送料無料", "pinned_field": ""},
                    {"asset_id": "d1", "asset_type": "DESCRIPTION", "text": "今すぐ購入", "pinned_field": ""},
                    {"asset_id": "d2", "asset_type": "DESCRIPTION", "text": "翌日お届け", "pinned_field": ""}]
    out = score_pool(model, PoolInput("ag-one", "", one_headline), 3)
    assert not out.ok and "too few valid headlines: 1 of 1 usable, 3 needed" in out.reason
    all_h1 = [dict(a, pinned_field="HEADLINE_1") if a["asset_type"] == "HEADLINE" else a for a in
              one_headline + [{"asset_id": f"h{i}", "asset_type": "HEADLINE", "text": f"見出し{i}", "pinned_field": ""}
                              for i in range(2, 6)]]
    out = score_pool(model, PoolInput("ag-pins", "", all_h1), 3)
    assert not out.ok and "no usable headline can fill HEADLINE_2" in out.reason
    bad_pin = [dict(one_headline[0], pinned_field="HEADLINE_9")] + one_headline[1:]
    out = score_pool(model, PoolInput("ag-bad", "", bad_pin), 3)
    assert not out.ok and out.reason.startswith("invalid pin")
    wide = [{"asset_id": f"h{i}", "asset_type": "HEADLINE", "text": "あ" * 16 + str(i), "pinned_field": ""}
            for i in range(4)] + one_headline[1:]
    out = score_pool(model, PoolInput("ag-wide", "", wide), 3)
    assert not out.ok and "4 over the 30-wide limit" in out.reason


def test_the_pipeline_lists_unscored_ad_groups(tiny_snapshot, tiny_bundle, tmp_path):
    pools = pd.read_parquet(tiny_snapshot["raw.asset_pools"])
    broken = pools[pools.ad_group_id == pools.ad_group_id.iloc[0]].copy()
    broken["ad_group_id"] = "ag-broken"
    broken = broken[broken.asset_type == "DESCRIPTION"]  # no headline at all
    path = tmp_path / "pools.parquet"
    pd.concat([pools, broken]).to_parquet(path, index=False)
    score.run(["--runner=FnApiRunner", f"--pools={path}", f"--ads={tiny_snapshot['raw.ads']}",
               f"--bundle={tiny_bundle}", f"--output={tmp_path / 'top' / 'part'}",
               f"--unscored_output={tmp_path / 'unscored' / 'part'}", "--top_k=2"])
    unscored = pd.read_parquet(tmp_path / "unscored")
    assert list(unscored["ad_group_id"]) == ["ag-broken"]
    assert "too few valid headlines: 0 of 0 usable" in unscored["reason"].iloc[0]
    assert "ag-broken" not in set(pd.read_parquet(tmp_path / "top")["ad_group_id"])


def test_pins_that_leave_no_distinct_assets_are_named():
    from transforms.combinations import Pool, build_ad_group_combinations, unscorable_reason

    heads = [{"asset_id": f"h{i}", "asset_type": "HEADLINE", "text": f"見出し{i}", "pinned_field": pin}
             for i, pin in enumerate(["HEADLINE_1", "HEADLINE_1", ""])]
    descs = [{"asset_id": f"d{i}", "asset_type": "DESCRIPTION", "text": f"説明文{i}", "pinned_field": ""}
             for i in range(2)]
    group = build_ad_group_combinations("", heads + descs, sp=None)
    assert len(group) == 0 and Pool.from_assets(heads + descs).enumerate_factored()[0].size == 0
    assert unscorable_reason(group) == "pins cannot be satisfied: the headlines pinned leave no 3 distinct ones"
