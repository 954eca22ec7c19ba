import apache_beam as beam
import numpy as np
import pandas as pd
import pytest
from apache_beam.testing.test_pipeline import TestPipeline
from apache_beam.testing.util import assert_that

from models.asset_effects import combination_effects
from models.bundle import BundleError, load_bundle
from models.topk import top_k_indices
from pipelines import score
from transforms.combinations import build_ad_group_combinations
from transforms.features import feature_spec
from transforms.tokenizer import load_processor

K = 4


def exact_raw(bundle, block, ad_group_id):
    """What scoring must publish for every row: Booster.predict plus the asset history effects."""
    raw = bundle.booster.predict(block.X, raw_score=True)
    effects = bundle.effects.for_pool(ad_group_id, block.headline_texts, block.description_texts)
    assert effects is not None and np.abs(effects[0]).max() > 0  # every tiny-world group has history
    return raw + combination_effects(effects, block.combos)


def brute_force_top(tiny_world, bundle_path):
    """Every valid combination of every ad group scored by Booster.predict plus the bundle's per-asset
    history effects, top K by (score, order)."""
    bundle = load_bundle(bundle_path, feature_spec())
    sp = load_processor(bundle.tokenizer_path)
    keywords = {ad["ad_group_id"]: ad["keyword"] for ad in tiny_world.ads()}
    pools = pd.DataFrame(tiny_world.asset_pools())
    expected = {}
    for ad_group_id, assets in pools.groupby("ad_group_id"):
        block = build_ad_group_combinations(keywords.get(ad_group_id, ""), assets.to_dict("records"), sp,
                                            term_weights=bundle.term_weights)
        if len(block) == 0:
            continue
        raw = exact_raw(bundle, block, ad_group_id)
        expected[ad_group_id] = [(block.row_asset_ids(i), float(raw[i])) for i in top_k_indices(raw, K)]
    return expected


def test_top_k_equals_brute_force_and_scores_are_exact(tiny_world, tiny_snapshot, tiny_bundle):
    expected = brute_force_top(tiny_world, tiny_bundle)
    assert len(expected) >= 10

    def check(rows):
        got = {}
        for r in sorted(rows, key=lambda r: (r["ad_group_id"], r["rank"])):
            ids = (r["h1_asset_id"], r["h2_asset_id"], r["h3_asset_id"], r["d1_asset_id"], r["d2_asset_id"])
            got.setdefault(r["ad_group_id"], []).append((ids, r["raw_score"]))
            assert abs(r["score"] - 1 / (1 + np.exp(-r["raw_score"]))) < 1e-12
        assert got.keys() == expected.keys()
        for ad_group_id, want in expected.items():
            assert [ids for ids, _ in got[ad_group_id]] == [ids for ids, _ in want]
            np.testing.assert_allclose([s for _, s in got[ad_group_id]], [s for _, s in want], rtol=0, atol=1e-9)

    with TestPipeline(runner="FnApiRunner") as p:
        rows, manifest = score.build(p, tiny_snapshot["raw.asset_pools"], tiny_snapshot["raw.ads"], tiny_bundle, K)
        assert_that(rows, check)
    assert manifest["version"]


def test_refuses_a_bundle_built_for_other_features(tiny_snapshot, tiny_bundle, tmp_path, monkeypatch):
    import transforms.features as features

    monkeypatch.setattr(
        score, "feature_spec", lambda: {**features.feature_spec(), "version": "other", "fingerprint": "0" * 64}
    )
    with pytest.raises(BundleError, match="feature spec"):
        score.build(beam.Pipeline(runner="FnApiRunner"), tiny_snapshot["raw.asset_pools"], tiny_snapshot["raw.ads"], tiny_bundle, K)


def test_run_on_multiprocess_local_runner_writes_top_k(tiny_snapshot, tiny_bundle, tmp_path):
    score.run(
        [
            "--runner=FnApiRunner",
            "--direct_running_mode=multi_processing",
            "--direct_num_workers=2",
            f"--pools={tiny_snapshot['raw.asset_pools']}",
            f"--ads={tiny_snapshot['raw.ads']}",
            f"--bundle={tiny_bundle}",
            f"--output={tmp_path / 'top' / 'part'}",
            "--top_k=2",
        ]
    )
    df = pd.read_parquet(tmp_path / "top")
    assert df.groupby("ad_group_id")["rank"].max().le(2).all()
    assert df["model_version"].nunique() == 1


def test_all_scores_output_and_metrics(tiny_world, tiny_snapshot, tiny_bundle):
    """Optional output: every combination's score (Booster.predict + effects within 1e-9), and the
    Beam metrics that reach Dagster (ad groups, combinations scored and rejected, block latency)."""
    from pipelines.options import metrics_summary

    bundle = load_bundle(tiny_bundle, feature_spec())
    sp = load_processor(bundle.tokenizer_path)
    keywords = {ad["ad_group_id"]: ad["keyword"] for ad in tiny_world.ads()}
    pools = pd.DataFrame(tiny_world.asset_pools())
    want, rejected = {}, 0
    for ad_group_id, assets in pools.groupby("ad_group_id"):
        block = build_ad_group_combinations(keywords.get(ad_group_id, ""), assets.to_dict("records"), sp,
                                            term_weights=bundle.term_weights)
        rejected += block.n_rejected
        if len(block):
            want[ad_group_id] = exact_raw(bundle, block, ad_group_id)

    def check(tables):
        got = {}
        for t in tables:
            d = t.to_pydict()
            (gid,) = set(d["ad_group_id"])
            assert d["row"] == list(range(len(d["row"])))
            got[gid] = np.array(d["raw_score"])
        assert got.keys() == want.keys()
        for gid, w in want.items():
            np.testing.assert_allclose(got[gid], w, rtol=0, atol=1e-9)

    p = TestPipeline(runner="FnApiRunner")
    out = score.build_outputs(p, tiny_snapshot["raw.asset_pools"], tiny_snapshot["raw.ads"], tiny_bundle, 3,
                              all_scores=True)
    assert_that(out.all_scores, check)
    result = p.run()
    result.wait_until_finish()
    m = metrics_summary(result)
    assert m["combinations_scored"] == sum(len(w) for w in want.values())
    assert m["combinations_rejected"] == rejected
    assert m["ad_groups"] == pools["ad_group_id"].nunique()
    assert m["ad_groups_scored"] == len(want)
    assert m["ad_groups_pairwise"] + m.get("ad_groups_predict", 0) == len(want)
    assert m["ad_groups_with_asset_history"] == len(want)
    assert m["score_block_ms_max"] >= 0


def test_ad_group_keyword_is_chosen_the_same_way_everywhere():
    ads = [{"ad_group_id": "ag1", "keyword": "保険", "industry": "金融"},
           {"ad_group_id": "ag1", "keyword": "カード", "industry": "金融"},
           {"ad_group_id": "ag2", "keyword": None, "industry": None}]
    from transforms.combinations import ad_group_keywords

    assert ad_group_keywords(ads) == {"ag1": (min("保険", "カード"), "金融"), "ag2": ("", "")}
