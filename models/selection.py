"""Which 15 headlines and 4 descriptions of a larger generated pool to submit as the RSA.

What is being maximised. Google serves a responsive search ad by assembling combinations of the
submitted assets and, over time, showing the better ones more. We model that as a softmax over
the submitted set's valid combinations: a combination c is served with probability proportional
to exp(F(c) / SERVING_TEMPERATURE), F the raw score (log-odds). The value of a submitted set is
the expected CTR of a served combination under that model,

    E_tau[CTR] = sum_c sigmoid(F(c)) exp(F(c)/tau) / sum_c exp(F(c)/tau)   over the set's valid combinations.

tau -> infinity is uniform serving (Google before it has learned anything: every combination of
the set counts equally); tau -> 0 is "Google always serves the best combination" (then any set
that contains the pool's best combination is as good as the whole pool, which is why the best
score alone cannot choose a set). How concentrated real serving is, we do not know, so
SERVING_TEMPERATURE = 0.2 is chosen for robustness: on exploration pools (bench.data pools of
seed 99, 40 x 8; not the pools the figures in docs report), the set chosen with tau = 0.2 lost at
most ~7 % of expected CTR against the best set for each serving assumption from tau = 0.02 to
uniform, while sets chosen with tau <= 0.1 fell below a random submission under uniform serving.
Every report also gives the uniform and the best-combination values, the two ends of that range.

Method. Exact evaluation, heuristic search: a set's value is computed exactly from the scorer's
pair tables (its valid combinations under pins, widths and distinctness, enumerated and summed,
at most 15*14*13 x 4*3 = 32,760 per set). The search starts from the assets with the highest
best_with score (models.asset_values) and improves the set by exchanging one asset for one outside
(best exchange per asset, sweeps until none improves or MAX_EVALUATIONS): a local optimum under
single exchanges, which `local_optimum` reports. When the pool has at most MAX_EXHAUSTIVE
possible sets (small pools, tests), every set is evaluated and the optimum is exact.

Pins are honoured: a set keeps at least one of the assets pinned to each position that has pinned
assets (the advertiser pinned them for a reason, and the tables know an asset's value only in the
slots the pool allows it).

Compared with: the whole pool (what serving every candidate would give; a chosen set can beat it,
since it leaves the weak candidates out), a random submission (the mean over RANDOM_SETS seeded random 15 + 4 sets), and the
current set when the caller knows which assets are live now.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field

import numpy as np

from models.tables import PairTables, triple_blocks
from transforms.combinations import (DESCRIPTION_POSITIONS, HEADLINE_POSITIONS, enumerate_factored,
                                     valid_assets)
from transforms.text import DESCRIPTION_MAX_WIDTH, HEADLINE_MAX_WIDTH

MAX_HEADLINES, MAX_DESCRIPTIONS = 15, 4  # what a responsive search ad takes
SERVING_TEMPERATURE = 0.2
MAX_EVALUATIONS = 4000
MAX_EXHAUSTIVE = 3000
RANDOM_SETS = 16


def _sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


@dataclass
class SetValue:
    """The value of one submitted set (or of the whole pool)."""

    expected_ctr: float  # under the softmax serving model (SERVING_TEMPERATURE)
    expected_ctr_uniform: float  # every valid combination served equally
    best_raw: float  # the best combination's raw score
    n_combinations: int

    def as_dict(self) -> dict:
        return {"expected_ctr": self.expected_ctr, "expected_ctr_uniform": self.expected_ctr_uniform,
                "best_raw": self.best_raw, "best_ctr": float(_sigmoid(self.best_raw)),
                "n_combinations": self.n_combinations}


class _Accumulator:
    """Streaming sums for SetValue over score blocks (log-sum-exp for the softmax weights)."""

    def __init__(self, tau: float):
        self.tau, self.n, self.sum_ctr, self.best = tau, 0, 0.0, -np.inf
        self.w_sum, self.w_ctr = 0.0, 0.0  # relative to exp(best / tau)

    def add(self, scores: np.ndarray) -> None:
        s = scores.ravel()
        if not len(s):
            return
        top = float(s.max())
        if top > self.best:
            scale = np.exp((self.best - top) / self.tau) if self.best > -np.inf else 0.0
            self.w_sum *= scale
            self.w_ctr *= scale
            self.best = top
        w = np.exp((s - self.best) / self.tau)
        ctr = _sigmoid(s)
        self.w_sum += float(w.sum())
        self.w_ctr += float((w * ctr).sum())
        self.sum_ctr += float(ctr.sum())
        self.n += len(s)

    def value(self) -> SetValue:
        if not self.n:
            return SetValue(float("nan"), float("nan"), float("nan"), 0)
        return SetValue(float(self.w_ctr / self.w_sum), float(self.sum_ctr / self.n), float(self.best), self.n)


@dataclass
class Selection:
    headline_ids: list
    description_ids: list
    method: str  # "whole pool" (it fits an RSA), "exhaustive" or "local search"
    local_optimum: bool
    evaluations: int
    selected: SetValue
    pool: SetValue  # every valid combination of the whole pool
    random: SetValue | None = None  # mean over RANDOM_SETS random sets
    current: SetValue | None = None
    temperature: float = SERVING_TEMPERATURE
    notes: list = field(default_factory=list)

    def as_dict(self) -> dict:
        return {"headline_ids": list(self.headline_ids), "description_ids": list(self.description_ids),
                "method": self.method, "local_optimum": self.local_optimum, "evaluations": self.evaluations,
                "serving_temperature": self.temperature, "selected": self.selected.as_dict(),
                "pool": self.pool.as_dict(), "random": self.random.as_dict() if self.random else None,
                "current": self.current.as_dict() if self.current else None, "notes": list(self.notes)}


class SetEvaluator:
    """Exact value of any subset of an ad group's pool, from its pair tables."""

    def __init__(self, group, tables: PairTables, tau: float = SERVING_TEMPERATURE):
        self.group, self.tables, self.tau = group, tables, tau
        self.h_ok = valid_assets(group.headline_texts, HEADLINE_MAX_WIDTH, group.headline_pins)
        self.d_ok = valid_assets(group.description_texts, DESCRIPTION_MAX_WIDTH, group.description_pins)
        self.evaluations = 0
        self._cache: dict = {}
        # Usable assets pinned to each position: a set must keep at least one of each.
        self.pinned = [np.flatnonzero(self.h_ok & (np.array(group.headline_pins or [""] * len(self.h_ok)) == pos))
                       for pos in HEADLINE_POSITIONS]
        self.pinned += [np.flatnonzero(self.d_ok & (np.array(group.description_pins or [""] * len(self.d_ok)) == pos))
                        for pos in DESCRIPTION_POSITIONS]

        self._unpinned = not any(len(p) for p in self.pinned)
        self._patterns: dict = {}

    def _pattern(self, n_h: int, n_d: int):
        """Ordered distinct triples of range(n_h) and pairs of range(n_d) (no pins)."""
        if (n_h, n_d) not in self._patterns:
            self._patterns[n_h, n_d] = enumerate_factored([""] * n_h, [""] * n_d)
        return self._patterns[n_h, n_d]

    def keeps_pins(self, h_sel, d_sel) -> bool:
        """Does the set keep at least one usable asset pinned to every position that has some?"""
        h, d = set(int(i) for i in h_sel), set(int(i) for i in d_sel)
        return all(not len(p) or (h if k < 3 else d) & set(p.tolist()) for k, p in enumerate(self.pinned))

    def random_set(self, rng, h_valid, d_valid, n_h: int, n_d: int):
        """A random set of n_h + n_d usable assets that keeps the pins (one pinned asset per
        pinned position, the rest drawn from all)."""
        out = []
        for valid, n, positions in ((h_valid, n_h, range(3)), (d_valid, n_d, range(3, 5))):
            chosen = [int(rng.choice(self.pinned[k])) for k in positions if len(self.pinned[k])]
            rest = [i for i in valid if i not in chosen]
            chosen += [int(i) for i in rng.choice(rest, max(n - len(chosen), 0), replace=False)]
            out.append(chosen[:n])
        return out

    def value(self, h_sel, d_sel) -> SetValue | None:
        """None when the set has no valid combination (too few assets, or pins it cannot fill)."""
        key = (tuple(sorted(int(i) for i in h_sel)), tuple(sorted(int(i) for i in d_sel)))
        if key in self._cache:
            return self._cache[key]
        h_mask = np.zeros(len(self.h_ok), bool)
        h_mask[list(key[0])] = True
        d_mask = np.zeros(len(self.d_ok), bool)
        d_mask[list(key[1])] = True
        if not self.keeps_pins(key[0], key[1]):
            self._cache[key] = None
            return None
        if self._unpinned:  # every set of the same size has the same pattern: map it
            h_idx = np.flatnonzero(self.h_ok & h_mask)
            d_idx = np.flatnonzero(self.d_ok & d_mask)
            triples, pairs = self._pattern(len(h_idx), len(d_idx))
            triples, pairs = h_idx[triples], d_idx[pairs]
        else:
            triples, pairs = enumerate_factored(self.group.headline_pins, self.group.description_pins,
                                                self.h_ok & h_mask, self.d_ok & d_mask)
        self.evaluations += 1
        out = None
        if len(triples):
            acc = _Accumulator(self.tau)
            s_d = self.tables.description_part(pairs)
            for t0, t1 in triple_blocks(len(triples), len(pairs)):
                acc.add(self.tables.block(triples[t0:t1], pairs, s_d))
            out = acc.value()
        self._cache[key] = out
        return out

    def whole_pool(self) -> SetValue:
        g = self.group
        acc = _Accumulator(self.tau)
        s_d = self.tables.description_part(g.pairs)
        for t0, t1 in triple_blocks(len(g.triples), len(g.pairs)):
            acc.add(self.tables.block(g.triples[t0:t1], g.pairs, s_d))
        return acc.value()


def _mean_value(values: list[SetValue]) -> SetValue:
    return SetValue(float(np.mean([v.expected_ctr for v in values])),
                    float(np.mean([v.expected_ctr_uniform for v in values])),
                    float(np.mean([v.best_raw for v in values])), int(np.mean([v.n_combinations for v in values])))


def select_submission(group, tables: PairTables, h_best_with: np.ndarray, d_best_with: np.ndarray,
                      max_headlines: int = MAX_HEADLINES, max_descriptions: int = MAX_DESCRIPTIONS,
                      tau: float = SERVING_TEMPERATURE, current: tuple | None = None,
                      seed: int = 0, max_evaluations: int = MAX_EVALUATIONS,
                      max_exhaustive: int = MAX_EXHAUSTIVE) -> Selection:
    """The set of at most max_headlines + max_descriptions assets to submit (module docstring).

    h_best_with / d_best_with: each asset's best_with score (models.asset_values), the search's
    starting order. current: optional (headline_ids, description_ids) live now, for comparison.
    """
    ev = SetEvaluator(group, tables, tau)
    h_valid = [int(i) for i in np.flatnonzero(ev.h_ok & (h_best_with > -np.inf))]
    d_valid = [int(i) for i in np.flatnonzero(ev.d_ok & (d_best_with > -np.inf))]
    pool = ev.whole_pool()
    notes = []
    n_h, n_d = min(max_headlines, len(h_valid)), min(max_descriptions, len(d_valid))
    if len(h_valid) <= max_headlines and len(d_valid) <= max_descriptions:
        sel = Selection([group.headline_ids[i] for i in h_valid], [group.description_ids[i] for i in d_valid],
                        "whole pool", True, ev.evaluations, pool, pool, temperature=tau)
        return _with_current(sel, ev, group, current)

    def by_value(cands, best_with):
        return sorted(cands, key=lambda i: (-best_with[i], i))

    n_sets = _comb(len(h_valid), n_h) * _comb(len(d_valid), n_d)
    if n_sets <= max_exhaustive:
        best, best_key = None, None
        for hs in itertools.combinations(h_valid, n_h):
            for ds in itertools.combinations(d_valid, n_d):
                v = ev.value(hs, ds)
                if v is not None and (best is None or v.expected_ctr > best.expected_ctr):
                    best, best_key = v, (list(hs), list(ds))
        if best is None:
            raise ValueError(f"no set of {n_h} headlines and {n_d} descriptions has a valid combination")
        method, local_opt = "exhaustive", True
        hs, ds = best_key
    else:
        hs = by_value(h_valid, h_best_with)[:n_h]
        ds = by_value(d_valid, d_best_with)[:n_d]
        if ev.value(hs, ds) is None:
            notes.append("the highest-valued assets alone leave a pinned position empty; started from "
                         "a set that keeps the pinned assets")
            hs, ds = _feasible_start(ev, h_valid, d_valid, n_h, n_d, h_best_with, d_best_with)
        if ev.value(hs, ds) is None:
            raise ValueError(f"found no set of {n_h} headlines and {n_d} descriptions with a valid combination")
        hs, ds, local_opt = _exchange_search(ev, hs, ds, h_valid, d_valid, max_evaluations)
        method = "local search"
        best = ev.value(hs, ds)
    rng = np.random.default_rng(seed)
    randoms = []
    for _ in range(RANDOM_SETS * 4):
        if len(randoms) == RANDOM_SETS:
            break
        v = ev.value(*ev.random_set(rng, h_valid, d_valid, n_h, n_d))
        if v is not None:
            randoms.append(v)
    order_h = sorted(hs, key=lambda i: (-h_best_with[i], i))
    order_d = sorted(ds, key=lambda i: (-d_best_with[i], i))
    sel = Selection([group.headline_ids[i] for i in order_h], [group.description_ids[i] for i in order_d],
                    method, local_opt, ev.evaluations, best, pool,
                    _mean_value(randoms) if randoms else None, temperature=tau, notes=notes)
    return _with_current(sel, ev, group, current)


def _with_current(sel: Selection, ev: SetEvaluator, group, current) -> Selection:
    if current is None:
        return sel
    h_index = {a: i for i, a in enumerate(group.headline_ids)}
    d_index = {a: i for i, a in enumerate(group.description_ids)}
    hs = [h_index[a] for a in current[0] if a in h_index]
    ds = [d_index[a] for a in current[1] if a in d_index]
    sel.current = ev.value(hs, ds)
    if sel.current is None:
        sel.notes.append("the current set has no valid combination")
    return sel


def _comb(n: int, k: int) -> int:
    from math import comb

    return comb(n, k) if 0 <= k <= n else 0


def _feasible_start(ev: SetEvaluator, h_valid, d_valid, n_h, n_d, h_best_with, d_best_with):
    """The best-valued pinned asset of every pinned position, then the rest by value."""
    out = []
    for valid, n, positions, best_with in ((h_valid, n_h, range(3), h_best_with),
                                           (d_valid, n_d, range(3, 5), d_best_with)):
        chosen = []
        for k in positions:
            if len(ev.pinned[k]):
                chosen.append(min(ev.pinned[k].tolist(), key=lambda i: (-best_with[i], i)))
        chosen += [i for i in sorted(valid, key=lambda i: (-best_with[i], i)) if i not in chosen]
        out.append(chosen[:n])
    return out


def _exchange_search(ev: SetEvaluator, hs, ds, h_valid, d_valid, max_evaluations):
    """Best single exchange per selected asset, sweeping until no exchange improves the value."""
    hs, ds = list(hs), list(ds)
    current = ev.value(hs, ds)
    improved = True
    while improved:
        improved = False
        for kind in ("D", "H"):
            sel, valid = (ds, d_valid) if kind == "D" else (hs, h_valid)
            for pos in range(len(sel)):
                best_gain, best_in = 0.0, None
                for cand in valid:
                    if cand in sel:
                        continue
                    if ev.evaluations >= max_evaluations:
                        return hs, ds, False
                    trial = sel[:pos] + [cand] + sel[pos + 1:]
                    v = ev.value(trial, ds) if kind == "H" else ev.value(hs, trial)
                    if v is not None and v.expected_ctr - current.expected_ctr > best_gain + 1e-15:
                        best_gain, best_in = v.expected_ctr - current.expected_ctr, cand
                if best_in is not None:
                    sel[pos] = best_in
                    current = ev.value(hs, ds)
                    improved = True
    return hs, ds, True
