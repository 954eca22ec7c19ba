"""Train the CTR model on served ads (impressions, clicks) and measure it.

The model is one LightGBM booster, a sum of per-position and per-pair terms (the exact scorer
depends on it), built in two stages:

1. A linear base (models.linear_base): penalised logistic regression with an offset per ad group
   on binned features, repetition between two texts only allowed to lower the score, written out
   as one tree per feature. Its penalty is chosen on ad groups held out of fitting.
2. Stumps on its residuals (LightGBM, the base as init_score, interaction constraints), as many as
   the held-out ad groups support (possibly none): the thresholds and bends a linear form misses.

Each served ad becomes two weighted rows for LightGBM: label 1 with weight = clicks and label 0
with weight = impressions - clicks; the binary log loss on those rows is exactly the binomial
likelihood of the ad's clicks, so the model predicts CTR without sampling impressions.

Held-out ad groups: EARLY_STOPPING_GROUP_SHARE of the training ad groups (a salted crc32 of the
id, not the evaluation's holdout) are kept out of fitting while the penalty and the number of
stumps are chosen; each is scored with its own offset fitted on its own rows (what is measured is
how well the texts of a group it never saw are ranked), whatever the validation split is (later
days of the same groups, other ad groups, or none). Then everything is refitted on every group.
"""

from __future__ import annotations

import re
import zlib
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

# Residual stumps (2 leaves, one feature each): the text effects are additive, so a sum of
# one-feature steps is the right shape for what the linear base misses; stumps satisfy the
# interaction constraints trivially and cost one comparison each to score.
DEFAULT_PARAMS: dict = {
    "objective": "binary",
    "learning_rate": 0.1,
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
NUM_BOOST_ROUND = 1000  # cap on residual stumps
# Penalties tried for the linear base (models.linear_base.fit_linear_base); the held-out ad
# groups choose by log loss (the share hardly moved between 0.1 and 0.6 on the tuning worlds;
# on the reported worlds the held-out groups took 2.0 in 19 of 30 runs, the grid's top: docs/model.md).
# Empty: LINEAR_L2_WITHOUT_GROUPS.
LINEAR_L2_GRID: tuple[float, ...] = (0.2, 0.6, 2.0)
LINEAR_L2_WITHOUT_GROUPS = 0.6  # no ad groups to hold out: the middle of the grid
# Rounds of fitting the base beside the training ads' own asset effects (_fit_base); chosen on
# the tuning worlds: the first round gave most of the gain, a second a little more.
ASSET_BACKFIT_ROUNDS = 2
EARLY_STOPPING_GROUP_SHARE = 0.2
MIN_HELD_OUT_GROUPS = 5
CHECK_EVERY = 25
PATIENCE = 200

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

    hist and target are (X, impressions, clicks, groups). This is how the model is used once an
    ad group has delivered. An ad group with no history rows (a validation split of other ad
    groups) gets its offset from its own target rows: one number per group, so what is measured
    is still how the model ranks the texts within it.
    """
    return evaluate_raw_with_offsets(raw_scores(booster, hist[0], num_iteration), hist,
                                     raw_scores(booster, target[0], num_iteration), target)


def raw_scores(booster, X, num_iteration: int | None = None) -> np.ndarray:
    """The booster's raw scores of X's rows; an empty array for no rows, whatever shape an empty X has."""
    return booster.predict(X, raw_score=True, num_iteration=num_iteration) if len(X) else np.zeros(0)


def evaluate_raw_with_offsets(raw_hist: np.ndarray, hist: tuple, raw: np.ndarray, target: tuple) -> dict:
    """evaluate_with_offsets on raw scores already predicted (raw_hist for hist's rows, raw for target's)."""
    _, imp_h, clk_h, g_h = hist
    _, imp_t, clk_t, g_t = target
    offsets = fit_group_offsets(raw_hist, imp_h, clk_h, g_h) if len(raw_hist) else {}
    new = np.array([g not in offsets for g in g_t], dtype=bool)
    if new.any():
        offsets = {**offsets, **fit_group_offsets(raw[new], np.asarray(imp_t)[new], np.asarray(clk_t)[new],
                                                  np.asarray(g_t)[new])}
    raw = raw + np.array([offsets[g] for g in g_t])
    return evaluate(_sigmoid(raw), imp_t, clk_t)


def is_early_stopping_group(ad_group_id, share: float = EARLY_STOPPING_GROUP_SHARE) -> bool:
    """Stable choice of the ad groups early stopping holds out (salted: not the evaluation's holdout)."""
    return zlib.crc32(f"early-stopping|{ad_group_id}".encode("utf-8")) % 1000 < share * 1000




class HeldOutGroupStopping:
    """LightGBM callback: stop the residual stumps where the held-out ad groups are best.

    The held-out groups' rows are scored as base + trees with each group's offset fitted on its
    own rows (held_out_logloss) every `every` rounds; training stops `patience` rounds after the
    best. Validation rows of the same ad groups would share their served ads with the training
    rows and reward memorising individual ads, which says nothing about the texts the scorer ranks.
    """

    def __init__(self, rows: tuple, base: np.ndarray, every: int = CHECK_EVERY, patience: int = PATIENCE,
                 start_logloss: float = float("inf")):
        self.rows, self.base, self.every, self.patience = rows, base, every, patience
        self.best_iteration, self.best_logloss = 0, start_logloss
        self.order = 30  # after lgb's own callbacks

    def __call__(self, env) -> None:
        import lightgbm as lgb

        it = env.iteration + 1
        if it % self.every and it != env.end_iteration:
            return
        X, imp, clk, groups = self.rows
        raw = self.base + env.model.predict(X, raw_score=True, num_iteration=it)
        ll = held_out_logloss(raw, imp, clk, groups)
        if ll < self.best_logloss - 1e-12:
            self.best_iteration, self.best_logloss = it, ll
        elif it - self.best_iteration >= self.patience:
            raise lgb.callback.EarlyStopException(
                max(self.best_iteration - 1, 0), [("held_out_groups", "binary_logloss", self.best_logloss, False)])


def held_out_logloss(raw, impressions, clicks, groups) -> float:
    """Log loss per impression of rows whose ad groups the model was not fitted on, each group's
    offset fitted on its own rows: one number per group, so what counts is the ranking within it."""
    offsets = fit_group_offsets(raw, impressions, clicks, groups)
    z = np.asarray(raw, dtype=np.float64) + np.array([offsets[g] for g in groups])
    return evaluate(_sigmoid(z), np.asarray(impressions), np.asarray(clicks))["logloss"]


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


def _residual_stumps(params, feature_names, X, imp, clk, base, rounds: int, stop=None,
                     valid: tuple | None = None, patience: int | None = None, progress=None,
                     phase: str = "residual stumps"):
    """LightGBM stumps on top of `base` (raw log-odds per row, as init_score). Returns the booster
    cut to the chosen number of trees (None when none were kept) and that number."""
    import lightgbm as lgb

    Xb, yb, wb, ib = to_binary_rows(X, imp, clk, return_index=True)
    dtrain = lgb.Dataset(Xb, yb, weight=wb, feature_name=list(feature_names), free_raw_data=False,
                         init_score=base[ib])
    kwargs, callbacks = {}, [stop] if stop else []
    if valid is not None and patience:  # LightGBM's own early stopping on validation rows
        Xv, yv, wv, iv = to_binary_rows(valid[0], valid[1], valid[2], return_index=True)
        kwargs = {"valid_sets": [lgb.Dataset(Xv, yv, weight=wv, reference=dtrain, init_score=valid[3][iv])],
                  "valid_names": ["valid"]}
        callbacks.append(lgb.early_stopping(patience, verbose=False))
    if progress:
        callbacks.append(progress.callback(phase, stop))
    booster = lgb.train(params, dtrain, num_boost_round=rounds, callbacks=callbacks, **kwargs)
    best = stop.best_iteration if stop else (booster.best_iteration or booster.current_iteration())
    if best <= 0:
        return None, 0
    return lgb.Booster(model_str=booster.model_to_string(num_iteration=best)), best


def _base_raw(base, X, groups, offsets_default: float | None = None):
    """Linear base log-odds of rows plus their ad group's fitted offset (0 for unknown groups)."""
    raw = base.raw(X)
    if groups is None:
        return raw
    return raw + np.array([base.offsets.get(str(g), 0.0 if offsets_default is None else offsets_default)
                           for g in groups])


def _fit_base(X, imp, clk, groups, l2: float, feature_names, ads=None, first=None):
    """The linear base, fitted alongside the training ads' own asset effects when their texts are
    given (ads[i]: the served ad of row i). Returns (base, margin, slot scales, prior sd, tau^2):
    margin[i] is the asset effects' part of row i's log-odds (zeros without ads), tau^2 the
    between-ad variance measured by the fit without them (models.linear_base.between_ad_variance).
    first: that fit when the caller has it already (the held-out penalty grid fitted it).

    Why: an ad's clicks carry its assets' hidden quality (what no text feature sees). Fitted
    alone, the base explains part of that quality with whatever features happen to go with it;
    fitted with per-asset effects beside it (backfitting: base, effects, base, effects, base),
    the quality goes to the effects and the base keeps the text rules. The effects' slot scales
    and prior sd are learnt from the delivery as for the shipped ones (effect_priors), so where
    assets differ more, more of it goes to the effects. The effects are dropped afterwards: the
    bundle's effects are fitted on the final model (models.asset_effects).
    """
    from models.linear_base import fit_linear_base

    base = first if first is not None else fit_linear_base(X, imp, clk, groups, l2, feature_names)
    margin, scales, sd, tau2 = np.zeros(len(imp)), None, None, base.between_ad_var
    if ads is None or ASSET_BACKFIT_ROUNDS <= 0:
        return base, margin, scales, sd, tau2
    from models.asset_effects import AssetEffects, asset_effects, effect_priors, effects_variance

    raw = base.raw(X)
    sd, scales = effect_priors(ads, raw, imp, clk)
    residual_var = max(0.0, tau2 - effects_variance(ads, sd, scales))
    for _ in range(ASSET_BACKFIT_ROUNDS):
        margin = AssetEffects(asset_effects(ads, raw, imp, clk, sd, scales)).for_ads(ads)
        base = fit_linear_base(X, imp, clk, groups, l2, feature_names, margin=margin, between_ad_var=residual_var)
        raw = base.raw(X)
    return base, margin, scales, sd, tau2


def train_ctr_model(
    X_train, imp_train, clk_train, X_valid, imp_valid, clk_valid, feature_names, params=None,
    groups_train=None, groups_valid=None, num_boost_round: int | None = None,
    l2_grid: tuple[float, ...] | None = None, ads_train=None, progress=None,
) -> TrainResult:
    """Linear base + residual stumps (module docstring), one LightGBM booster.

    With ad group ids (groups_train), the base has an offset per ad group and the penalty
    (l2_grid, default LINEAR_L2_GRID) and the number of stumps are chosen on held-out ad groups;
    the validation rows (any split, possibly other ad groups or empty) only measure. Without
    groups there is one offset, the penalty is LINEAR_L2_WITHOUT_GROUPS and the stumps stop on
    the validation rows. num_boost_round fixes the number of stumps (no early stopping).
    ads_train (the served ad of each training row: ad_group_id and its five texts) lets the base
    and the stumps learn beside the assets' own effects (_fit_base). progress(line) hears how far
    the stumps are every few seconds (the linear base takes seconds).
    """
    from models.linear_base import booster_tree_blocks, fit_linear_base, to_booster

    if len(imp_train) == 0:
        raise ValueError("no training rows: the validation split took every served ad; plan the split "
                         "with models.split (it keeps both sides non-empty)")
    params = {**DEFAULT_PARAMS, **(params or {})}
    params.setdefault("interaction_constraints", interaction_groups(list(feature_names)))
    if progress is not None and not isinstance(progress, Progress):
        progress = Progress(progress)
    grid = LINEAR_L2_GRID if l2_grid is None else l2_grid
    X_train, X_valid = np.asarray(X_train), np.asarray(X_valid)
    imp_train, clk_train = np.asarray(imp_train), np.asarray(clk_train)
    imp_valid, clk_valid = np.asarray(imp_valid), np.asarray(clk_valid)
    use_groups = groups_train is not None
    g_train = np.asarray(groups_train).astype(str) if use_groups else np.zeros(len(imp_train), dtype=str)
    g_valid = (np.asarray(groups_valid).astype(str) if groups_valid is not None
               else np.zeros(len(imp_valid), dtype=str))
    early: dict = {"method": "fixed number of trees" if num_boost_round else "validation rows"}
    l2 = LINEAR_L2_WITHOUT_GROUPS
    rounds = num_boost_round or NUM_BOOST_ROUND
    fixed = bool(num_boost_round)

    held = np.array([is_early_stopping_group(g) for g in g_train], dtype=bool) if use_groups else None
    n_held = len(set(g_train[held])) if use_groups else 0
    if use_groups and n_held >= MIN_HELD_OUT_GROUPS and (~held).any():
        # Choose the penalty, then the number of stumps, on groups kept out of fitting.
        fit_rows = (X_train[~held], imp_train[~held], clk_train[~held])
        held_rows = (X_train[held], imp_train[held], clk_train[held], g_train[held])
        scores = {}
        bases = {}
        for lam in (grid or (LINEAR_L2_WITHOUT_GROUPS,)):
            bases[lam] = fit_linear_base(*fit_rows, g_train[~held], lam, feature_names)
            scores[lam] = held_out_logloss(bases[lam].raw(held_rows[0]), *held_rows[1:])
        l2 = min(scores, key=scores.get)
        early = {"method": "held-out ad groups", "ad_groups": n_held, "rows": int(held.sum()),
                 "linear_l2": l2, "linear_logloss": {str(k): v for k, v in scores.items()}}
        if not fixed and NUM_BOOST_ROUND > 0:
            ads_fit = None if ads_train is None else [a for a, h in zip(ads_train, held) if not h]
            base_fit, margin_fit, *_ = _fit_base(*fit_rows, g_train[~held], l2, feature_names, ads_fit,
                                                 first=bases[l2])
            held_base = base_fit.raw(held_rows[0])
            stop = HeldOutGroupStopping(held_rows, held_base, start_logloss=held_out_logloss(held_base, *held_rows[1:]))
            _, rounds = _residual_stumps(params, feature_names, *fit_rows,
                                         _base_raw(base_fit, fit_rows[0], g_train[~held]) + margin_fit,
                                         NUM_BOOST_ROUND, stop=stop, progress=progress,
                                         phase="choosing the number of stumps on held-out ad groups")
            fixed = True
            early.update(best_iteration=rounds, logloss=stop.best_logloss)
    base, margin, scales, prior_sd, tau2 = _fit_base(X_train, imp_train, clk_train, g_train, l2, feature_names, ads_train)
    raw_base = _base_raw(base, X_train, g_train) + margin
    stumps = None
    if not fixed and not len(imp_valid):
        rounds = 0  # nothing to tell how many stumps the data supports: the linear base alone
        early = {"method": "no validation rows: no stumps"}
    if rounds > 0:
        valid = None
        if not fixed:
            # no groups to hold out: LightGBM's early stopping on the validation rows
            valid = (X_valid, imp_valid, clk_valid, _base_raw(base, X_valid, g_valid, offsets_default=0.0))
        stumps, rounds = _residual_stumps(params, feature_names, X_train, imp_train, clk_train, raw_base,
                                          rounds, valid=valid, patience=None if fixed else PATIENCE,
                                          progress=progress,
                                          phase=f"fitting {rounds:,} stumps on every ad group" if fixed else "residual stumps")
    booster = to_booster(base, list(feature_names), booster_tree_blocks(stumps) if stumps is not None else [])
    # Bake in the level of an average ad group: the constant that makes the booster alone fit all
    # training clicks. The base's intercept is already that level; this removes what stumps moved.
    intercept = fit_group_offsets(booster.predict(X_train, raw_score=True), imp_train, clk_train,
                                  np.zeros(len(imp_train)), prior_sd=100.0)[0]
    booster = shift_booster(booster, intercept)
    train_pred = booster.predict(X_train)
    valid_pred = booster.predict(X_valid) if len(X_valid) else np.empty(0)
    metrics = {
        "train": evaluate(train_pred, imp_train, clk_train),
        "valid": evaluate(valid_pred, imp_valid, clk_valid) if len(X_valid) else {},
        "num_trees": int(booster.num_trees()),
        "linear_trees": int(booster.num_trees() - (stumps.num_trees() if stumps is not None else 0)),
        "residual_stumps": int(stumps.num_trees()) if stumps is not None else 0,
        "linear_l2": l2,
        # sd of a served ad's log-odds around the model that impressions do not average away; it
        # caps each ad's weight in the linear base (models.linear_base.ad_weights)
        "between_ad_sd": round(float(np.sqrt(tau2)), 4),
        "between_ad_sd_beside_effects": round(float(np.sqrt(base.between_ad_var)), 4),
        "asset_backfit": {"rounds": ASSET_BACKFIT_ROUNDS if ads_train is not None else 0,
                          "slot_scales": None if scales is None else [round(float(x), 4) for x in scales],
                          "prior_sd": prior_sd},
        "num_features": len(feature_names),
        "intercept": intercept,
        "early_stopping": early,
    }
    if use_groups and len(X_valid):
        metrics["valid_with_group_offsets"] = evaluate_with_offsets(
            booster, (X_train, imp_train, clk_train, g_train), (X_valid, imp_valid, clk_valid, g_valid))
    return TrainResult(booster=booster, params={**params, "linear_l2": l2}, metrics=metrics,
                       best_iteration=int(rounds), valid_pred=valid_pred, intercept=intercept)
