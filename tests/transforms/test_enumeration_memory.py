"""Large products (generated pools) are enumerated one first-position asset at a time: the same
combinations in the same order as the whole-product path."""

import numpy as np

import transforms.combinations as comb


def test_large_product_path_equals_the_whole_product(monkeypatch):
    rng = np.random.default_rng(0)
    cases = []
    for _ in range(12):
        n_h, n_d = int(rng.integers(3, 25)), int(rng.integers(2, 7))
        pins_h = [str(rng.choice(["", "", "", "HEADLINE_1", "HEADLINE_3"])) for _ in range(n_h)]
        pins_d = [str(rng.choice(["", "", "DESCRIPTION_2"])) for _ in range(n_d)]
        ok_h, ok_d = rng.random(n_h) < 0.9, rng.random(n_d) < 0.9
        cases.append((pins_h, pins_d, ok_h, ok_d))
    want = [comb.enumerate_factored(*c) for c in cases]
    monkeypatch.setattr(comb, "LARGE_PRODUCT", 1)
    for c, (t, p) in zip(cases, want):
        t2, p2 = comb.enumerate_factored(*c)
        assert t2.dtype == np.int32 and p2.dtype == np.int32
        np.testing.assert_array_equal(t2, t)
        np.testing.assert_array_equal(p2, p)
