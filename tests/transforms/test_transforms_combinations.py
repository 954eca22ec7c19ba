import itertools

import numpy as np
import pytest

from transforms.combinations import (POSITIONS, enumerate_combinations, unconstrained_count,
                                     valid_assets, width_ok)


def brute_force(h_pins, d_pins, h_ok=None, d_ok=None):
    """Reference: filter all ordered choices with the pin rules spelled out literally."""
    h_ok = h_ok if h_ok is not None else [True] * len(h_pins)
    d_ok = d_ok if d_ok is not None else [True] * len(d_pins)

    def allowed(pins, ok, positions, choice):
        for k, asset in enumerate(choice):
            pinned_here = [i for i, p in enumerate(pins) if p == positions[k]]
            if not ok[asset]:
                return False
            if pinned_here and asset not in pinned_here:
                return False
            if not pinned_here and pins[asset]:  # pinned assets appear nowhere else
                return False
        return True

    hs = [c for c in itertools.permutations(range(len(h_pins)), 3) if allowed(h_pins, h_ok, POSITIONS[:3], c)]
    ds = [c for c in itertools.permutations(range(len(d_pins)), 2) if allowed(d_pins, d_ok, POSITIONS[3:], c)]
    rows = [h + d for h in hs for d in ds]
    return np.array(rows, dtype=np.int32).reshape(-1, 5)


def test_unpinned_15_by_4():
    combos = enumerate_combinations([""] * 15, [""] * 4)
    assert combos.shape == (32760, 5) and combos.dtype == np.int32
    assert combos.shape[0] == unconstrained_count(15, 4) == 32760
    h, d = combos[:, :3], combos[:, 3:]
    assert (h[:, 0] != h[:, 1]).all() and (h[:, 0] != h[:, 2]).all() and (h[:, 1] != h[:, 2]).all()
    assert (d[:, 0] != d[:, 1]).all()
    assert len(np.unique(combos, axis=0)) == len(combos)
    # deterministic lexicographic order, identical to the brute force
    np.testing.assert_array_equal(combos, brute_force([""] * 15, [""] * 4))


@pytest.mark.parametrize("h_pins,d_pins", [
    (["HEADLINE_1", "", "", "", "", ""], ["", "", ""]),
    (["HEADLINE_1", "HEADLINE_1", "HEADLINE_1", "", "", "", ""], ["DESCRIPTION_2", "", "", ""]),
    (["HEADLINE_1", "HEADLINE_2", "HEADLINE_3", "HEADLINE_2", "", ""], ["", "DESCRIPTION_1", ""]),
    (["HEADLINE_3", "", "HEADLINE_3", "", "HEADLINE_1", ""], ["DESCRIPTION_1", "DESCRIPTION_1", "DESCRIPTION_2"]),
    (["", "HEADLINE_2", ""], ["", ""]),
    (["HEADLINE_1", "HEADLINE_2", "HEADLINE_3"], ["", ""]),  # all positions pinned, nothing left
    ([None, "HEADLINE_2", "", ""], [None, ""]),  # None means unpinned
])
def test_pins_match_brute_force(h_pins, d_pins):
    got = enumerate_combinations(h_pins, d_pins)
    want = brute_force([p or "" for p in h_pins], [p or "" for p in d_pins])
    assert len(want) > 0
    np.testing.assert_array_equal(got, want)


def test_pins_with_masks_match_brute_force():
    rng = np.random.default_rng(0)
    choices_h = ["", "", "", "HEADLINE_1", "HEADLINE_2", "HEADLINE_3"]
    choices_d = ["", "", "DESCRIPTION_1", "DESCRIPTION_2"]
    for _ in range(40):
        nh, nd = rng.integers(3, 9), rng.integers(2, 5)
        h_pins = [choices_h[i] for i in rng.integers(0, len(choices_h), nh)]
        d_pins = [choices_d[i] for i in rng.integers(0, len(choices_d), nd)]
        h_ok = list(rng.random(nh) > 0.2)
        d_ok = list(rng.random(nd) > 0.2)
        np.testing.assert_array_equal(enumerate_combinations(h_pins, d_pins, h_ok, d_ok),
                                      brute_force(h_pins, d_pins, h_ok, d_ok))


def test_width_masks_exclude_assets():
    combos = enumerate_combinations([""] * 5, [""] * 3, [True, False, True, True, True], [True, True, False])
    assert 1 not in combos[:, :3] and 2 not in combos[:, 3:]
    assert len(combos) == 4 * 3 * 2 * 2 * 1


def test_no_valid_combination_is_empty():
    assert enumerate_combinations(["", ""], ["", ""]).shape == (0, 5)
    # the only asset pinned to HEADLINE_1 is too wide: the position cannot be filled
    assert enumerate_combinations(["HEADLINE_1", "", "", ""], ["", ""], [False, True, True, True]).shape == (0, 5)


def test_invalid_pin_raises_naming_it():
    with pytest.raises(ValueError, match="DESCRIPTION_1"):
        enumerate_combinations(["DESCRIPTION_1", "", ""], ["", ""])
    with pytest.raises(ValueError, match="HEADLINE_4"):
        enumerate_combinations(["", "", ""], ["HEADLINE_4", ""])


def test_width_ok_counts_the_text_as_displayed():
    # Full-width digits count 2 as submitted (NFKC would halve them); half-width kana count 1.
    texts = ["あ" * 15, "あ" * 16, "1" * 30, "１" * 30, "ｱ" * 16, " " + "あ" * 15 + " "]
    np.testing.assert_array_equal(width_ok(texts, 30), [True, False, True, False, True, True])
    np.testing.assert_array_equal(valid_assets(["", " ", "x"], 30), [False, False, True])


def test_unconstrained_count():
    assert unconstrained_count(15, 4) == 32760
    assert unconstrained_count(2, 4) == 0 and unconstrained_count(3, 1) == 0


def test_build_empty_group_has_counts():
    from transforms.combinations import build_ad_group_combinations
    assets = [{"asset_id": f"h{i}", "asset_type": "HEADLINE", "text": "あ" * 16, "pinned_field": ""} for i in range(4)]
    assets += [{"asset_id": f"d{i}", "asset_type": "DESCRIPTION", "text": "説明", "pinned_field": ""} for i in range(2)]
    g = build_ad_group_combinations("k", assets, sp=None)  # no tokenising when nothing is valid
    assert len(g) == 0 and g.X.shape[0] == 0 and g.n_rejected == 24 * 2


@pytest.mark.parametrize("h_pins,d_pins", [
    ([""] * 15, [""] * 4),
    (["HEADLINE_1", "HEADLINE_1", "", "", "", ""], ["DESCRIPTION_2", "", ""]),
    (["HEADLINE_1", "HEADLINE_2", "HEADLINE_3"], ["", ""]),
])
def test_factored_enumeration_is_the_same_rows(h_pins, d_pins):
    from transforms.combinations import enumerate_factored, product_rows

    full = enumerate_combinations(h_pins, d_pins)
    triples, pairs = enumerate_factored(h_pins, d_pins)
    assert len(triples) * len(pairs) == len(full)
    np.testing.assert_array_equal(product_rows(triples, pairs).reshape(-1, 5), full)
    if len(full):
        idx = np.random.default_rng(0).integers(0, len(full), 50)
        np.testing.assert_array_equal(product_rows(triples, pairs, idx), full[idx])


def test_ad_group_block_is_lazy_and_pickles_small():
    import pickle

    from transforms.combinations import AdGroupCombinations

    g = AdGroupCombinations(triples=np.array([[0, 1, 2], [1, 0, 2]], dtype=np.int32),
                            pairs=np.array([[0, 1]], dtype=np.int32), headlines=None, descriptions=None,
                            headline_ids=["a", "b", "c"], headline_texts=["A", "B", "C"],
                            description_ids=["x", "y"], description_texts=["X", "Y"], n_rejected=4)
    assert len(g) == 2 and g.row_asset_ids(1) == ("b", "a", "c", "x", "y")
    assert g.combos.shape == (2, 5) and g._combos is not None
    back = pickle.loads(pickle.dumps(g))
    assert back._combos is None and back.rows([0]).tolist() == [[0, 1, 2, 0, 1]]
