import numpy as np

from models.topk import top_k_indices


def brute_force(scores, k):
    return np.array(sorted(range(len(scores)), key=lambda i: (-scores[i], i))[:k], dtype=np.int64)


def test_matches_brute_force_on_random_scores():
    rng = np.random.default_rng(0)
    for n in [1, 2, 5, 100, 1000]:
        scores = rng.normal(size=n)
        for k in [1, 3, 10, 2000]:
            np.testing.assert_array_equal(top_k_indices(scores, k), brute_force(scores, k))


def test_ties_go_to_the_lower_index_even_across_the_cut():
    scores = np.array([0.1, 0.5, 0.5, 0.5, 0.2, 0.5])
    np.testing.assert_array_equal(top_k_indices(scores, 2), [1, 2])
    np.testing.assert_array_equal(top_k_indices(scores, 5), [1, 2, 3, 5, 4])


def test_empty_and_zero_k():
    assert len(top_k_indices(np.array([]), 3)) == 0
    assert len(top_k_indices(np.array([1.0]), 0)) == 0


def test_streaming_top_equals_brute_force_over_blocks_with_ties_masks_and_margin():
    from models.topk import StreamingTop

    rng = np.random.default_rng(3)
    for trial in range(30):
        n = int(rng.integers(1, 5000))
        scores = np.round(rng.normal(size=n), int(rng.integers(1, 4)))  # rounding: many exact ties
        mask = rng.random(n) < rng.choice([1.0, 0.5, 0.05])
        size = int(rng.integers(1, 300))
        margin = float(rng.choice([0.0, 0.01, 0.3]))
        top = StreamingTop(size, margin)
        cuts = np.sort(rng.integers(0, n + 1, size=int(rng.integers(0, 12))))
        for a, b in zip(np.r_[0, cuts], np.r_[cuts, n]):
            top.add(int(a), scores[a:b], mask[a:b])
        rows, got = top.result()
        live = np.flatnonzero(mask)
        order = live[np.lexsort((live, -scores[live]))]
        assert top.offered == len(live) and top.complete == (len(live) <= size)
        if len(live) <= size:
            np.testing.assert_array_equal(rows, order)
            continue
        kth = scores[order[size - 1]]
        assert top.cutoff == kth
        want = order[scores[order] >= kth - margin]  # the size best plus everything within the margin
        np.testing.assert_array_equal(rows, want)
        np.testing.assert_array_equal(got, scores[want])
