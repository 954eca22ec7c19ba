"""Pools, models and brute force shared by the scoring and insights tests (fixtures: conftest.py)."""

import numpy as np

from transforms.combinations import build_ad_group_combinations
from transforms.features import COMBINATION_FEATURE_NAMES

# The shipped defaults are tuned for the product (and change); these tests need big, deep trees
# so that exactness is tested on many leaves and branches that read different pairs.
DEEP = {"num_leaves": 31, "min_data_in_leaf": 20, "min_sum_hessian_in_leaf": 1e-3, "feature_fraction": 0.8,
        "learning_rate": 0.1, "max_bin": 63}


def training_rows(pools, sp, per_group=1500, seed=0):
    rng = np.random.default_rng(seed)
    X = []
    for keyword, assets in pools:
        g = build_ad_group_combinations(keyword, assets, sp)
        if len(g):
            X.append(g.X[rng.integers(0, len(g), min(per_group, len(g)))])
    X = np.concatenate(X)
    a = COMBINATION_FEATURE_NAMES.index("h1__n_chars")
    pair = [i for i, n in enumerate(COMBINATION_FEATURE_NAMES) if n.startswith("h1_h2__")][0]
    logit = -3 + 0.05 * X[:, a] - 2 * X[:, pair] + rng.normal(0, 0.5, len(X))
    y = (rng.random(len(X)) < 1 / (1 + np.exp(-logit))).astype(float)
    return X, y


def vary(assets, rng):
    """Random pins, over-wide assets and repeated texts (only one copy is ever used) on a pool."""
    out = [dict(a) for a in assets]
    heads = [a for a in out if a["asset_type"] == "HEADLINE"]
    descs = [a for a in out if a["asset_type"] == "DESCRIPTION"]
    for a in out:
        a["pinned_field"] = ""
    kind = rng.integers(4)
    if kind == 1:
        heads[0]["pinned_field"] = "HEADLINE_1"
        heads[1]["pinned_field"] = "HEADLINE_1"
    elif kind == 2:
        heads[2]["pinned_field"] = "HEADLINE_3"
        descs[0]["pinned_field"] = "DESCRIPTION_2"
    if len(heads) > 5:
        heads[-1]["text"] = "あ" * 16  # display width 32 > 30: never used
        heads[-2]["text"] = heads[-3]["text"]  # a repeated text: one copy enumerated
    if len(descs) > 3:
        descs[-1]["text"] = descs[0]["text"]
    return out


def brute(booster, g):
    return booster.predict(g.X, raw_score=True)




def random_effects(g, rng, sd=0.3):
    """History effects, a different value per position (an asset's effect may depend on its slot)."""
    return tuple(rng.normal(0, sd, len(g.headline_ids if p < 3 else g.description_ids)) for p in range(5))


def brute_scores(booster, g, effects=None):
    """Every valid combination's published score: Booster.predict plus the history effects."""
    from models.asset_effects import combination_effects

    raw = booster.predict(g.X, raw_score=True)
    return raw if effects is None else raw + combination_effects(effects, g.combos)


def brute_order(raw):
    """All rows best first, ties to the lower row."""
    return np.lexsort((np.arange(len(raw)), -raw))


def brute_diverse(raw, combos, k, min_diff):
    """The greedy diverse top-K by definition, over every valid combination."""
    order = brute_order(raw)
    kept = []
    for i in order:
        if len(kept) == k:
            break
        if all((combos[i] != combos[j]).sum() >= min_diff for j in kept):
            kept.append(int(i))
    return np.array(kept, dtype=np.int64)
