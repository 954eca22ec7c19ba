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
