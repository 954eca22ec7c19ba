"""Drift statistics: population stability index, Kolmogorov–Smirnov, coverage rates.

Pure functions on arrays; the Dagster assets decide what to compare and when to alert.
Thresholds (documented in docs/monitoring.md) follow common practice for PSI: below 0.1 stable,
0.1–0.25 a moderate shift worth a look, above 0.25 a shift that invalidates the model's inputs.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import stats

PSI_WARN, PSI_ERROR = 0.1, 0.25
KS_WARN, KS_ERROR = 0.1, 0.2
OOV_WARN, OOV_ERROR = 0.02, 0.05
# Score drift must also be significant (KS p-value below this) to count: small samples are noisy.
SCORE_DRIFT_P = 0.01


def psi(expected: np.ndarray, actual: np.ndarray, bins: int = 10, eps: float = 1e-4) -> float:
    """Population stability index of `actual` against `expected`, on expected's quantile bins.

    Discrete features (few distinct values) get one bin per value, so a 0/1 flag is compared
    as a proportion instead of collapsing into one quantile bin.
    """
    expected = np.asarray(expected, dtype=np.float64)
    actual = np.asarray(actual, dtype=np.float64)
    if len(expected) == 0 or len(actual) == 0:
        return float("nan")
    values = np.unique(expected)
    if len(values) <= bins:
        edges = np.concatenate([[-np.inf], (values[:-1] + values[1:]) / 2, [np.inf]])
    else:
        edges = np.unique(np.quantile(expected, np.linspace(0, 1, bins + 1)))
        edges[0], edges[-1] = -np.inf, np.inf
    e = np.histogram(expected, edges)[0] / len(expected)
    a = np.histogram(actual, edges)[0] / len(actual)
    e, a = np.clip(e, eps, None), np.clip(a, eps, None)
    return float(np.sum((a - e) * np.log(a / e)))


def ks(expected: np.ndarray, actual: np.ndarray) -> float:
    if len(expected) == 0 or len(actual) == 0:
        return float("nan")
    return float(stats.ks_2samp(expected, actual).statistic)


def ks_pvalue(expected: np.ndarray, actual: np.ndarray) -> float:
    """Two-sample KS p-value: how likely a difference this large is between samples of one
    distribution. PSI alone has no notion of sample size: on ~100 vs ~200 scores, ten quantile
    bins give a PSI of ~0.1 with no drift at all, and past 0.25 often enough to page people."""
    if len(expected) == 0 or len(actual) == 0:
        return float("nan")
    return float(stats.ks_2samp(expected, actual).pvalue)


def severity(value: float, warn: float, error: float) -> str:
    if not np.isfinite(value):
        return "ok"
    return "error" if value >= error else "warn" if value >= warn else "ok"


@dataclass(frozen=True)
class FeatureDrift:
    feature: str
    psi: float
    ks: float
    severity: str


def feature_drift(names: list[str], expected: np.ndarray, actual: np.ndarray) -> list[FeatureDrift]:
    """Per-column PSI and KS; the severity is the worse of the two."""
    out = []
    for j, name in enumerate(names):
        p, k = psi(expected[:, j], actual[:, j]), ks(expected[:, j], actual[:, j])
        levels = [severity(p, PSI_WARN, PSI_ERROR), severity(k, KS_WARN, KS_ERROR)]
        worst = "error" if "error" in levels else "warn" if "warn" in levels else "ok"
        # KS on a discrete column flags tiny proportion changes; PSI alone decides for those.
        if len(np.unique(expected[:, j])) <= 10:
            worst = levels[0]
        out.append(FeatureDrift(name, p, k, worst))
    return out


def oov_rate(piece_ids: list[list[int]], unk_id: int) -> float:
    """Share of tokens the tokenizer could not cover (mapped to <unk>)."""
    total = sum(len(ids) for ids in piece_ids)
    if total == 0:
        return 0.0
    return sum(ids.count(unk_id) for ids in piece_ids) / total


def empty_rate(texts: list[str]) -> float:
    if not texts:
        return 0.0
    return sum(1 for t in texts if not (t or "").strip()) / len(texts)
