"""pool_shift: candidate pools rewritten for a new industry after the served history."""

import unicodedata

import numpy as np
import pytest

from admedia import textgen
from admedia.textgen import DESCRIPTION_MAX_WIDTH, HEADLINE_MAX_WIDTH, display_width
from admedia.world import POSITIONS, World, WorldConfig


def _everything(w: World):
    return w.ads(), w.asset_pools(), w.daily_performance(w.start_date, w.end_date)


@pytest.fixture(scope="module")
def plain():
    return World.generate(WorldConfig.preset("tiny"))


@pytest.fixture(scope="module")
def moved():
    return World.generate(WorldConfig.preset("tiny", pool_shift=1.0))


def _existing_phrases() -> set[str]:
    out = set(textgen.DISCOUNTS + textgen.URGENCY + textgen.PROOF + textgen.SHIPPING + textgen.CTA
              + textgen.FILLERS + textgen.PADDING)
    for ind in textgen.INDUSTRIES:
        out |= set(ind.keywords + ind.brands + ind.products + ind.prices + ind.points)
    return out


def test_zero_shift_is_todays_world(plain):
    assert WorldConfig.preset("tiny").pool_shift == 0.0
    again = World.generate(WorldConfig.preset("tiny", pool_shift=0.0))
    assert _everything(again) == _everything(plain)
    for ag in plain.ad_group_ids():
        assert again.truth_summary(ag) == plain.truth_summary(ag)


def test_pool_shift_validated_and_preset():
    with pytest.raises(ValueError):
        WorldConfig(pool_shift=1.5)
    with pytest.raises(ValueError):
        WorldConfig(pool_shift=-0.1)
    shifted, demo = WorldConfig.preset("shifted"), WorldConfig.preset("demo")
    assert shifted.pool_shift > 0
    assert shifted == WorldConfig.preset("demo", pool_shift=shifted.pool_shift)
    assert (shifted.start_date, shifted.end_date) == (demo.start_date, demo.end_date)


def test_served_history_unchanged(plain, moved):
    assert moved.ads() == plain.ads()
    assert moved.daily_performance(moved.start_date, moved.end_date) == \
        plain.daily_performance(plain.start_date, plain.end_date)
    for ad in plain.ads():
        assert moved.true_ctr_ad(ad["ad_id"]) == plain.true_ctr_ad(ad["ad_id"])


def test_shifted_pools_differ_and_use_new_vocabulary(plain, moved):
    old = {a["text"] for a in plain.asset_pools()}
    new = [a["text"] for a in moved.asset_pools()]
    assert not old & set(new)
    ind = textgen.SHIFT_INDUSTRY
    assert ind.name not in {i.name for i in textgen.INDUSTRIES}
    style = textgen.SHIFT_STYLE
    fresh = set(ind.keywords + ind.brands + ind.products + ind.prices + ind.points + style.discounts
                + style.urgency + style.proof + style.shipping + style.cta + style.fillers)
    assert not fresh & _existing_phrases()
    # Nearly every text carries at least one of the new phrases (full-width forms aside).
    hits = [any(p in unicodedata.normalize("NFKC", t) for p in fresh) for t in new]
    assert np.mean(hits) > 0.9
    old_brands = {b for i in textgen.INDUSTRIES for b in i.brands}
    assert not any(b in t for t in new for b in old_brands)


def test_shifted_pools_respect_rules_and_are_longer(plain, moved):
    cfg = moved.config
    for ag in moved.ad_group_ids():
        heads, descs = moved.pool(ag)
        assert cfg.min_headlines <= len(heads) <= min(cfg.max_headlines, 15)
        assert cfg.min_descriptions <= len(descs) <= min(cfg.max_descriptions, 4)
        assert [h["asset_id"] for h in heads] == [f"{ag}-h{i + 1:02d}" for i in range(len(heads))]
        assert [d["asset_id"] for d in descs] == [f"{ag}-d{i + 1:02d}" for i in range(len(descs))]
        assert len({h["text"] for h in heads}) == len(heads)
        assert all(h["pinned_field"] in ("", *POSITIONS[:3]) for h in heads)
        assert all(d["pinned_field"] in ("", *POSITIONS[3:]) for d in descs)
        combos = moved.valid_combinations(ag)
        assert len(combos) > 0
        ctr = moved.true_ctr_combinations(ag, combos[:50])
        assert np.all((ctr > 0) & (ctr < 1))
        s = moved.truth_summary(ag)
        assert 0.005 < s["mean_ctr"] < s["best_ctr"] < 0.3
    pools = moved.asset_pools()
    within = [display_width(a["text"]) <= (HEADLINE_MAX_WIDTH if a["asset_type"] == "HEADLINE"
                                            else DESCRIPTION_MAX_WIDTH) for a in pools]
    assert np.mean(within) > 0.85

    def mean_width(w, kind):
        return np.mean([display_width(a["text"]) for a in w.asset_pools() if a["asset_type"] == kind])

    assert mean_width(moved, "HEADLINE") > mean_width(plain, "HEADLINE") + 4
    assert mean_width(moved, "DESCRIPTION") > mean_width(plain, "DESCRIPTION") + 8


def test_ground_truth_of_texts_agrees_with_pools(moved):
    ag = moved.ad_group_ids()[0]
    heads, descs = moved.pool(ag)
    combo = moved.valid_combinations(ag)[0]
    h = [heads[i]["text"] for i in combo[:3]]
    d = [descs[i]["text"] for i in combo[3:]]
    assert moved.true_ctr_texts(ag, *h, *d) == pytest.approx(
        float(moved.true_ctr_combinations(ag, combo[None, :])[0]), rel=1e-12)


def test_partial_shift_moves_only_a_share():
    plain = World.generate(WorldConfig.preset("tiny", n_ad_groups=20))
    half = World.generate(WorldConfig.preset("tiny", n_ad_groups=20, pool_shift=0.5))
    changed = [ag for ag in plain.ad_group_ids() if plain.pool(ag) != half.pool(ag)]
    assert len(changed) == 10
    assert half.ads() == plain.ads()
    again = World.generate(WorldConfig.preset("tiny", n_ad_groups=20, pool_shift=0.5))
    assert again.asset_pools() == half.asset_pools()
