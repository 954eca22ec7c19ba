import datetime as dt
import itertools
import time

import numpy as np
import pytest

from admedia import textgen
from admedia.textgen import DESCRIPTION_MAX_WIDTH, HEADLINE_MAX_WIDTH, display_width
from admedia.world import DESCRIPTION_PINS, HEADLINE_PINS, World, WorldConfig

ADS_KEYS = ["ad_id", "ad_group_id", "campaign_id", "industry", "keyword", "headline_1", "headline_2",
            "headline_3", "description_1", "description_2"]
PERF_KEYS = ["date", "ad_id", "impressions", "clicks", "conversions", "cost_micros"]
POOL_KEYS = ["ad_group_id", "asset_id", "asset_type", "text", "pinned_field"]


def test_display_width_counts_wide_as_two():
    assert display_width("abc") == 3
    assert display_width("美容") == 4
    assert display_width("１０％") == 6  # full-width digits and percent
    assert display_width("【公式】!") == 9


def test_textgen_is_seeded():
    ind = textgen.INDUSTRIES[0]
    a = textgen.asset_texts(np.random.default_rng(3), ind, ind.brands[0], ind.keywords[0], 15, "HEADLINE")
    b = textgen.asset_texts(np.random.default_rng(3), ind, ind.brands[0], ind.keywords[0], 15, "HEADLINE")
    assert a == b and len(set(a)) == 15


def test_overlong_share_near_four_percent():
    w = World.generate(WorldConfig.preset("tiny", n_ad_groups=150))
    rows = w.asset_pools()
    over = [r for r in rows if display_width(r["text"]) >
            (HEADLINE_MAX_WIDTH if r["asset_type"] == "HEADLINE" else DESCRIPTION_MAX_WIDTH)]
    assert 0.015 < len(over) / len(rows) < 0.07


def test_tiny_is_fast():
    t = time.perf_counter()
    w = World.generate(WorldConfig.preset("tiny"))
    w.daily_performance(w.start_date, w.end_date)
    assert time.perf_counter() - t < 0.5


def test_presets():
    assert WorldConfig.preset("demo").n_ad_groups == 240
    assert WorldConfig.preset("default").n_ad_groups == 1000
    with pytest.raises(ValueError):
        WorldConfig.preset("huge")


def test_same_seed_same_world_different_seed_differs(tiny_world):
    again = World.generate(WorldConfig.preset("tiny", seed=7))
    other = World.generate(WorldConfig.preset("tiny", seed=8))
    assert again.ads() == tiny_world.ads()
    assert again.asset_pools() == tiny_world.asset_pools()
    s, e = tiny_world.start_date, tiny_world.end_date
    assert again.daily_performance(s, e) == tiny_world.daily_performance(s, e)
    assert other.asset_pools() != tiny_world.asset_pools()
    assert other.daily_performance(s, e) != tiny_world.daily_performance(s, e)


def test_row_keys(tiny_world):
    assert list(tiny_world.ads()[0]) == ADS_KEYS
    assert list(tiny_world.asset_pools()[0]) == POOL_KEYS
    assert list(tiny_world.daily_performance(tiny_world.start_date, tiny_world.end_date)[0]) == PERF_KEYS


def test_pools_within_limits_sorted_and_pins_valid(tiny_world):
    w = World.generate(WorldConfig.preset("tiny", n_ad_groups=80, pin_rate=0.5))
    n_pinned_groups = 0
    for ag in w.ad_group_ids():
        hs, ds = w.pool(ag)
        assert 8 <= len(hs) <= 15 and 3 <= len(ds) <= 4
        for assets, kind, pins in ((hs, "HEADLINE", HEADLINE_PINS), (ds, "DESCRIPTION", DESCRIPTION_PINS)):
            ids = [a["asset_id"] for a in assets]
            assert ids == sorted(ids) and len(set(ids)) == len(ids)
            assert all(a["asset_type"] == kind and a["ad_group_id"] == ag for a in assets)
            assert all(a["pinned_field"] in ("", *pins) for a in assets)
            assert len({a["text"] for a in assets}) == len(assets)
        pinned = [a for a in hs + ds if a["pinned_field"]]
        assert len(pinned) <= 2
        n_pinned_groups += bool(pinned)
        assert len(w.valid_combinations(ag)) > 0
    assert n_pinned_groups > 10
    # pool() agrees with asset_pools()
    assert sum(len(h) + len(d) for h, d in map(w.pool, w.ad_group_ids())) == len(w.asset_pools())


def _check_combo_rules(hs, ds, h_texts, d_texts):
    """Texts of a served ad honour pins, widths and distinctness (RSA rules)."""
    for assets, texts, positions, limit in ((hs, h_texts, HEADLINE_PINS, HEADLINE_MAX_WIDTH),
                                            (ds, d_texts, DESCRIPTION_PINS, DESCRIPTION_MAX_WIDTH)):
        by_text = {a["text"]: a for a in assets}
        shown = [t for t in texts if t != ""]
        assert len(set(shown)) == len(shown)
        for pos, t in zip(positions, texts):
            if t == "":
                assert pos == "HEADLINE_3"
                continue
            a = by_text[t]
            assert display_width(t) <= limit
            pinned_here = any(x["pinned_field"] == pos for x in assets)
            assert a["pinned_field"] == (pos if pinned_here else "")


def test_served_ads_honour_pins_and_distinctness():
    w = World.generate(WorldConfig.preset("tiny", n_ad_groups=60, pin_rate=0.5, empty_headline3_rate=0.2))
    ads = w.ads()
    assert len({a["ad_id"] for a in ads}) == len(ads)
    assert any(a["headline_3"] == "" for a in ads)
    for a in ads:
        hs, ds = w.pool(a["ad_group_id"])
        _check_combo_rules(hs, ds, [a["headline_1"], a["headline_2"], a["headline_3"]],
                           [a["description_1"], a["description_2"]])
    for ag in w.ad_group_ids()[:20]:
        hs, ds = w.pool(ag)
        for c in w.valid_combinations(ag)[::97]:
            _check_combo_rules(hs, ds, [hs[i]["text"] for i in c[:3]], [ds[i]["text"] for i in c[3:]])


def test_performance_sane(tiny_world):
    rows = tiny_world.daily_performance(tiny_world.start_date, tiny_world.end_date)
    ad_ids = {a["ad_id"] for a in tiny_world.ads()}
    assert rows
    for r in rows:
        assert r["ad_id"] in ad_ids
        assert 0 <= r["clicks"] <= r["impressions"]
        assert 0 <= r["conversions"] <= r["clicks"] and r["cost_micros"] >= 0
        dt.date.fromisoformat(r["date"])
    assert len({(r["date"], r["ad_id"]) for r in rows}) == len(rows)
    # ads start/stop on different days in a larger world
    w = World.generate(WorldConfig.preset("tiny", n_ad_groups=40))
    per_ad = {}
    for r in w.daily_performance(w.start_date, w.end_date):
        per_ad.setdefault(r["ad_id"], []).append(r["date"])
    assert len({len(v) for v in per_ad.values()}) > 1


def test_performance_independent_of_range(tiny_world):
    w = tiny_world
    full = {(r["date"], r["ad_id"]): r for r in w.daily_performance(w.start_date, w.end_date)}
    mid = w.start_date + dt.timedelta(days=4)
    one = w.daily_performance(mid, mid)
    assert one and all(full[(r["date"], r["ad_id"])] == r for r in one)
    wide = w.daily_performance(w.start_date - dt.timedelta(days=30), mid + dt.timedelta(days=1))
    assert all(full[(r["date"], r["ad_id"])] == r for r in wide)
    assert w.daily_performance(w.end_date + dt.timedelta(days=1), w.end_date + dt.timedelta(days=5)) == []
    with pytest.raises(ValueError):
        w.daily_performance(w.end_date, w.start_date)


def test_vectorised_truth_equals_text_truth(tiny_world):
    rng = np.random.default_rng(0)
    for ag in tiny_world.ad_group_ids():
        hs, ds = tiny_world.pool(ag)
        hi = np.array([rng.choice(len(hs), 3, replace=False) for _ in range(25)])
        di = np.array([rng.choice(len(ds), 2, replace=False) for _ in range(25)])
        combos = np.hstack([hi, di]).astype(np.int32)
        vec = tiny_world.true_ctr_combinations(ag, combos)
        assert vec.shape == (25,)
        for c, v in zip(combos, vec):
            t = tiny_world.true_ctr_texts(ag, *(hs[i]["text"] for i in c[:3]), *(ds[i]["text"] for i in c[3:]))
            assert t == v  # exact: same terms, same assembly
    # an empty third headline (-1) matches headline_3 == ""
    ag = tiny_world.ad_group_ids()[0]
    hs, ds = tiny_world.pool(ag)
    v = tiny_world.true_ctr_combinations(ag, np.array([[0, 1, -1, 0, 1]]))[0]
    assert v == tiny_world.true_ctr_texts(ag, hs[0]["text"], hs[1]["text"], "", ds[0]["text"], ds[1]["text"])


def test_truth_spread_and_level():
    w = World.generate(WorldConfig.preset("tiny", n_ad_groups=40))
    ratios, means = [], []
    for ag in w.ad_group_ids():
        s = w.truth_summary(ag)
        ratios.append(s["best_ctr"] / s["mean_ctr"])
        means.append(s["mean_ctr"])
    assert 1.4 < np.median(ratios) < 2.8
    assert 0.015 < np.median(means) < 0.07


def test_truth_reads_text():
    """Keyword in H1 helps; repeating the same headline content hurts."""
    w = World.generate(WorldConfig.preset("tiny"))
    ag = w.ad_group_ids()[0]
    kw = w.ads()[0]["keyword"] if w.ads()[0]["ad_group_id"] == ag else w._ag(ag).keyword
    d1, d2 = "初めての方も安心。詳しくは公式サイトで。", "まずは資料をご覧ください。"
    with_kw = w.true_ctr_texts(ag, f"{kw}のご案内", "安心サポート", "選ばれる理由", d1, d2)
    without = w.true_ctr_texts(ag, "サービスのご案内", "安心サポート", "選ばれる理由", d1, d2)
    assert with_kw > without
    varied = w.true_ctr_texts(ag, "本日限定50%OFF", "累計100万人突破", "今すぐ申し込み", d1, d2)
    repeated = w.true_ctr_texts(ag, "本日限定50%OFF", "本日限定50%OFF!", "本日限定50%OFF!!", d1, d2)
    assert varied > repeated


def test_vectorised_truth_is_fast():
    w = World.generate(WorldConfig.preset("tiny", n_ad_groups=1, min_headlines=15, min_descriptions=4,
                                          pin_rate=0.0))
    ag = w.ad_group_ids()[0]
    combos = np.array([(a, b, c, d, e) for a in range(15) for b in range(15) for c in range(15)
                       if len({a, b, c}) == 3 for d in range(4) for e in range(4) if d != e], dtype=np.int32)
    assert len(combos) == 32760
    w.true_ctr_combinations(ag, combos)
    t = time.perf_counter()
    ctr = w.true_ctr_combinations(ag, combos)
    assert time.perf_counter() - t < 0.05
    assert np.all((ctr > 0) & (ctr < 1))


def test_truth_is_sum_of_position_and_pair_terms(tiny_world):
    """No term reads three positions: every third-order mixed difference of the logit is zero.
    (Distinctness does not matter for this algebraic property, so alternatives may repeat.)"""
    ag = tiny_world.ad_group_ids()[1]
    tr = tiny_world._truth_of(ag, 0)
    base, alts = [0, 1, 2, 0, 1], [3, 4, 5, 2, 2]
    for trio in itertools.combinations(range(5), 3):
        total = 0.0
        for bits in range(8):
            c = list(base)
            for k, pos in enumerate(trio):
                if bits >> k & 1:
                    c[pos] = alts[pos]
            total += (-1) ** bin(bits).count("1") * float(tr.logit(np.array([c]))[0])
        assert abs(total) < 1e-12, (trio, total)
