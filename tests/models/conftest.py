"""Fixtures of the scoring and insights tests: the tiny world's pools, its tokenizer, and models
trained on them with and without the interaction constraints."""

import pandas as pd
import pytest

from _scoring_testlib import DEEP, training_rows
from transforms.features import COMBINATION_FEATURE_NAMES


@pytest.fixture(scope="session")
def sp(tiny_snapshot):
    from transforms.tokenizer import load_processor

    return load_processor(tiny_snapshot["tokenizer"])


@pytest.fixture(scope="session")
def pools(tiny_world):
    keywords = {ad["ad_group_id"]: ad["keyword"] for ad in tiny_world.ads()}
    df = pd.DataFrame(tiny_world.asset_pools())
    return [(keywords.get(g, ""), a.to_dict("records")) for g, a in df.groupby("ad_group_id")]


@pytest.fixture(scope="session")
def constrained_booster(pools, sp):
    """The shipped default configuration's constraints on synthetic labels (strong pair effects)."""
    import lightgbm as lgb

    from models.train import DEFAULT_PARAMS, interaction_groups

    X, y = training_rows(pools, sp)
    params = {**DEFAULT_PARAMS, **DEEP, "interaction_constraints": interaction_groups(COMBINATION_FEATURE_NAMES)}
    return lgb.train(params, lgb.Dataset(X, y, feature_name=COMBINATION_FEATURE_NAMES), num_boost_round=80)


@pytest.fixture(scope="session")
def unconstrained_booster(pools, sp):
    import lightgbm as lgb

    from models.train import DEFAULT_PARAMS

    X, y = training_rows(pools, sp, per_group=400)
    return lgb.train({**DEFAULT_PARAMS, **DEEP}, lgb.Dataset(X, y, feature_name=COMBINATION_FEATURE_NAMES),
                     num_boost_round=10)
