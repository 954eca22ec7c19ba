"""The linear base of the CTR model, written out as LightGBM trees so scoring stays one exact booster.

Why a linear base: the text rules are mostly additive and close to linear in the features (an
appeal in a slot adds to the log-odds; two near-duplicate texts lose in proportion to their
similarity). A penalised logistic regression with ad-group offsets fits that shape with much less
data than boosted stumps: on the worlds the defaults were chosen on it captured 3-4 more points of
the oracle's lift (docs/model.md). Repetition is known to hurt, so the similarity features of a
pair (token and bigram Jaccard, shared tokens, numbers and appeals) may only lower the score
(a sign constraint, the linear form of a monotone constraint).

Shapes: a rule is not always a straight line. A very short headline says too little and one at
the width limit risks truncation, so the log-odds over a width rises and falls; a count can
saturate. Every feature with at least SHAPE_MIN_BINS bins (the repetition features keep their
sign constraint instead) therefore also gets one deviation per bin from its straight line, with a
penalty on the differences between neighbouring bins (a random-walk prior: a bend needs the
data of several bins to show, so one noisy bin does not make one) and a small ridge (the level
belongs to the intercept). It is a GAM in the binned features; the leaves of the feature's tree
hold line plus deviation, so the booster is still exactly the fitted model. On the tuning worlds
it raised the text-only share in 11 of 12 runs (docs/model.md) and left fewer thresholds to the
residual stumps.

Why trees: the bundle, the exact pair-table scorer (models.pairwise) and the checks understand a
LightGBM booster. The regression is therefore fitted on *binned* features: each feature is replaced
by the mean of its bin (at most MAX_BINS bins, cut from the training values), and each feature with
a coefficient becomes one tree whose leaves are its bins. The booster is then exactly the fitted
model, not an approximation of it, and every tree reads the one position or pair of positions its
feature belongs to. Values outside the training range fall in the first or last bin (the linear
effect is not extrapolated).

Pure numpy/scipy; LightGBM only to parse the model text it is given.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Sequence

import numpy as np

MAX_BINS = 64  # leaves per feature tree: depth 6, ~6 comparisons per tree and row
# Pair features that measure repetition between two texts: their coefficients must be <= 0.
REPETITION_FEATURES = ("jaccard", "char_bigram_jaccard", "shared_tokens", "shared_number", "shared_appeals")
# Per-bin deviations (see the module's docstring): features with at least this many bins get
# them; their penalty is SHAPE_SMOOTHING x the coefficients' one on each difference between
# neighbouring bins plus SHAPE_RIDGE x it on each deviation. Chosen on the tuning worlds
# (smoothing 3, 10 and 30 within 0.1 points of each other, 100 worse; docs/model.md).
SHAPE_MIN_BINS = 8
SHAPE_SMOOTHING = 10.0
SHAPE_RIDGE = 1.0
# Rounds of measuring the between-ad variance and refitting with its weights (fit_linear_base).
TAU_ROUNDS = 2


@dataclass
class Binning:
    """Per feature: thresholds t (x <= t[k] falls in bin k or lower) and each bin's mean value."""

    thresholds: list[np.ndarray]
    values: list[np.ndarray]

    @classmethod
    def fit(cls, X: np.ndarray, max_bins: int = MAX_BINS) -> "Binning":
        X = np.asarray(X, dtype=np.float32)
        thresholds, values = [], []
        for j in range(X.shape[1]):
            v = np.sort(X[:, j].astype(np.float64))
            distinct = np.unique(v)
            if len(distinct) <= max_bins:
                thr = (distinct[:-1] + distinct[1:]) / 2.0
            else:  # quantile cuts, each between two distinct training values
                cuts = np.unique(np.quantile(v, np.linspace(0.0, 1.0, max_bins + 1)[1:-1], method="lower"))
                upper = distinct[np.minimum(np.searchsorted(distinct, cuts, side="right"), len(distinct) - 1)]
                thr = np.unique((cuts + upper) / 2.0)
                thr = thr[thr < distinct[-1]]
            idx = np.searchsorted(thr, v, side="left")  # x <= t goes left: bin = #thresholds below x
            sums = np.bincount(idx, v, len(thr) + 1)
            counts = np.bincount(idx, minlength=len(thr) + 1)
            # every bin holds at least one training value by construction
            thresholds.append(thr)
            values.append(sums / np.maximum(counts, 1))
        return cls(thresholds, values)

    def index(self, X: np.ndarray, j: int) -> np.ndarray:
        """The bin of each row's value of feature j."""
        x = np.asarray(X[:, j], dtype=np.float32).astype(np.float64)
        return np.searchsorted(self.thresholds[j], x, side="left")

    def transform(self, X: np.ndarray) -> np.ndarray:
        """Each value replaced by its bin's mean (what the compiled trees see)."""
        X = np.asarray(X, dtype=np.float32)
        out = np.empty(X.shape, dtype=np.float64)
        for j, val in enumerate(self.values):
            out[:, j] = val[self.index(X, j)]
        return out


@dataclass
class LinearBase:
    """raw(X) = intercept + sum_j (coef[j] * binned(X)[:, j] + deviations[j][bin of X[:, j]]);
    offsets: per ad group, fitted alongside."""

    binning: Binning
    coef: np.ndarray  # per raw feature unit
    intercept: float
    offsets: dict
    l2: float
    deviations: dict[int, np.ndarray] = field(default_factory=dict)  # feature -> one per bin
    between_ad_var: float = 0.0  # tau^2 the rows were weighted with (between_ad_variance)

    def raw(self, X: np.ndarray) -> np.ndarray:
        out = self.intercept + self.binning.transform(X) @ self.coef
        for j, d in self.deviations.items():
            out = out + d[self.binning.index(X, j)]
        return out


def repetition_mask(feature_names: Sequence[str]) -> np.ndarray:
    """True for the pair features whose coefficient must not be positive."""
    out = []
    for name in feature_names:
        prefix, _, feature = name.partition("__")
        out.append("_" in prefix and feature in REPETITION_FEATURES)
    return np.array(out, dtype=bool)


def shape_features(binning: Binning, live: np.ndarray, nonpositive: np.ndarray) -> list[int]:
    """The features that get per-bin deviations: enough bins to have a shape, and no sign constraint."""
    return [j for j in range(len(live))
            if live[j] and not nonpositive[j] and len(binning.thresholds[j]) + 1 >= SHAPE_MIN_BINS]


def _shape_design(binning: Binning, X: np.ndarray, features: Sequence[int]):
    """(S, P, starts): S (rows x bins of all `features`) one-hot of each row's bin per feature;
    P the deviations' penalty matrix (SHAPE_SMOOTHING x squared neighbour differences within a
    feature + SHAPE_RIDGE x identity); starts[j] the first column of feature j."""
    import scipy.sparse as sparse

    n = len(X)
    starts, columns, diffs = {}, [], []
    width = 0
    for j in features:
        bins = len(binning.thresholds[j]) + 1
        starts[j] = width
        columns.append(width + binning.index(X, j))
        diffs.append(sparse.eye(bins - 1, bins, k=1) - sparse.eye(bins - 1, bins))
        width += bins
    if not features:
        return sparse.csr_matrix((n, 0)), sparse.csr_matrix((0, 0)), starts
    S = sparse.csr_matrix((np.ones(n * len(features)), (np.tile(np.arange(n), len(features)), np.concatenate(columns))),
                          shape=(n, width))
    D = sparse.block_diag(diffs)
    P = (SHAPE_SMOOTHING * (D.T @ D) + SHAPE_RIDGE * sparse.identity(width)).tocsr()
    return S, P, starts


def _profile_offsets(eta, imp, clk, inv, n_groups: int, prec: float, offsets: np.ndarray) -> np.ndarray:
    """Each ad group's MAP offset given the linear part eta (Newton per group, vectorised)."""
    for _ in range(30):
        p = 1.0 / (1.0 + np.exp(-(eta + offsets[inv])))
        grad = np.bincount(inv, clk - imp * p, n_groups) - prec * offsets
        hess = np.bincount(inv, imp * p * (1.0 - p), n_groups) + prec
        step = np.clip(grad / hess, -2.0, 2.0)
        offsets = offsets + step
        if np.max(np.abs(step)) < 1e-10:
            break
    return offsets


def between_ad_variance(impressions, clicks, p) -> float:
    """tau^2: the variance of a served ad's log-odds around the model that more impressions do not
    average away (hidden quality the features cannot see, day-to-day audience mix), by the method
    of moments: Var(clicks) = n p (1 - p) + tau^2 (n p (1 - p))^2 (the delta method), summed over
    the rows, p each row's fitted CTR. 0 when the clicks scatter no more than binomial."""
    n = np.asarray(impressions, dtype=np.float64)
    v = n * p * (1.0 - p)
    excess = np.sum((np.asarray(clicks, dtype=np.float64) - n * p) ** 2 - v)
    return float(max(0.0, excess / max(np.sum(v * v), 1e-300)))


def ad_weights(impressions, p, between_ad_var: float) -> np.ndarray:
    """Each row's share of its binomial information that is real: 1 / (1 + tau^2 n p (1 - p)).

    A served ad's clicks estimate its CTR to within the binomial noise *and* tau; once the
    binomial part is small (many impressions), more impressions add nothing, so an ad with a
    million impressions must not outweigh a hundred ads with ten thousand each (the inverse-
    variance weights of a random-effects meta-analysis)."""
    n = np.asarray(impressions, dtype=np.float64)
    return 1.0 / (1.0 + between_ad_var * n * p * (1.0 - p))


def fit_linear_base(X, impressions, clicks, groups, l2: float, feature_names: Sequence[str],
                    group_sd: float = 0.5, binning: Binning | None = None,
                    max_iter: int = 1000, margin: np.ndarray | None = None,
                    between_ad_var: float | None = None) -> LinearBase:
    """Penalised logistic regression of clicks with an offset per ad group (Normal(0, group_sd)
    prior), on binned, standardised features, with per-bin deviations d for the features that
    have a shape (shape_features). Objective: mean log loss per impression plus
    l2 / n / 2 * (|w|^2 + d'Pd), w the standardised coefficients, n the number of served-ad rows,
    P the deviations' penalty (_shape_design); repetition features constrained to w <= 0.

    Why per served ad and not per impression: what the texts' effects are learnt from is the
    contrast between served ads, and an ad's CTR carries its assets' hidden quality, which more
    days of the same ads do not average away. So the shrinkage follows the number of served ads:
    fewer ads (a small account), more shrinkage; a longer history of the same ads, the same.

    L-BFGS-B over the coefficients with the offsets profiled out: for every coefficient vector the
    offsets are solved exactly (a Newton step per group), and by the envelope theorem the gradient
    is the partial one at those offsets. A few hundred coefficients and a few thousand deviations
    (on `base30`: 167 shaped features, 5,517 deviations), instead of one unknown per ad group
    besides them, which the optimiser handles badly.

    Rows are weighted by ad_weights: binomial information per impression, capped by the
    between-ad variance tau^2 (between_ad_variance), so the largest ads do not drown the rest.
    between_ad_var None measures tau^2 around the fit and refits with its weights, TAU_ROUNDS
    times (three fits); a number uses that tau^2 (0: plain binomial weights, one fit; else two,
    the first for each row's p). Fits beside the training ads' own effects (margin) are given
    what those effects leave of the tau^2 measured without them
    (models.asset_effects.effects_variance): measured there it would come out ~0, the effects
    being fitted on the same ads.
    """
    from scipy.optimize import minimize

    binning = binning or Binning.fit(X)
    R = binning.transform(X)
    mean, scale = R.mean(0), R.std(0)
    live = scale > 0  # a constant feature has nothing to say
    scale = np.where(live, scale, 1.0)
    Z = (R - mean) / scale
    keys, inv = np.unique(np.asarray(groups).astype(str), return_inverse=True)
    n_g, n_f = len(keys), Z.shape[1]
    imp = np.asarray(impressions, dtype=np.float64)
    clk = np.minimum(np.asarray(clicks, dtype=np.float64), imp)
    total = max(imp.sum(), 1.0)
    lam = l2 / max(len(imp), 1)
    prec_g = 1.0 / group_sd**2
    state = {"offsets": np.zeros(n_g)}

    fixed = np.zeros(len(imp)) if margin is None else np.asarray(margin, dtype=np.float64)
    nonpositive = repetition_mask(feature_names)
    shaped = shape_features(binning, live, nonpositive)
    S, P, starts = _shape_design(binning, X, shaped)
    n_d = S.shape[1]

    def objective(theta):
        w, b, d = theta[:n_f], theta[n_f], theta[n_f + 1:]
        eta = fixed + b + Z @ w + S @ d
        o = state["offsets"] = _profile_offsets(eta, imp, clk, inv, n_g, prec_g, state["offsets"])
        z = state["z"] = eta + o[inv]
        r = clk - imp / (1.0 + np.exp(-z))
        Pd = P @ d
        loss = ((-np.sum(clk * z - imp * np.logaddexp(0.0, z)) + 0.5 * prec_g * (o @ o)) / total
                + 0.5 * lam * (w @ w + d @ Pd))
        grad = np.concatenate([-(Z.T @ r) / total + lam * w, [-r.sum() / total], -(S.T @ r) / total + lam * Pd])
        return loss, grad

    bounds = [(0.0, 0.0) if not live[j] else (None, 0.0) if nonpositive[j] else (None, None) for j in range(n_f)]
    bounds += [(None, None)] * (1 + n_d)

    def solve(theta):
        return minimize(objective, theta, jac=True, method="L-BFGS-B", bounds=bounds,
                        options={"maxiter": max_iter, "maxfun": 2 * max_iter, "gtol": 1e-8, "ftol": 1e-12}).x

    imp_all, clk_all = imp, clk
    theta = np.zeros(n_f + 1 + n_d)
    theta[n_f] = np.log(max(clk.sum(), 0.5) / max(total - clk.sum(), 0.5))

    def fitted_p(theta):
        objective(theta)  # sets the offsets and the rows' log-odds
        return 1.0 / (1.0 + np.exp(-state["z"]))

    tau2 = between_ad_var
    # The weights need each row's p (its own CTR is too noisy): a plain binomial fit first. Then
    # tau^2 is measured twice: around the plain fit it comes out low (there an ad group's largest
    # ad pulls the group's offset onto itself and hides its own scatter), around the weighted fit
    # close to the truth (tests/models/test_linear_base.py); further rounds hardly move it.
    for _ in range(0 if tau2 == 0 else 1 if tau2 is not None else TAU_ROUNDS):
        theta = solve(theta)
        p = fitted_p(theta)
        if between_ad_var is None:
            tau2 = between_ad_variance(imp_all, clk_all, p)
        c = ad_weights(imp_all, p, tau2)
        imp, clk = imp_all * c, clk_all * c  # the objective reads these
        total = max(imp.sum(), 1.0)
    x = solve(theta)
    w, b = x[:n_f], x[n_f]
    objective(x)  # the offsets of the returned coefficients
    coef = np.where(live, w / scale, 0.0)
    intercept = float(b - coef @ mean)
    offsets = dict(zip(keys.tolist(), state["offsets"].tolist()))
    d = x[n_f + 1:]
    deviations = {j: d[starts[j]:starts[j] + len(binning.thresholds[j]) + 1].copy() for j in shaped}
    return LinearBase(binning, coef, intercept, offsets, l2, deviations, float(tau2))


# ---- LightGBM model text ---------------------------------------------------------------------


def _tree_text(index: int, feature: int, thresholds: np.ndarray, leaves: np.ndarray) -> str:
    """One balanced tree splitting only on `feature`: leaf k holds leaves[k] for
    thresholds[k-1] < x <= thresholds[k]."""
    n_leaves = len(leaves)
    split_feature, threshold, left, right = [], [], [], []

    def build(lo: int, hi: int) -> int:
        """Node for leaves lo..hi (inclusive); returns its child reference."""
        if lo == hi:
            return ~lo  # LightGBM: a negative child is ~leaf_index
        node = len(split_feature)
        mid = (lo + hi) // 2  # leaves lo..mid go left: x <= thresholds[mid]
        split_feature.append(feature)
        threshold.append(float(thresholds[mid]))
        left.append(0)
        right.append(0)
        left[node] = build(lo, mid)
        right[node] = build(mid + 1, hi)
        return node

    build(0, n_leaves - 1)
    n_int = len(split_feature)

    def join(xs):
        return " ".join(repr(x) if isinstance(x, float) else str(x) for x in xs)

    return "\n".join([
        f"Tree={index}",
        f"num_leaves={n_leaves}",
        "num_cat=0",
        f"split_feature={join(split_feature)}",
        f"split_gain={join([0] * n_int)}",
        f"threshold={join(threshold)}",
        f"decision_type={join([2] * n_int)}",
        f"left_child={join(left)}",
        f"right_child={join(right)}",
        f"leaf_value={join([float(v) for v in leaves])}",
        f"leaf_weight={join([0] * n_leaves)}",
        f"leaf_count={join([0] * n_leaves)}",
        f"internal_value={join([0] * n_int)}",
        f"internal_weight={join([0] * n_int)}",
        f"internal_count={join([0] * n_int)}",
        "is_linear=0",
        "shrinkage=1",
        "", "",
    ])


def tree_blocks(base: LinearBase) -> list[str]:
    """Model-text blocks (numbered from 0) of one tree per feature with a coefficient or
    deviations; the intercept is added to the leaves of the first one."""
    blocks = []
    intercept = base.intercept
    for j in sorted(set(np.flatnonzero(base.coef != 0).tolist()) | set(base.deviations)):
        thr, val = base.binning.thresholds[j], base.binning.values[j]
        if len(thr) == 0:
            continue
        leaves = base.coef[j] * val + base.deviations.get(j, 0.0) + (intercept if not blocks else 0.0)
        blocks.append(_tree_text(len(blocks), int(j), thr, leaves))
    return blocks


def header_text(feature_names: Sequence[str]) -> str:
    return "\n".join([
        "tree", "version=v4", "num_class=1", "num_tree_per_iteration=1", "label_index=0",
        f"max_feature_idx={len(feature_names) - 1}", "objective=binary sigmoid:1",
        f"feature_names={' '.join(feature_names)}",
        f"feature_infos={' '.join(['none'] * len(feature_names))}", "", "",
    ])


def renumber(blocks: Sequence[str], start: int = 0) -> list[str]:
    """Tree blocks (each starting with its 'Tree=i' line) renumbered from `start`."""
    return [f"Tree={start + k}\n" + b.split("\n", 1)[1] for k, b in enumerate(blocks)]


def model_text(feature_names: Sequence[str], blocks: Sequence[str]) -> str:
    if not blocks:
        raise ValueError("a model needs at least one tree")
    body = "".join(b if b.endswith("\n\n") else b + "\n\n" for b in renumber(blocks))
    return header_text(feature_names) + body + "end of trees\n\npandas_categorical:null\n"


def booster_tree_blocks(booster) -> list[str]:
    """The tree blocks of a trained LightGBM booster's model text, in order."""
    import re

    text = booster.model_to_string()
    start, end = text.index("Tree=0\n"), text.index("end of trees")
    return [b for b in re.split(r"(?m)^(?=Tree=\d+\n)", text[start:end]) if b.strip()]


def to_booster(base: LinearBase, feature_names: Sequence[str], extra_blocks: Sequence[str] = ()):
    """One LightGBM booster: the linear base's trees followed by extra trees (e.g. stumps fitted
    on its residuals, from booster_tree_blocks)."""
    import lightgbm as lgb

    blocks = tree_blocks(base) + list(extra_blocks)
    if not blocks:  # nothing was learnt: a single leaf holding the intercept
        blocks = [_tree_text(0, 0, np.empty(0), np.array([base.intercept]))]
    return lgb.Booster(model_str=model_text(feature_names, blocks))
