"""Train the LightGBM CTR model on served ads (impressions, clicks) and measure it.

Each served ad becomes two weighted rows: label 1 with weight = clicks and label 0 with weight =
impressions - clicks. The binary log loss on those rows is exactly the binomial likelihood of the
ad's clicks, so the model predicts CTR without sampling impressions.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

# Chosen on the demo world's validation days; see README "Model". Interaction constraints keep
# every tree on one position or one pair of positions, which keeps the model decomposable.
DEFAULT_PARAMS: dict = {
    "objective": "binary",
    "learning_rate": 0.05,
    "num_leaves": 31,
    "min_data_in_leaf": 20,
    "feature_fraction": 0.8,
    "bagging_fraction": 0.9,
    "bagging_freq": 1,
    "lambda_l2": 1.0,
    "verbosity": -1,
    "seed": 7,
    "deterministic": True,
    "num_threads": 2,
}
NUM_BOOST_ROUND = 300
EARLY_STOPPING_ROUNDS = 30

_POSITION = re.compile(r"(?:^|_)([hd][1-3])(?=_|$)")


def interaction_groups(feature_names: list[str]) -> list[list[int]]:
    """Groups of feature indexes a single tree may combine.

    A feature belongs to the positions named in its prefix (`h1__width` → {h1},
    `h1_h2__jaccard` → {h1, h2}). Allowed: each position alone, and each pair of positions
    that has pair features, together with those pair features.
    """
    owners: list[frozenset[str]] = []
    for name in feature_names:
        prefix = name.split("__", 1)[0]
        owners.append(frozenset(_POSITION.findall(prefix)))
    positions = sorted({p for o in owners if len(o) == 1 for p in o})
    pairs = sorted({o for o in owners if len(o) == 2}, key=sorted)
    groups = [[i for i, o in enumerate(owners) if o == {p}] for p in positions]
    for pair in pairs:
        groups.append([i for i, o in enumerate(owners) if o and o <= pair])
    return [g for g in groups if g]


def to_binary_rows(X: np.ndarray, impressions: np.ndarray, clicks: np.ndarray):
    clicks = np.minimum(clicks, impressions).astype(np.float64)
    non_clicks = impressions.astype(np.float64) - clicks
    X2 = np.vstack([X, X])
    y = np.concatenate([np.ones(len(X)), np.zeros(len(X))])
    w = np.concatenate([clicks, non_clicks])
    keep = w > 0
    return X2[keep], y[keep], w[keep]


def evaluate(pred_ctr: np.ndarray, impressions: np.ndarray, clicks: np.ndarray) -> dict:
    """Impression-weighted log loss, AUC over impressions, and calibration (predicted/actual clicks)."""
    from sklearn.metrics import roc_auc_score

    p = np.clip(pred_ctr.astype(np.float64), 1e-7, 1 - 1e-7)
    imp = impressions.astype(np.float64)
    clk = np.minimum(clicks, impressions).astype(np.float64)
    logloss = -float(np.sum(clk * np.log(p) + (imp - clk) * np.log(1 - p)) / np.sum(imp))
    y = np.concatenate([np.ones(len(p)), np.zeros(len(p))])
    w = np.concatenate([clk, imp - clk])
    auc = float(roc_auc_score(y, np.concatenate([p, p]), sample_weight=w)) if 0 < clk.sum() < imp.sum() else float("nan")
    return {
        "logloss": logloss,
        "auc": auc,
        "calibration": float(np.sum(p * imp) / max(np.sum(clk), 1e-9)),
        "observed_ctr": float(clk.sum() / max(imp.sum(), 1.0)),
        "rows": int(len(p)),
        "impressions": int(imp.sum()),
    }


def calibration_table(pred_ctr, impressions, clicks, bins: int = 10) -> pd.DataFrame:
    """Predicted vs observed CTR by impression-weighted quantile bin of the prediction."""
    df = pd.DataFrame({"pred": pred_ctr, "imp": impressions, "clk": clicks}).sort_values("pred")
    cum = df["imp"].cumsum() / max(df["imp"].sum(), 1)
    df["bin"] = np.minimum((cum * bins).astype(int), bins - 1)
    g = df.groupby("bin").apply(
        lambda b: pd.Series(
            {
                "predicted_ctr": float(np.average(b["pred"], weights=b["imp"])) if b["imp"].sum() else 0.0,
                "observed_ctr": float(b["clk"].sum() / max(b["imp"].sum(), 1)),
                "impressions": int(b["imp"].sum()),
            }
        ),
        include_groups=False,
    )
    return g.reset_index()


@dataclass
class TrainResult:
    booster: object
    params: dict
    metrics: dict
    best_iteration: int
    valid_pred: np.ndarray = field(repr=False)


def train_ctr_model(
    X_train, imp_train, clk_train, X_valid, imp_valid, clk_valid, feature_names, params=None
) -> TrainResult:
    import lightgbm as lgb

    params = {**DEFAULT_PARAMS, **(params or {})}
    params.setdefault("interaction_constraints", interaction_groups(list(feature_names)))
    Xt, yt, wt = to_binary_rows(X_train, imp_train, clk_train)
    Xv, yv, wv = to_binary_rows(X_valid, imp_valid, clk_valid)
    dtrain = lgb.Dataset(Xt, yt, weight=wt, feature_name=list(feature_names), free_raw_data=True)
    dvalid = lgb.Dataset(Xv, yv, weight=wv, reference=dtrain)
    booster = lgb.train(
        params,
        dtrain,
        num_boost_round=NUM_BOOST_ROUND,
        valid_sets=[dvalid],
        valid_names=["valid"],
        callbacks=[lgb.early_stopping(EARLY_STOPPING_ROUNDS, verbose=False)],
    )
    best = booster.best_iteration or booster.current_iteration()
    # Keep exactly the trees that are used, so the saved model and predict() agree.
    booster = lgb.Booster(model_str=booster.model_to_string(num_iteration=best))
    train_pred = booster.predict(X_train)
    valid_pred = booster.predict(X_valid)
    metrics = {
        "train": evaluate(train_pred, imp_train, clk_train),
        "valid": evaluate(valid_pred, imp_valid, clk_valid),
        "num_trees": int(booster.num_trees()),
        "num_features": len(feature_names),
    }
    return TrainResult(booster=booster, params=params, metrics=metrics, best_iteration=best, valid_pred=valid_pred)
