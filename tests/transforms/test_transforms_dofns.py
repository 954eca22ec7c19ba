"""The Beam wrappers: same bytes through the training DoFn and the scoring DoFn."""
import apache_beam as beam
import numpy as np
import pytest
from apache_beam.testing.test_pipeline import TestPipeline as BeamTestPipeline
from apache_beam.testing.util import assert_that, equal_to

from _transforms_testlib import make_pool, sp, sp_model_path  # noqa: F401 (fixtures)
from transforms.combinations import AdGroupCombinations, build_ad_group_combinations
from transforms.dofns import INVALID_TAG, EnumerateAndFeaturize, FeaturizeServedAd
from transforms.features import COMBINATION_FEATURE_NAMES, featurize_served_ad

SERVED_IDS = ("H07", "H02", "H11", "D02", "D00")


def served_ad(assets, ad_group_id):
    by_id = {a["asset_id"]: a["text"] for a in assets}
    h1, h2, h3, d1, d2 = (by_id[i] for i in SERVED_IDS)
    return {"ad_id": f"ad-{ad_group_id}", "ad_group_id": ad_group_id, "campaign_id": "c1",
            "industry": "telecom", "keyword": "格安SIM", "headline_1": h1, "headline_2": h2,
            "headline_3": h3, "description_1": d1, "description_2": d2, "extra": 7}


def served_row(group: AdGroupCombinations) -> np.ndarray:
    (i,) = [i for i in range(len(group)) if group.row_asset_ids(i) == SERVED_IDS]
    return group.X[i]


@pytest.mark.parametrize("weights", [None, {"urgency": {"今だけ": 0.0}, "cta": {"こちら": 1.7}}],
                         ids=["plain", "term-weights"])
def test_training_and_scoring_dofns_give_identical_bytes(sp_model_path, sp, weights):
    pools = {"g1": make_pool(seed=1), "g2": make_pool(n_h=12, n_d=3, seed=2)}
    # g3: every headline too wide -> no valid combination, counted and dropped
    wide = [dict(a, text="あ" * 16) if a["asset_type"] == "HEADLINE" else a for a in make_pool(seed=3)]
    groups = [(g, {"keyword": "格安SIM", "industry": "telecom", "assets": a}) for g, a in pools.items()]
    groups.append(("g3", {"keyword": "", "industry": "", "assets": wide}))
    ads = [served_ad(a, g) for g, a in pools.items()]
    expected = {ad["ad_group_id"]: featurize_served_ad(ad, sp, weights).tobytes() for ad in ads}

    p = BeamTestPipeline(runner="FnApiRunner")
    served = (p | "Ads" >> beam.Create(ads)
                | "Served" >> beam.ParDo(FeaturizeServedAd(sp_model_path, weights))
                | "KeyServed" >> beam.Map(lambda ad: (ad["ad_group_id"], ad)))
    scored = (p | "Pools" >> beam.Create(groups)
                | "Enumerate" >> beam.ParDo(EnumerateAndFeaturize(sp_model_path, term_weights=weights)))

    def compare(kv):
        gid, joined = kv
        (ad,), (group,) = joined["served"], joined["scored"]
        return (gid, ad["features"].tobytes() == served_row(group).tobytes(),
                ad["features"].tobytes() == expected[gid], ad["extra"], len(group),
                group.X.shape[1], group.n_rejected)

    checks = {"served": served, "scored": scored} | beam.CoGroupByKey() | beam.Map(compare)
    assert_that(checks, equal_to([
        ("g1", True, True, 7, 32760, len(COMBINATION_FEATURE_NAMES), 0),
        ("g2", True, True, 7, 12 * 11 * 10 * 3 * 2, len(COMBINATION_FEATURE_NAMES), 0),
    ]))
    assert_that(scored | beam.Keys(), equal_to(["g1", "g2"]), label="NoEmptyGroups")
    result = p.run()
    result.wait_until_finish()

    counters = {c.key.metric.name: c.committed for c in result.metrics().query()["counters"]}
    assert counters["served_ads_featurized"] == 2
    assert counters["ad_groups"] == 3
    assert counters["ad_groups_without_valid_combination"] == 1
    assert counters["combinations_enumerated"] == 32760 + 7920
    assert counters["combinations_rejected"] == 32760  # g3: 15*14*13*4*3 all rejected
    dists = {d.key.metric.name: d.committed for d in result.metrics().query()["distributions"]}
    assert dists["featurize_ms"].count == 3


def test_invalid_pin_goes_to_dead_letter_output(sp_model_path):
    bad = make_pool(seed=4)
    bad[0] = dict(bad[0], pinned_field="HEADLINE_9" if bad[0]["asset_type"] == "HEADLINE" else "HEADLINE_1")
    with BeamTestPipeline(runner="FnApiRunner") as p:
        out = (p | beam.Create([("bad", {"keyword": "k", "assets": bad})])
                 | beam.ParDo(EnumerateAndFeaturize(sp_model_path, emit_invalid=True))
                 .with_outputs(INVALID_TAG, main="main"))
        assert_that(out.main, equal_to([]), label="NoMain")
        assert_that(out[INVALID_TAG] | beam.Keys(), equal_to(["bad"]), label="DeadLetter")


def test_pure_function_matches_dofn_path(sp):
    """The DoFn adds nothing: the pure core gives the same bytes for the served combination."""
    assets = make_pool(seed=5)
    group = build_ad_group_combinations("格安SIM", assets, sp)
    assert served_row(group).tobytes() == featurize_served_ad(served_ad(assets, "g"), sp).tobytes()
