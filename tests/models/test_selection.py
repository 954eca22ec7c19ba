"""The "submit these N + M" selection: exact set values (against brute force on each set's own
enumeration), the exhaustive optimum on small pools, a true local optimum beyond."""

import itertools

import numpy as np
import pytest

from models.asset_values import kind_values
from models.insight_options import InsightOptions
from models.pairwise import PairwiseScorer
from models.selection import SERVING_TEMPERATURE, SetEvaluator, select_submission
from transforms.combinations import build_ad_group_combinations


def brute_value(booster, keyword, assets, sp, tau=SERVING_TEMPERATURE):
    """(expected CTR under the serving model, uniform expected CTR, best raw) of a set of assets,
    from its own enumeration (pins apply within the set) and Booster.predict."""
    g = build_ad_group_combinations(keyword, assets, sp)
    if not len(g):
        return None
    raw = booster.predict(g.X, raw_score=True)
    ctr = 1 / (1 + np.exp(-raw))
    w = np.exp((raw - raw.max()) / tau)
    return float((w * ctr).sum() / w.sum()), float(ctr.mean()), float(raw.max())


def _case(constrained_booster, pools, sp, pin: bool):
    keyword, assets = max(pools, key=lambda p: len(p[1]))
    heads = [dict(a, pinned_field="") for a in assets if a["asset_type"] == "HEADLINE"][:8]
    descs = [dict(a, pinned_field="") for a in assets if a["asset_type"] == "DESCRIPTION"][:4]
    if pin:
        heads[2]["pinned_field"] = "HEADLINE_1"
    pool = heads + descs
    g = build_ad_group_combinations(keyword, pool, sp)
    scored = PairwiseScorer(constrained_booster).score(g, 1, insights=InsightOptions(select=True))
    h, d = kind_values(g, scored.maxima, np.empty(0, np.int64))
    return keyword, pool, g, scored.tables, h.best_with, d.best_with


@pytest.fixture(scope="module")
def case(constrained_booster, pools, sp):
    """A pool of 8 headlines (one pinned to H1) and 4 descriptions; RSA caps of 4 + 2."""
    return _case(constrained_booster, pools, sp, pin=True)


def _subset(pool, g, h_ids, d_ids):
    keep = set(h_ids) | set(d_ids)
    return [a for a in pool if a["asset_id"] in keep]


def test_set_values_equal_brute_force(constrained_booster, sp, case):
    keyword, pool, g, tables, _, _ = case
    ev = SetEvaluator(g, tables)
    rng = np.random.default_rng(0)
    pinned = g.headline_pins.index("HEADLINE_1")
    checked = 0
    for _ in range(40):
        hs = sorted(rng.choice(len(g.headline_ids), int(rng.integers(3, 7)), replace=False))
        ds = sorted(rng.choice(len(g.description_ids), int(rng.integers(2, 4)), replace=False))
        got = ev.value(hs, ds)
        if pinned not in hs:  # a set keeps the pins: dropping every asset pinned to H1 is refused
            assert got is None
            continue
        want = brute_value(constrained_booster, keyword,
                           _subset(pool, g, [g.headline_ids[i] for i in hs], [g.description_ids[i] for i in ds]), sp)
        assert (got is None) == (want is None)
        checked += got is not None
        if got is not None:
            assert got.expected_ctr == pytest.approx(want[0], abs=1e-10)
            assert got.expected_ctr_uniform == pytest.approx(want[1], abs=1e-10)
            assert got.best_raw == pytest.approx(want[2], abs=1e-9)
    assert checked >= 10


def test_set_values_without_pins_equal_brute_force(constrained_booster, pools, sp):
    keyword, pool, g, tables, _, _ = _case(constrained_booster, pools, sp, pin=False)
    ev = SetEvaluator(g, tables)
    rng = np.random.default_rng(1)
    for _ in range(10):
        hs = sorted(rng.choice(len(g.headline_ids), int(rng.integers(3, 7)), replace=False))
        ds = sorted(rng.choice(len(g.description_ids), int(rng.integers(2, 4)), replace=False))
        got = ev.value(hs, ds)
        want = brute_value(constrained_booster, keyword,
                           _subset(pool, g, [g.headline_ids[i] for i in hs], [g.description_ids[i] for i in ds]), sp)
        assert got.expected_ctr == pytest.approx(want[0], abs=1e-10)
        assert got.expected_ctr_uniform == pytest.approx(want[1], abs=1e-10)
        assert got.best_raw == pytest.approx(want[2], abs=1e-9) and got.n_combinations == len(hs) * (len(hs) - 1) * (
            len(hs) - 2) * len(ds) * (len(ds) - 1)


def test_exhaustive_selection_is_the_best_set(constrained_booster, sp, case):
    keyword, pool, g, tables, h_with, d_with = case
    sel = select_submission(g, tables, h_with, d_with, max_headlines=4, max_descriptions=2,
                            current=(g.headline_ids[:4], g.description_ids[:2]))
    assert sel.method == "exhaustive" and len(sel.headline_ids) == 4 and len(sel.description_ids) == 2
    pinned = g.headline_ids[g.headline_pins.index("HEADLINE_1")]
    best = max(
        (brute_value(constrained_booster, keyword, _subset(pool, g, hs, ds), sp) or (-1,), hs, ds)
        for hs in itertools.combinations(g.headline_ids, 4) for ds in itertools.combinations(g.description_ids, 2)
        if pinned in hs)
    assert sel.selected.expected_ctr == pytest.approx(best[0][0], abs=1e-10)
    assert set(sel.headline_ids) == set(best[1]) and set(sel.description_ids) == set(best[2])
    cur = brute_value(constrained_booster, keyword, _subset(pool, g, g.headline_ids[:4], g.description_ids[:2]), sp)
    assert sel.current.expected_ctr == pytest.approx(cur[0], abs=1e-10)
    assert sel.selected.expected_ctr >= sel.current.expected_ctr and sel.selected.expected_ctr >= sel.random.expected_ctr
    whole = brute_value(constrained_booster, keyword, pool, sp)
    assert sel.pool.expected_ctr == pytest.approx(whole[0], abs=1e-10)
    assert sel.pool.best_raw == pytest.approx(whole[2], abs=1e-9)


def test_local_search_ends_in_a_local_optimum(constrained_booster, sp, case):
    keyword, pool, g, tables, h_with, d_with = case
    sel = select_submission(g, tables, h_with, d_with, max_headlines=4, max_descriptions=2, max_exhaustive=0)
    assert sel.method == "local search" and sel.local_optimum
    value = brute_value(constrained_booster, keyword, _subset(pool, g, sel.headline_ids, sel.description_ids), sp)[0]
    assert sel.selected.expected_ctr == pytest.approx(value, abs=1e-10)
    for ids, others, kind in ((sel.headline_ids, g.headline_ids, "H"), (sel.description_ids, g.description_ids, "D")):
        for out in ids:
            for new in set(others) - set(ids):
                swapped = [new if x == out else x for x in ids]
                hs, ds = (swapped, sel.description_ids) if kind == "H" else (sel.headline_ids, swapped)
                v = brute_value(constrained_booster, keyword, _subset(pool, g, hs, ds), sp)
                kept = g.headline_ids[g.headline_pins.index("HEADLINE_1")] in hs
                assert v is None or not kept or v[0] <= value + 1e-12


def test_a_pool_that_fits_an_rsa_is_submitted_whole(constrained_booster, sp, case):
    keyword, pool, g, tables, h_with, d_with = case
    sel = select_submission(g, tables, h_with, d_with)  # 8 + 4 fits 15 + 4
    assert sel.method == "whole pool"
    assert sorted(sel.headline_ids) == sorted(g.headline_ids) and sel.selected == sel.pool
