"""Train the LightGBM CTR model on served ads (impressions, clicks) and measure it.

Each served ad becomes two weighted rows: label 1 with weight = clicks and label 0 with weight =
impressions - clicks. The binary log loss on those rows is exactly the binomial likelihood of the
ad's clicks, so the model predicts CTR without sampling impressions.
"""

from __future__ import annotations

import re
import zlib
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

# Chosen on the default world (docs/model.md) by early stopping on ad groups the model does not
# fit and by the ground-truth evaluation: stumps (2 leaves, one feature each), learning rate 0.2, no
# bagging or feature sampling, light leaf constraints. The text effects are additive (a signal in a
# position, a width step, a similarity between two positions), so a sum of one-feature steps is the
# right shape; deeper or more regularised trees stopped early, before the small effects were learnt,
# and captured 61% of the oracle lift instead of ~70%. Stumps also satisfy the interaction
# constraints trivially and cost one comparison each to score.
DEFAULT_PARAMS: dict = {
    "objective": "binary",
    "learning_rate": 0.2,
    "num_leaves": 2,
    "min_data_in_leaf": 10,
    "min_sum_hessian_in_leaf": 20.0,
    "feature_fraction": 1.0,
    "bagging_fraction": 1.0,
    "bagging_freq": 0,
    "lambda_l2": 0.0,
    "verbosity": -1,
    "seed": 7,
    "deterministic": True,
    "num_threads": 2,
}
NUM_BOOST_ROUND = 3000
# Early stopping: every CHECK_EVERY rounds, log loss on the validation days of ad groups held out
# of fitting (their offsets from their own training days); stop after PATIENCE rounds without gain.
EARLY_STOPPING_GROUP_SHARE = 0.2
CHECK_EVERY = 50
PATIENCE = 400

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


def to_binary_rows(X: np.ndarray, impressions: np.ndarray, clicks: np.ndarray, return_index: bool = False):
    """(X2, y, w): a click row (weight clicks) and a non-click row (weight impressions - clicks)."""
    impressions = np.asarray(impressions)
    clicks = np.minimum(np.asarray(clicks), impressions).astype(np.float64)
    non_clicks = impressions.astype(np.float64) - clicks
    X2 = np.vstack([X, X])
    y = np.concatenate([np.ones(len(X)), np.zeros(len(X))])
    w = np.concatenate([clicks, non_clicks])
    index = np.concatenate([np.arange(len(X)), np.arange(len(X))])
    keep = w > 0
    if return_index:
        return X2[keep], y[keep], w[keep], index[keep]
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
    intercept: float = 0.0  # baked into the booster: raw score of an average ad group


# ---- ad-group offsets ------------------------------------------------------------------------
#
# CTR differs between ad groups far more than between the texts of one ad group (industry, brand,
# the query mix): in the simulator the group level has a standard deviation of ~0.25 in log-odds,
# as large as most text effects, and the features cannot see it. Trained on raw clicks the trees
# spend themselves explaining group levels through proxies. Instead each ad group gets an offset
# (LightGBM init_score) fitted from its own history, so the trees learn what the *text* changes
# within an ad group (a fixed-effects model, fitted by backfitting: offsets, trees, offsets,
# trees). The saved booster has the average offset baked in, so its raw score is the log-odds of
# an average ad group; ranking within an ad group never depends on the offset. When an ad group
# has history, fit_group_offsets gives its offset for calibrated CTR.

OFFSET_PRIOR_SD = 0.5  # shrinks offsets of ad groups with little traffic towards the average
BACKFIT_ROUNDS = 2


def _sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


def fit_group_offsets(raw, impressions, clicks, groups, prior_mean: float = 0.0,
                      prior_sd: float = OFFSET_PRIOR_SD, iterations: int = 25) -> dict:
    """Per-group log-odds offsets o_g maximising the binomial likelihood of clicks given
    CTR = sigmoid(raw + o_g), with a Normal(prior_mean, prior_sd) prior. {group: offset}."""
    groups = np.asarray(groups)
    keys, inv = np.unique(groups, return_inverse=True)
    raw = np.asarray(raw, dtype=np.float64)
    imp = np.asarray(impressions, dtype=np.float64)
    clk = np.minimum(np.asarray(clicks, dtype=np.float64), imp)
    o = np.full(len(keys), float(prior_mean))
    prec = 1.0 / prior_sd**2
    clk_g = np.bincount(inv, clk, len(keys))
    for _ in range(iterations):
        p = _sigmoid(raw + o[inv])
        grad = clk_g - np.bincount(inv, imp * p, len(keys)) - prec * (o - prior_mean)
        hess = np.bincount(inv, imp * p * (1 - p), len(keys)) + prec
        step = grad / hess
        o += np.clip(step, -2.0, 2.0)
        if np.max(np.abs(step)) < 1e-9:
            break
    return dict(zip(keys.tolist(), o.tolist()))


def shift_booster(booster, delta: float):
    """A copy of booster whose raw score is raw + delta (delta added to every leaf of tree 0)."""
    import lightgbm as lgb

    text = booster.model_to_string()
    head, sep, rest = text.partition("Tree=0\n")
    if not sep:
        raise ValueError("booster has no trees")
    lines = rest.split("\n")
    for i, line in enumerate(lines):
        if line.startswith("leaf_value="):
            vals = [repr(float(v) + delta) for v in line[len("leaf_value="):].split()]
            lines[i] = "leaf_value=" + " ".join(vals)
            break
        if line.startswith("Tree="):
            raise ValueError("tree 0 has no leaf values")
    # tree_sizes lists each tree's byte length, which the new numbers change; without it
    # LightGBM parses the trees sequentially.
    head = "\n".join(line for line in head.split("\n") if not line.startswith("tree_sizes="))
    return lgb.Booster(model_str=head + sep + "\n".join(lines))


def evaluate_with_offsets(booster, hist: tuple, target: tuple, num_iteration: int | None = None) -> dict:
    """Metrics of target rows when each ad group's offset is fitted on its history rows.

    hist and target are (X, impressions, clicks, groups). Groups without history get offset 0
    (an average ad group). This is how the model is used once an ad group has delivered.
    """
    Xh, imp_h, clk_h, g_h = hist
    Xt, imp_t, clk_t, g_t = target
    offsets = (fit_group_offsets(booster.predict(Xh, raw_score=True, num_iteration=num_iteration), imp_h, clk_h, g_h)
               if len(Xh) else {})
    raw = booster.predict(Xt, raw_score=True, num_iteration=num_iteration) + np.array([offsets.get(g, 0.0) for g in g_t])
    return evaluate(_sigmoid(raw), imp_t, clk_t)


def is_early_stopping_group(ad_group_id, share: float = EARLY_STOPPING_GROUP_SHARE) -> bool:
    """Stable choice of the ad groups early stopping holds out (salted: not the evaluation's holdout)."""
    return zlib.crc32(f"early-stopping|{ad_group_id}".encode("utf-8")) % 1000 < share * 1000


class HeldOutGroupStopping:
    """LightGBM callback: early stopping on ad groups the trees are not fitted on.

    Validation rows of the same ad groups share their served ads with the training rows, so their
    log loss keeps improving while the trees memorise individual ads (a hash bucket, a character
    count that singles out one text). What the model is for is ranking texts it has not been
    fitted on, so it stops on held-out ad groups' validation days, each group's offset fitted on
    its own training days (as `evaluate_with_offsets`).
    """

    def __init__(self, hist: tuple, target: tuple, every: int = CHECK_EVERY, patience: int = PATIENCE):
        self.hist, self.target, self.every, self.patience = hist, target, every, patience
        self.best_iteration, self.best_logloss = 0, float("inf")
        self.order = 30  # after lgb's own callbacks

    def __call__(self, env) -> None:
        import lightgbm as lgb

        it = env.iteration + 1
        if it % self.every and it != env.end_iteration:
            return
        ll = evaluate_with_offsets(env.model, self.hist, self.target, num_iteration=it)["logloss"]
        if ll < self.best_logloss - 1e-12:
            self.best_iteration, self.best_logloss = it, ll
        elif it - self.best_iteration >= self.patience:
            raise lgb.callback.EarlyStopException(
                self.best_iteration - 1, [("held_out_groups", "binary_logloss", self.best_logloss, False)])


class Progress:
    """Lines for people while LightGBM trains: at most one every `seconds` over the whole training
    (several lgb.train calls), with rounds so far, the rate and the best held-out log loss when
    early stopping watches one. Long trainings are not silent."""

    def __init__(self, emit, seconds: float = 10.0):
        import time

        self.emit, self.seconds, self.clock = emit, seconds, time.perf_counter
        self.last = self.clock()

    def callback(self, phase: str, stop: "HeldOutGroupStopping | None" = None):
        started = []  # when this call's first round ended: the rate counts rounds, not set-up

        def report(env) -> None:
            now = self.clock()
            if not started:
                started.append(now)
            if now - self.last < self.seconds or env.iteration == 0:
                return
            self.last = now
            it = env.iteration + 1
            best = (f"; best held-out log loss {stop.best_logloss:.5f} at round {stop.best_iteration}"
                    if stop and stop.best_iteration else "")
            self.emit(f"{phase}: round {it:,} of at most {env.end_iteration:,} "
                      f"({(it - 1) / max(now - started[0], 1e-9):.0f} rounds/s){best}")

        report.order = 40  # after the stopping callbacks
        return report


def _fit_backfitted(params, feature_names, X_train, imp_train, clk_train, groups_train,
                    X_valid, imp_valid, clk_valid, groups_valid, rounds: int, make_stop=None,
                    patience: int | None = None, progress=None, phase: str = "training"):
    """Trees on top of per-group offsets, by backfitting (offsets → trees → offsets → trees).

    Up to `rounds` trees per round; the number kept is chosen by make_stop() (a fresh
    HeldOutGroupStopping per round), or by LightGBM's early stopping on the validation rows with
    `patience`, or is `rounds` when neither is given (then the validation rows are not evaluated).
    Returns (booster, level, raw training scores, the last round's HeldOutGroupStopping or None).
    """
    import lightgbm as lgb

    use_groups = groups_train is not None and groups_valid is not None
    Xt, yt, wt, it = to_binary_rows(X_train, imp_train, clk_train, return_index=True)
    Xv, yv, wv, iv = to_binary_rows(X_valid, imp_valid, clk_valid, return_index=True)
    imp_tr = np.asarray(imp_train, dtype=np.float64)
    clk_tr = np.minimum(np.asarray(clk_train, dtype=np.float64), imp_tr)
    level = float(np.log(clk_tr.sum() / max(imp_tr.sum() - clk_tr.sum(), 1.0)))
    raw_train = np.zeros(len(imp_tr))
    off_t = off_v = None
    booster, stop = None, None
    n_rounds = BACKFIT_ROUNDS if use_groups else 1
    for backfit in range(n_rounds):
        if use_groups:
            offsets = fit_group_offsets(raw_train, imp_train, clk_train, groups_train, prior_mean=level)
            off_t = np.array([offsets[g] for g in groups_train])
            off_v = np.array([offsets.get(g, level) for g in groups_valid])
        dtrain = lgb.Dataset(Xt, yt, weight=wt, feature_name=list(feature_names), free_raw_data=False,
                             init_score=None if off_t is None else off_t[it])
        valid = {}
        if patience:  # the validation rows are evaluated every round only when they decide
            valid = {"valid_sets": [lgb.Dataset(Xv, yv, weight=wv, reference=dtrain,
                                                init_score=None if off_v is None else off_v[iv])],
                     "valid_names": ["valid"]}
        stop = make_stop() if make_stop else None
        cbs = [stop] if stop else [lgb.early_stopping(patience, verbose=False)] if patience else []
        if progress:
            label = f"{phase}, pass {backfit + 1} of {n_rounds}" if n_rounds > 1 else phase
            cbs.append(progress.callback(label, stop))
        booster = lgb.train(params, dtrain, num_boost_round=rounds, callbacks=cbs, **valid)
        best = (stop.best_iteration if stop else booster.best_iteration) or booster.current_iteration()
        booster = lgb.Booster(model_str=booster.model_to_string(num_iteration=best))
        raw_train = booster.predict(X_train, raw_score=True)
    return booster, level, raw_train, stop


def train_ctr_model(
    X_train, imp_train, clk_train, X_valid, imp_valid, clk_valid, feature_names, params=None,
    groups_train=None, groups_valid=None, num_boost_round: int | None = None, progress=None,
) -> TrainResult:
    """Train on weighted click / non-click rows; the number of trees by early stopping.

    With groups (ad group ids per row) the trees are fitted on top of per-group offsets (see
    above) and early stopping holds out EARLY_STOPPING_GROUP_SHARE of the ad groups: the trees
    are fitted on the others, stop where the held-out groups' validation days are best, and the
    model is then refitted on every ad group with that many trees. Validation rows (the most
    recent days) use the offsets fitted on their group's training rows.
    num_boost_round fixes the number of trees (no early stopping). progress(line) hears how far
    training is every few seconds.
    """
    params = {**DEFAULT_PARAMS, **(params or {})}
    params.setdefault("interaction_constraints", interaction_groups(list(feature_names)))
    if progress is not None and not isinstance(progress, Progress):
        progress = Progress(progress)
    use_groups = groups_train is not None and groups_valid is not None
    X_train, X_valid = np.asarray(X_train), np.asarray(X_valid)
    imp_train, clk_train = np.asarray(imp_train), np.asarray(clk_train)
    imp_valid, clk_valid = np.asarray(imp_valid), np.asarray(clk_valid)
    early = {"method": "fixed number of trees" if num_boost_round else "validation rows"}
    rounds = num_boost_round or NUM_BOOST_ROUND
    fixed = bool(num_boost_round)
    if use_groups and not num_boost_round:
        groups_train, groups_valid = np.asarray(groups_train), np.asarray(groups_valid)
        held_t = np.array([is_early_stopping_group(g) for g in groups_train], dtype=bool)
        held_v = np.array([is_early_stopping_group(g) for g in groups_valid], dtype=bool)
        n_held = len(set(groups_valid[held_v]) & set(groups_train[held_t]))
        if n_held >= 2 and (~held_t).any() and (~held_v).any():
            hist = (X_train[held_t], imp_train[held_t], clk_train[held_t], groups_train[held_t])
            target = (X_valid[held_v], imp_valid[held_v], clk_valid[held_v], groups_valid[held_v])
            *_, stop = _fit_backfitted(
                params, feature_names, X_train[~held_t], imp_train[~held_t], clk_train[~held_t],
                groups_train[~held_t], X_valid[~held_v], imp_valid[~held_v], clk_valid[~held_v],
                groups_valid[~held_v], NUM_BOOST_ROUND, make_stop=lambda: HeldOutGroupStopping(hist, target),
                progress=progress, phase="choosing the number of trees on held-out ad groups")
            rounds, fixed = max(stop.best_iteration, 1), True
            early = {"method": "held-out ad groups", "ad_groups": n_held, "rows": int(held_v.sum()),
                     "best_iteration": rounds, "logloss": stop.best_logloss}
    booster, level, raw_train, _ = _fit_backfitted(
        params, feature_names, X_train, imp_train, clk_train, groups_train, X_valid, imp_valid, clk_valid,
        groups_valid, rounds, patience=None if fixed else PATIENCE // 4, progress=progress,
        phase=f"fitting {rounds:,} trees on every ad group" if fixed else "training")
    best = booster.current_iteration()
    intercept = 0.0
    if use_groups:
        # Bake in the level of an average ad group: the offset that fits all training clicks.
        intercept = fit_group_offsets(raw_train, imp_train, clk_train, np.zeros(len(imp_train)),
                                      prior_mean=level, prior_sd=100.0)[0]
        booster = shift_booster(booster, intercept)
    # Keep exactly the trees that are used, so the saved model and predict() agree.
    train_pred = booster.predict(X_train)
    valid_pred = booster.predict(X_valid)
    metrics = {
        "train": evaluate(train_pred, imp_train, clk_train),
        "valid": evaluate(valid_pred, imp_valid, clk_valid),
        "num_trees": int(booster.num_trees()),
        "num_features": len(feature_names),
        "intercept": intercept,
        "early_stopping": early,
    }
    if use_groups:
        metrics["valid_with_group_offsets"] = evaluate_with_offsets(
            booster, (X_train, imp_train, clk_train, groups_train), (X_valid, imp_valid, clk_valid, groups_valid))
    return TrainResult(booster=booster, params=params, metrics=metrics, best_iteration=best,
                       valid_pred=valid_pred, intercept=intercept)
