"""World variants (slot visibility, redundancy, ordering, quality, noise) and concept drift.

The presets must not move: their generated data is pinned by hashes taken before variants existed.
"""
import dataclasses
import datetime as dt
import hashlib
import json

import numpy as np
import pytest

from admedia.creatives import CreativeStore, delivery
from admedia.world import World, WorldConfig, preset_names

# sha256 of ads, pools, daily performance and the truth of every valid combination of the first
# 30 ad groups, computed with the code before world variants existed (same numbers to the bit).
PRESET_HASHES = {
    "tiny": "0253ee8c3a5ef79db35e442264a52438d0368366bd9c1d7adba1686aebd9f5af",
    "small": "1bd1215e0e7a1d336bb9d22b93d36be423cd66dd9eebcdf3cfd2a131fa195f79",
    "demo": "99caa97192b61b7867e9c4ffea46f910c489104d362273f2c2ef2cc0c9296b52",
    "shifted": "731fcbd6ea9fbda6aaf45aa5bc17569511307d598bdf130914512fb16b9bb9b3",
}


def world_hash(w: World, truth_groups: int = 30) -> str:
    h = hashlib.sha256()
    h.update(json.dumps(w.ads(), ensure_ascii=False, sort_keys=True).encode())
    h.update(json.dumps(w.asset_pools(), ensure_ascii=False, sort_keys=True).encode())
    h.update(json.dumps(w.daily_performance(w.start_date, w.end_date), sort_keys=True).encode())
    for ag in w.ad_group_ids()[:truth_groups]:
        h.update(np.ascontiguousarray(w.true_ctr_combinations(ag, w.valid_combinations(ag))).tobytes())
    return h.hexdigest()


@pytest.mark.parametrize("name", sorted(PRESET_HASHES))
def test_presets_generate_the_same_data_as_before_variants(name):
    assert world_hash(World.generate(WorldConfig.preset(name))) == PRESET_HASHES[name]


def test_preset_names_and_the_drifting_preset():
    assert {"tiny", "small", "demo", "default", "shifted", "drifting"} <= set(preset_names())
    c = WorldConfig.preset("drifting")
    assert c.drift_day == 30 and c.drift_date == c.start_date + dt.timedelta(days=30)
    assert c.start_date < c.drift_date <= c.end_date and c.pool_shift == 0.0  # not the input-drift world
    assert WorldConfig.preset("demo").drift_date is None


@pytest.mark.parametrize("bad", [dict(slot_visibility=(1.0, 1.0)), dict(slot_visibility=(1, 1, 1, 1, -0.1)),
                                 dict(redundancy=-1.0), dict(ordering=9.0), dict(quality_sd=2.0),
                                 dict(drift_day=0), dict(drift_signals=("nonsense",)),
                                 dict(drift_slot_visibility=(1, 1, 1, 1, 3.0))])
def test_variant_settings_are_validated(bad):
    with pytest.raises(ValueError):
        WorldConfig.preset("tiny", **bad)


def _terms(world: World, ag: str, epoch: int = 0):
    return world._truth_of(ag, epoch)


def test_an_unseen_slot_does_not_matter():
    w = World.generate(WorldConfig.preset("tiny", slot_visibility=(1.0, 1.0, 0.0, 1.0, 1.0)))
    ag = w.ad_group_ids()[0]
    combos = w.valid_combinations(ag)
    ctr = w.true_ctr_combinations(ag, combos)
    # Same H1, H2, D1, D2 with any H3 (or none): the same CTR.
    key = {}
    for c, v in zip(combos, ctr):
        key.setdefault((c[0], c[1], c[3], c[4]), set()).add(round(float(v), 15))
    assert all(len(v) == 1 for v in key.values())
    assert max(len(v) for v in key.values()) == 1 and len(key) < len(combos)


def test_no_redundancy_means_no_pair_terms():
    w = World.generate(WorldConfig.preset("tiny", redundancy=0.0))
    t = _terms(w, w.ad_group_ids()[1])
    base, alt = np.array([[0, 1, 2, 0, 1]]), [3, 4, 5, 2, 2]
    for p in range(5):
        for q in range(p + 1, 5):
            c = [base.copy() for _ in range(4)]
            c[1][0, p] = alt[p]
            c[2][0, q] = alt[q]
            c[3][0, p], c[3][0, q] = alt[p], alt[q]
            mixed = t.logit(c[3]) - t.logit(c[1]) - t.logit(c[2]) + t.logit(c[0])
            assert abs(float(mixed[0])) < 1e-12
    # ...while the tuned world has them
    t1 = _terms(World.generate(WorldConfig.preset("tiny")), w.ad_group_ids()[1])
    assert np.abs(t1.hh).max() > 0


def test_ordering_zero_values_a_text_alike_in_every_headline_slot():
    w = World.generate(WorldConfig.preset("tiny", ordering=0.0, quality_sd=0.0))
    tuned = World.generate(WorldConfig.preset("tiny", quality_sd=0.0))
    ag = w.ad_group_ids()[0]
    h = _terms(w, ag).h_terms
    np.testing.assert_allclose(h[0], h[1], atol=1e-12)
    np.testing.assert_allclose(h[0], h[2], atol=1e-12)
    np.testing.assert_allclose(_terms(w, ag).d_terms[0], _terms(w, ag).d_terms[1], atol=1e-12)
    assert np.abs(_terms(tuned, ag).h_terms[0] - _terms(tuned, ag).h_terms[2]).max() > 0.01


def test_quality_sd_scales_the_hidden_quality():
    flat = World.generate(WorldConfig.preset("tiny", quality_sd=0.0))
    strong = World.generate(WorldConfig.preset("tiny", quality_sd=0.3))
    tuned = World.generate(WorldConfig.preset("tiny"))
    ag = tuned.ad_group_ids()[2]
    q_tuned = _terms(tuned, ag).h_terms - _terms(flat, ag).h_terms
    q_strong = _terms(strong, ag).h_terms - _terms(flat, ag).h_terms
    np.testing.assert_allclose(q_strong, 2.0 * q_tuned, atol=1e-12)
    assert np.abs(q_tuned).max() > 0.01


def test_hidden_quality_terms_are_what_quality_adds_in_each_slot():
    config = WorldConfig.preset("tiny", slot_visibility=(1.0, 0.8, 0.5, 0.9, 0.6))
    world, flat = World.generate(config), World.generate(dataclasses.replace(config, quality_sd=0.0))
    ag = world.ad_group_ids()[2]
    heads, descs = world.pool(ag)
    added_h = _terms(world, ag).h_terms - _terms(flat, ag).h_terms  # (3 slots, headlines + "none")
    added_d = _terms(world, ag).d_terms - _terms(flat, ag).d_terms
    for i, a in enumerate(heads):
        np.testing.assert_allclose(world.hidden_quality_terms(ag, a["text"], (0, 1, 2)), added_h[:, i], atol=1e-12)
    for i, a in enumerate(descs):
        np.testing.assert_allclose(world.hidden_quality_terms(ag, a["text"], (3, 4)), added_d[:, i], atol=1e-12)
    assert world.hidden_quality_terms(ag, "", (0, 1)) == (0.0, 0.0)


def test_text_rules_are_the_truth_of_the_same_world_without_hidden_quality():
    config = WorldConfig.preset("tiny", slot_visibility=(1.0, 0.8, 0.5, 0.9, 0.6))
    world, flat = World.generate(config), World.generate(dataclasses.replace(config, quality_sd=0.0))
    for ag in world.ad_group_ids()[:4]:
        combos = world.valid_combinations(ag)
        combos[::3, 2] = -1  # some without a third headline
        rules = world.text_rules_logit_combinations(ag, combos)
        np.testing.assert_allclose(rules, flat._truth_of(ag, 0).logit(combos), atol=1e-12)
        assert np.abs(rules - world._truth_of(ag, 0).logit(combos)).max() > 0.01  # quality was there
    ads = [a["ad_id"] for a in world.ads()]
    flat_ctr = np.array([flat.true_ctr_ad(a) for a in ads])
    np.testing.assert_allclose(world.text_rules_logit_ads(ads), np.log(flat_ctr / (1 - flat_ctr)), atol=1e-9)


def test_ctr_noise_changes_clicks_not_impressions():
    plain = World.generate(WorldConfig.preset("small"))
    noisy = World.generate(WorldConfig.preset("small", ctr_noise_sd=0.5))
    assert noisy.ads() == plain.ads() and noisy.asset_pools() == plain.asset_pools()
    a = plain.daily_performance(plain.start_date, plain.end_date)
    b = noisy.daily_performance(noisy.start_date, noisy.end_date)
    assert [r["impressions"] for r in a] == [r["impressions"] for r in b]
    assert [r["clicks"] for r in a] != [r["clicks"] for r in b]

    def dispersion(rows):  # variance of each ad's daily CTR, relative to the binomial one
        by_ad = {}
        for r in rows:
            if r["impressions"] >= 200:
                by_ad.setdefault(r["ad_id"], []).append(r)
        ratios = []
        for rs in by_ad.values():
            imp = np.array([r["impressions"] for r in rs], float)
            clk = np.array([r["clicks"] for r in rs], float)
            p = clk.sum() / imp.sum()
            if len(rs) > 5 and p > 0:
                ratios.append(np.mean((clk - imp * p) ** 2 / (imp * p * (1 - p))))
        return float(np.median(ratios))

    assert dispersion(a) < 1.5 < 3.0 < dispersion(b)


@pytest.fixture(scope="module")
def drifting():
    return World.generate(WorldConfig.preset("drifting"))


@pytest.fixture(scope="module")
def stable():
    return World.generate(dataclasses.replace(WorldConfig.preset("drifting"), drift_day=None))


def test_drift_keeps_inputs_and_history_before_the_change(drifting, stable):
    assert drifting.ads() == stable.ads() and drifting.asset_pools() == stable.asset_pools()
    change = drifting.config.drift_date
    before = change - dt.timedelta(days=1)
    assert drifting.daily_performance(drifting.start_date, before) == stable.daily_performance(stable.start_date, before)
    after_d = drifting.daily_performance(change, drifting.end_date)
    after_s = stable.daily_performance(change, stable.end_date)
    assert [r["impressions"] for r in after_d] == [r["impressions"] for r in after_s]
    # From the change on, clicks follow the new rules (the drifted rules lower CTR overall).
    ratio = sum(r["clicks"] for r in after_d) / sum(r["clicks"] for r in after_s)
    ads = drifting._served
    imp = np.array([drifting.ad_group_volume(a.ad_group_id) * a.share for a in ads])
    expected = float((imp * [a.true_ctr_drifted for a in ads]).sum() / (imp * [a.true_ctr for a in ads]).sum())
    assert expected < 0.9 and ratio == pytest.approx(expected, rel=0.03)


def test_true_ctr_follows_the_day(drifting, stable):
    change = drifting.config.drift_date
    ag = drifting.ad_group_ids()[0]
    combos = drifting.valid_combinations(ag)
    old = stable.true_ctr_combinations(ag, combos)
    np.testing.assert_array_equal(drifting.true_ctr_combinations(ag, combos, on=change - dt.timedelta(days=1)), old)
    new = drifting.true_ctr_combinations(ag, combos, on=change)
    assert not np.allclose(new, old)
    np.testing.assert_array_equal(drifting.true_ctr_combinations(ag, combos), new)  # default: after end_date
    assert drifting.rules_epoch(None) == 1 and stable.rules_epoch(None) == 0
    ad = drifting.ads()[0]
    assert drifting.true_ctr_ad(ad["ad_id"], on=drifting.start_date) == stable.true_ctr_ad(ad["ad_id"])
    assert drifting.true_ctr_ad(ad["ad_id"]) == drifting.true_ctr_texts(
        ad["ad_group_id"], *(ad[k] for k in ("headline_1", "headline_2", "headline_3", "description_1",
                                             "description_2")))
    s = drifting.truth_summary(ag, on=drifting.start_date)
    assert s == stable.truth_summary(ag)


def test_experiment_creatives_are_served_from_the_rules_of_each_day(drifting, stable):
    change = drifting.config.drift_date
    store = CreativeStore()
    items = []
    for ag in drifting.ad_group_ids()[:60]:
        hs, ds = drifting.pool(ag)
        c = drifting.valid_combinations(ag)[0]
        items.append({"tracking_id": f"t-{ag}", "ad_group_id": ag, "headline_1": hs[c[0]]["text"],
                      "headline_2": hs[c[1]]["text"], "headline_3": hs[c[2]]["text"],
                      "description_1": ds[c[3]]["text"], "description_2": ds[c[4]]["text"],
                      "start_date": drifting.start_date.isoformat()})
    accepted, rejected = store.submit(drifting, items, drifting.end_date)
    assert len(accepted) == 60 and not rejected
    start, end = change - dt.timedelta(days=10), change + dt.timedelta(days=9)
    got_d = delivery(drifting, store.all(), start, end)
    got_s = delivery(stable, store.all(), start, end)
    assert [r for r in got_d if r["date"] < change.isoformat()] == [r for r in got_s if r["date"] < change.isoformat()]
    after_d = [r for r in got_d if r["date"] >= change.isoformat()]
    after_s = [r for r in got_s if r["date"] >= change.isoformat()]
    assert [r["impressions"] for r in after_d] == [r["impressions"] for r in after_s]
    new = {c.tracking_id: drifting.true_ctr_texts(c.ad_group_id, *c.texts, on=change) for c in store.all()}
    old = {c.tracking_id: stable.true_ctr_texts(c.ad_group_id, *c.texts) for c in store.all()}
    expected = (sum(r["impressions"] * new[r["tracking_id"]] for r in after_s)
                / sum(r["impressions"] * old[r["tracking_id"]] for r in after_s))
    ratio = sum(r["clicks"] for r in after_d) / sum(r["clicks"] for r in after_s)
    assert expected < 0.9 and ratio == pytest.approx(expected, rel=0.05)
