"""Exact scoring of every combination of an ad group from small per-position-pair tables.

Why it is exact. The production model is trained with interaction constraints (each position
alone, each pair of positions with its pair features), so every root-to-leaf path of every tree
reads features of at most two positions. A leaf's indicator is then a function of at most two
positions and the raw score (a sum of leaf values) is exactly

    F(c) = sum_p u_p(c_p) + sum_{p<q} w_pq(c_p, c_q)        (n = 5 positions).

For any such function and any reference combination r, inclusion-exclusion gives

    F(c) = sum_{p<q} F(r | p<-c_p, q<-c_q) - (n-2) sum_p F(r | p<-c_p) + C(n-1, 2) F(r),

so the scores of all T x P valid combinations follow from the model's values on the "probe"
combinations around r: about 1,100 feature rows for a 15 x 4 pool instead of 32,760, then a
vectorised gather-sum over float64 tables. Probe rows come from the same `combination_features`
gather as every other row (a probe may repeat an asset; the identity does not care).

The identity is linear in F, so it holds per group of trees too. Trees are grouped by the set P of
positions they read anywhere (a tree may read more than two positions across its branches; each
path still reads at most two), each group is a booster of its own (split from the model text,
checked to add up), and a group is evaluated only on the probes over P: a tree reading h1 and h2
costs the 15 x 14 (h1, h2) probes, not all ~1,100.

Guards. At load, every leaf path of the dump is checked to read at most two positions (a path
reading a feature that belongs to no position, or to three or more, makes the bundle
non-decomposable and the scorer falls back to plain Booster.predict blocks, logging why). At
run time, the top-K candidates and a few sampled rows of every ad group are re-scored with
Booster.predict in the same call as the probes: the published scores are Booster.predict's own
values, the top-K equals brute force (ties to the lower enumeration index), and a decomposition
error above the candidate margin sends that ad group to the exact fallback.
"""

from __future__ import annotations

import logging
import re
import time
from dataclasses import dataclass, field
from typing import Sequence

import numpy as np

from models.asset_effects import combination_effects
from models.asset_values import BestPerTripleAndPair
from models.diverse import block_mask, greedy
from models.insight_options import InsightOptions
from models.tables import N_POSITIONS, POSITION_NAMES, PairTables, pair_support, same_kind, triple_blocks
from models.topk import StreamingTop, top_k_indices

log = logging.getLogger(__name__)

# Candidates whose decomposed score is within MARGIN of the K-th best are re-scored exactly.
# The assembled sums differ from Booster.predict by ~1e-14; verification demands < MARGIN / 4.
MARGIN = 1e-9
VERIFY_ROWS = 4  # sampled rows re-scored per ad group besides the candidates
# Re-scored rows are normally gathered from the probe rows (exact: the same float32 values);
# every VERIFY_EVERY-th ad group of a scorer rebuilds them with combination_features instead,
# an independent check that each feature reads only the positions its name says.
VERIFY_EVERY = 16
BLOCK_ROWS = 8192  # rows per Booster.predict call on the fallback path (bounds memory)

_POSITION_RE = re.compile(r"(?:^|_)([hd][1-3])(?=_|$)")


def position_owners(feature_names: Sequence[str]) -> list[frozenset[int]]:
    """Positions (0..4 for h1 h2 h3 d1 d2) each feature reads, from its name prefix.

    `h1__width` -> {0}; `h1_d2__jaccard` -> {0, 4}; a feature naming no position -> empty set
    (it would read the whole combination, so a path using it is not decomposable).
    """
    out = []
    for name in feature_names:
        prefix = name.split("__", 1)[0]
        out.append(frozenset(POSITION_NAMES.index(p) for p in _POSITION_RE.findall(prefix)
                             if p in POSITION_NAMES))
    return out


@dataclass
class Decomposability:
    ok: bool
    reason: str
    n_trees: int = 0
    n_leaves: int = 0
    pairs_read: set = field(default_factory=set)  # position pairs some path reads together
    tree_positions: list = field(default_factory=list)  # per tree: every position any path reads


def check_decomposable(booster, feature_names: Sequence[str] | None = None) -> Decomposability:
    """Does every root-to-leaf path read features of at most two positions?

    Checked per path, not per tree: with interaction constraints, two branches of one tree may
    read different pairs, which is still a sum of pair terms.
    """
    names = list(feature_names or booster.feature_name())
    owners = position_owners(names)
    dump = booster.dump_model()
    if dump.get("num_class", 1) != 1:
        return Decomposability(False, f"{dump.get('num_class')} classes; only a single raw score decomposes")
    n_leaves, pairs_read, tree_positions = 0, set(), []
    for t, tree in enumerate(dump["tree_info"]):
        stack = [(tree["tree_structure"], frozenset())]
        in_tree: set = set()
        while stack:
            node, seen = stack.pop()
            if "leaf_value" in node or "split_feature" not in node:
                n_leaves += 1
                in_tree |= seen
                if len(seen) == 2:
                    pairs_read.add(tuple(sorted(seen)))
                continue
            f = node["split_feature"]
            own = owners[f]
            if not own:
                return Decomposability(False, f"tree {t} splits on {names[f]!r}, which belongs to no "
                                              "position (it reads the whole combination)")
            seen = seen | own
            if len(seen) > 2:
                where = ", ".join(POSITION_NAMES[p] for p in sorted(seen))
                return Decomposability(False, f"tree {t} has a path reading positions {where} "
                                              "(train with models.train interaction constraints)")
            stack.append((node["left_child"], seen))
            stack.append((node["right_child"], seen))
        tree_positions.append(frozenset(in_tree))
    return Decomposability(True, "every leaf path reads at most two positions",
                           len(dump["tree_info"]), n_leaves, pairs_read, tree_positions)


# Cost model of one Booster.predict call (measured with LightGBM 4.7, 320 dense features): a fixed
# cost per call, a cost per row (reading the row's features) and a cost per row and tree.
_COST_CALL, _COST_ROW, _COST_TREE_ROW = 50e-6, 1.1e-6, 18e-9
_TYPICAL_CANDIDATES = (15, 15, 15, 4, 4)


def _probe_rows(positions: frozenset) -> int:
    P = sorted(positions)
    m = len(P)
    rows = 1 if (m - 1) * (m - 2) // 2 else 0
    if m != 2:
        rows += sum(_TYPICAL_CANDIDATES[p] for p in P)
    for a, i in enumerate(P):
        for j in P[a + 1:]:
            same = (i < 3) == (j < 3)
            rows += _TYPICAL_CANDIDATES[i] * (_TYPICAL_CANDIDATES[j] - same)
    return rows


def _group_cost(positions: frozenset, n_trees: int) -> float:
    return _COST_CALL + _probe_rows(positions) * (_COST_ROW + _COST_TREE_ROW * n_trees)


def merge_tree_groups(by_set: dict) -> dict:
    """Greedily merge tree groups (positions -> trees) while the modelled predict cost drops.

    Small groups cost more in per-call and per-row overhead than their trees save; a model with
    many trees splits into a few groups, a small one stays whole.
    """
    groups = {k: list(v) for k, v in by_set.items()}
    while len(groups) > 1:
        keys = list(groups)
        best, gain = None, 0.0
        for a in range(len(keys)):
            for b in range(a + 1, len(keys)):
                ka, kb = keys[a], keys[b]
                merged = ka | kb
                before = _group_cost(ka, len(groups[ka])) + _group_cost(kb, len(groups[kb]))
                if merged in groups and merged not in (ka, kb):
                    before += _group_cost(merged, len(groups[merged]))
                    after = _group_cost(merged, len(groups[ka]) + len(groups[kb]) + len(groups[merged]))
                else:
                    after = _group_cost(merged, len(groups[ka]) + len(groups[kb]))
                if before - after > gain:
                    best, gain = (ka, kb), before - after
        if best is None:
            break
        ka, kb = best
        trees = groups.pop(ka) + groups.pop(kb) + groups.pop(ka | kb, [])
        groups[ka | kb] = sorted(trees)
    return groups


def split_booster(booster, tree_sets: Sequence[Sequence[int]]) -> list:
    """Boosters holding the given subsets of the trees (same order), from the model text.

    The raw score of the full model is the sum of the parts' raw scores (up to summation order).
    """
    import lightgbm as lgb

    text = booster.model_to_string()
    start, end = text.index("Tree=0\n"), text.index("end of trees")
    header = re.sub(r"(?m)^tree_sizes=.*\n", "", text[:start])
    blocks = [b for b in re.split(r"(?m)^(?=Tree=\d+\n)", text[start:end]) if b.strip()]
    if len(blocks) != booster.num_trees():
        raise ValueError(f"parsed {len(blocks)} trees, booster has {booster.num_trees()}")
    out = []
    for trees in tree_sets:
        body = "".join(f"Tree={j}\n" + blocks[t].split("\n", 1)[1] for j, t in enumerate(trees))
        out.append(lgb.Booster(model_str=header + body + text[end:]))
    return out


@dataclass
class ScoredGroup:
    """One ad group's result: the K best rows (enumeration row numbers), their exact raw scores.

    With InsightOptions(min_diff=M >= 2) the K rows are the diverse top-K (models.diverse); the
    other fields are filled only when the options ask for them.
    """
    top_rows: np.ndarray  # int64, best first; ties go to the lower row number
    top_raw: np.ndarray  # float64, Booster.predict(raw_score=True) of those rows (+ asset effects)
    n_scored: int
    method: str  # "pairwise" or "predict"
    model_rows: int  # rows that went through Booster.predict (probes + checks, or all rows)
    seconds: float
    max_check_error: float = 0.0  # |assembled - Booster.predict| over the re-scored rows
    all_raw: np.ndarray | None = None  # every score in enumeration order, when asked for
    min_diff: int = 0  # the diversity constraint top_rows satisfies (0: plain top-K)
    tables: PairTables | None = None  # the ad group's pair tables (pairwise method only)
    maxima: BestPerTripleAndPair | None = None  # best score per triple and per pair (asset values)
    leading_rows: np.ndarray | None = None  # the top_n best rows, best first (asset top-N shares)
    passes: int = 1  # passes over the ad group's score blocks (diverse top-K may need more)


class _TablesDisagree(Exception):
    """Re-scored rows differ from the tables: the ad group goes to Booster.predict blocks."""


class PairwiseScorer:
    """Scores AdGroupCombinations exactly: pair tables when the model allows, blocks otherwise."""

    def __init__(self, booster, feature_names: Sequence[str] | None = None, num_threads: int = 1,
                 force_predict: bool = False, verify_every: int = VERIFY_EVERY,
                 split_trees: bool = True):
        self.booster = booster
        self.num_threads = num_threads
        names = list(feature_names or booster.feature_name())
        self.check = check_decomposable(booster, names)
        self.decomposable = self.check.ok and not force_predict
        self.verify_every = max(1, verify_every)
        self._groups_scored = 0
        # Column groups by owner: re-scored rows are gathered from probe rows column-wise.
        owners = position_owners(names)
        self._cols = {}
        for c, own in enumerate(owners):
            key = tuple(sorted(own)) if 1 <= len(own) <= 2 else ()
            self._cols.setdefault(key, []).append(c)
        self._cols = {k: np.array(v) for k, v in self._cols.items()}
        if not self.check.ok:
            log.warning("model is not decomposable into position-pair terms (%s); scoring every "
                        "combination with Booster.predict instead", self.check.reason)
        # Probes for all trees at once, unless split_trees groups trees by the positions they read.
        self.tree_groups = [(frozenset(range(N_POSITIONS)), booster)]
        if self.decomposable and split_trees:
            self.tree_groups = self._tree_groups(booster, names)

    def _tree_groups(self, booster, names):
        """[(positions, booster of the trees reading exactly those positions)], checked to add up.

        A tree reading positions P (|P| <= 2 per path, any number per tree) needs probes only
        over P: a single-pair tree is just its pair table, a single-position tree its own list.
        """
        by_set: dict[frozenset, list[int]] = {}
        for t, ps in enumerate(self.check.tree_positions):
            by_set.setdefault(ps, []).append(t)
        by_set = merge_tree_groups(by_set)
        if len(by_set) == 1:
            return [(frozenset(range(N_POSITIONS)), booster)]
        keys = sorted(by_set, key=lambda k: (len(k), sorted(k)))
        try:
            parts = split_booster(booster, [by_set[k] for k in keys])
            rng = np.random.default_rng(0)
            X = rng.normal(0, 3, size=(64, len(names))) * rng.integers(0, 2, size=(64, len(names)))
            X = np.vstack([X, np.abs(X) * 50]).astype(np.float32)
            whole = booster.predict(X, raw_score=True)
            summed = sum(b.predict(X, raw_score=True) for b in parts)
            err = float(np.max(np.abs(whole - summed)))
            if not err < 1e-10:
                raise ValueError(f"split trees add up to within {err:.3g} only")
        except Exception as exc:  # never wrong, at worst slower: probe with the whole model
            log.warning("could not split the model's trees by positions (%s); probing with all trees", exc)
            return [(frozenset(range(N_POSITIONS)), booster)]
        return list(zip(keys, parts))

    # ---- model calls ----------------------------------------------------------------------------

    def _predict(self, X: np.ndarray) -> np.ndarray:
        return np.asarray(self.booster.predict(X, raw_score=True, num_threads=self.num_threads),
                          dtype=np.float64)

    def predict_rows(self, group, rows: np.ndarray) -> np.ndarray:
        """Exact raw scores of the given enumeration rows, in blocks."""
        out = np.empty(len(rows), dtype=np.float64)
        for s in range(0, len(rows), BLOCK_ROWS):
            out[s:s + BLOCK_ROWS] = self._predict(group.features(group.rows(rows[s:s + BLOCK_ROWS])))
        return out

    # ---- pair tables ------------------------------------------------------------------------------

    @staticmethod
    def probe_combos(group):
        """(probe index combos (M, 5), candidate assets per position, reference r, row maps).

        Row maps: single[i][asset] and pair[i, j][asset_i, asset_j] give the probe row that
        replaces position i (and j) of r; -1 where no probe exists.
        """
        t, p = group.triples, group.pairs
        cands = [np.unique(t[:, i]) for i in range(3)] + [np.unique(p[:, j]) for j in range(2)]
        size = [len(group.headline_ids)] * 3 + [len(group.description_ids)] * 2
        r = np.concatenate([t[0], p[0]]).astype(np.int32)
        blocks = [r[None, :]]
        row = 1
        single, pair, spans = [], {}, {"r": (0, 1)}
        for i in range(N_POSITIONS):
            b = np.repeat(r[None, :], len(cands[i]), axis=0)
            b[:, i] = cands[i]
            blocks.append(b)
            m = np.full(size[i], -1, dtype=np.int64)
            m[cands[i]] = np.arange(row, row + len(b))
            single.append(m)
            spans[i] = (row, row + len(b))
            row += len(b)
        for i in range(N_POSITIONS):
            for j in range(i + 1, N_POSITIONS):
                # same asset kind: an asset never fills both positions
                a, c = pair_support(cands[i], cands[j], same_kind(i, j))
                b = np.repeat(r[None, :], len(a), axis=0)
                b[:, i], b[:, j] = a, c
                blocks.append(b)
                m = np.full((size[i], size[j]), -1, dtype=np.int64)
                m[a, c] = np.arange(row, row + len(b))
                pair[i, j] = m
                spans[i, j] = (row, row + len(b))
                row += len(b)
        return np.concatenate(blocks).astype(np.int32), cands, r, (single, pair, spans)

    def probe_values(self, Xp: np.ndarray, spans: dict) -> np.ndarray:
        """Inclusion-exclusion weighted model values per probe row, summed over tree groups.

        For trees reading positions P (m = |P|) and any combination c,
            F_P(c) = sum_{p<q in P} F_P(r|p,q) - (m-2) sum_{p in P} F_P(r|p) + C(m-1, 2) F_P(r),
        so each group adds weight 1 to its pair rows, -(m-2) to its single rows and C(m-1, 2)
        to r. The weighted rows are the tables (models.tables.PairTables.from_probe_values).
        """
        V = np.zeros(len(Xp))
        for positions, booster in self.tree_groups:
            P = sorted(positions)
            m = len(P)
            parts = []
            if (m - 1) * (m - 2) // 2:
                parts.append((spans["r"], (m - 1) * (m - 2) // 2))
            if m != 2:
                parts += [(spans[i], -(m - 2)) for i in P]
            parts += [(spans[i, j], 1) for a, i in enumerate(P) for j in P[a + 1:]]
            if not parts:
                continue
            idx = np.concatenate([np.arange(a, b) for (a, b), _ in parts])
            X = Xp if len(idx) == len(Xp) and (idx == np.arange(len(Xp))).all() else Xp[idx]
            vals = np.asarray(booster.predict(X, raw_score=True, num_threads=self.num_threads))
            k = 0
            for (a, b), coef in parts:
                V[a:b] += coef * vals[k:k + b - a]
                k += b - a
        return V

    def rows_from_probes(self, Xp: np.ndarray, maps, combos: np.ndarray) -> np.ndarray:
        """Model input rows of valid combos gathered column-wise from the probe rows Xp.

        A column owned by position i comes from the probe replacing i by the combo's asset; a
        column owned by (i, j) from the probe replacing both. Columns owned by no single position
        or pair are never split on by a decomposable model; they keep r's values.
        """
        single, pair = maps[0], maps[1]
        out = np.repeat(Xp[:1], len(combos), axis=0)
        for key, cols in self._cols.items():
            if len(key) == 1:
                src = single[key[0]][combos[:, key[0]]]
            elif len(key) == 2:
                src = pair[key][combos[:, key[0]], combos[:, key[1]]]
            else:
                continue
            out[:, cols] = Xp[src[:, None], cols[None, :]]
        return out

    def tables(self, group, values: np.ndarray, cands: list[np.ndarray], effects=None) -> PairTables:
        """The ad group's pair tables from the weighted probe values (probe_values, in
        probe_combos order), plus its history effects."""
        return PairTables.from_probe_values(len(group.headline_ids), len(group.description_ids), values,
                                            cands, effects)

    @staticmethod
    def effects_in_order(group, effects) -> np.ndarray:
        """Per-position asset effects (models.asset_effects.PositionEffects) summed per row, in
        enumeration order."""
        e = effects
        t, p = group.triples, group.pairs
        return ((e[0][t[:, 0]] + e[1][t[:, 1]] + e[2][t[:, 2]])[:, None]
                + (e[3][p[:, 0]] + e[4][p[:, 1]])[None, :]).ravel()

    # ---- the entry point ----------------------------------------------------------------------------

    def score(self, group, k: int, keep_all: bool = False, seed: int = 0, effects=None,
              insights: InsightOptions | None = None) -> ScoredGroup:
        """Exact top K of an ad group. effects: optional per-position arrays of per-asset history
        effects (models.asset_effects.PositionEffects) added to every row's raw score; a
        per-position term, so the pair tables stay exact. insights: what else to take from the
        same pass (diverse top-K, maxima for asset values, the tables); None: plain top-K only."""
        start = time.perf_counter()
        opts = insights or InsightOptions()
        if len(group) == 0:
            return ScoredGroup(np.empty(0, np.int64), np.empty(0), 0, "none", 0, 0.0, min_diff=opts.min_diff)
        out = None
        if self.decomposable:
            try:
                out = self._score_pairwise(group, k, keep_all, seed, effects, opts)
            except _TablesDisagree as exc:
                log.warning("pair-table scores differ from Booster.predict by %s on ad group with %d "
                            "combinations; scoring it with Booster.predict", exc, len(group))
        if out is None:
            out = self._score_predict(group, k, keep_all, effects, opts)
        out.seconds = time.perf_counter() - start
        return out

    # ---- one pass over the score blocks ---------------------------------------------------------------

    @staticmethod
    def _buffer_size(k: int, opts: InsightOptions) -> int:
        size = k
        if opts.asset_values:
            size = max(size, opts.top_n)
        if opts.diverse:
            size = max(size, opts.diverse_buffer(k))
        return size

    @staticmethod
    def _scan(group, block_fn, size: int, keep_all: bool = False, maxima: bool = False,
              picks: list | None = None, min_diff: int = 0):
        """Stream the ad group's scores block by block (bounded memory) into the collectors:
        the `size` best rows (only rows differing from every pick in >= min_diff positions when
        picks are given), optionally the per-triple/per-pair maxima and every score."""
        T, P = len(group.triples), len(group.pairs)
        top = StreamingTop(size, MARGIN)
        best = BestPerTripleAndPair(T, P) if maxima else None
        all_raw = np.empty(T * P) if keep_all else None
        for t0, t1 in triple_blocks(T, P):
            blk = block_fn(t0, t1)
            mask = block_mask(group.triples[t0:t1], group.pairs, picks, min_diff) if picks else None
            top.add(t0 * P, blk, mask)
            if best is not None:
                best.add(t0, t1, blk)
            if all_raw is not None:
                all_raw[t0 * P:t1 * P] = blk.ravel()
        return top, best, all_raw

    def _diverse(self, group, block_fn, rows, scores, top: StreamingTop, k: int, opts: InsightOptions,
                 exact=None) -> tuple[list, int]:
        """([(row, combo, score)] of the diverse top-K, extra passes made); exact(rows) settles
        near-ties."""
        picks: list = []
        combos = group.rows(rows)
        cutoff, complete = top.cutoff, top.complete
        passes = 0
        while greedy(rows, combos, scores, picks, k, opts.min_diff, MARGIN, cutoff, complete, exact):
            passes += 1
            top, _, _ = self._scan(group, block_fn, opts.diverse_buffer(k), picks=picks, min_diff=opts.min_diff)
            rows, scores = top.result()
            combos = group.rows(rows)
            cutoff, complete = top.cutoff, top.complete
        return picks, passes

    # ---- pair tables ----------------------------------------------------------------------------------

    def _score_pairwise(self, group, k: int, keep_all: bool, seed: int, effects, opts: InsightOptions):
        n = len(group)
        probes, cands, _, maps = self.probe_combos(group)
        if len(probes) + k >= n and not opts.tables:
            return None  # tiny pool: the probes and the k rows rescored would cost more than the rows
        Xp = group.features(probes)
        tables = self.tables(group, self.probe_values(Xp, maps[2]), cands, effects)
        s_d = tables.description_part(group.pairs)

        def block_fn(t0, t1):
            return tables.block(group.triples[t0:t1], group.pairs, s_d)

        def block_values(want):  # the scan's own numbers for these rows (elementwise: same bits)
            t, u = np.divmod(want, len(group.pairs))
            return tables.block(group.triples[t], group.pairs, s_d)[np.arange(len(want)), u]

        top, maxima, all_raw = self._scan(group, block_fn, self._buffer_size(k, opts), keep_all, opts.maxima)
        rows, scores = top.result()
        kth = scores[min(k, len(scores)) - 1]
        candidates = rows[scores >= kth - MARGIN]

        # Exact scores: Booster.predict on rows gathered from the probes (or, every verify_every-th
        # ad group, built independently), plus the history effects; checked against the tables.
        independent = self._groups_scored % self.verify_every == 0
        self._groups_scored += 1
        exact: dict[int, float] = {}
        err = [0.0]
        model_rows = [len(probes)]

        def rescore(want, check_independent=False):
            want = np.unique(np.asarray(want, dtype=np.int64))
            want = want[[int(r) not in exact for r in want]]
            if not len(want):
                return
            combos = group.rows(want)
            X = group.features(combos) if check_independent else self.rows_from_probes(Xp, maps, combos)
            vals = self._predict(X)
            if effects is not None:
                vals = vals + combination_effects(effects, combos)
            model_rows[0] += len(want)
            e = float(np.max(np.abs(vals - block_values(want))))
            err[0] = max(err[0], e)
            if not e < MARGIN / 4:
                raise _TablesDisagree(f"{e:.3g}")
            exact.update(zip(want.tolist(), vals.tolist()))

        def exact_of(want):
            rescore(want)
            return np.array([exact[int(r)] for r in want])

        rng = np.random.default_rng(seed)
        sampled = rng.integers(0, n, size=min(VERIFY_ROWS, n))
        preload: list = []
        if opts.diverse:  # a first look at the buffer: the picks and near-ties it will want exactly
            preview: list = []
            greedy(rows, group.rows(rows), scores, preview, k, opts.min_diff, MARGIN, top.cutoff, top.complete,
                   touched=preload)
            preload += [p[0] for p in preview]
        # One Booster.predict call in the common case: candidates, verification rows, diverse picks.
        rescore(np.concatenate([candidates, sampled, preload]).astype(np.int64), independent)
        picks, passes = [], 1
        if opts.diverse:
            picks, extra = self._diverse(group, block_fn, rows, scores, top, k, opts, exact=exact_of)
            passes += extra
            rescore([p[0] for p in picks])  # picks found in later passes
        cand_rows = np.sort(candidates)
        cand_exact = np.array([exact[int(r)] for r in cand_rows])
        sel = top_k_indices(cand_exact, k)  # cand_rows ascending: ties still go to the lower row
        top_rows, top_raw = cand_rows[sel], cand_exact[sel]
        if opts.diverse:
            top_rows = np.array([p[0] for p in picks], dtype=np.int64)
            top_raw = np.array([exact[p[0]] for p in picks], dtype=np.float64)
        return ScoredGroup(top_rows, top_raw, n, "pairwise", model_rows[0], 0.0, err[0],
                           all_raw=all_raw, min_diff=opts.min_diff, tables=tables if opts.tables else None,
                           maxima=maxima, leading_rows=rows[:opts.top_n] if opts.asset_values else None,
                           passes=passes)

    # ---- Booster.predict blocks -------------------------------------------------------------------------

    def _score_predict(self, group, k: int, keep_all: bool, effects, opts: InsightOptions) -> ScoredGroup:
        """Every combination through Booster.predict, block by block: exact by construction."""
        n_p = len(group.pairs)
        model_rows = [0]

        def block_fn(t0, t1):
            raw = self.predict_rows(group, np.arange(t0 * n_p, t1 * n_p))
            model_rows[0] += len(raw)
            if effects is not None:
                raw = raw + combination_effects(effects, group.rows(np.arange(t0 * n_p, t1 * n_p)))
            return raw.reshape(t1 - t0, n_p)

        top, maxima, all_raw = self._scan(group, block_fn, self._buffer_size(k, opts), keep_all, opts.maxima)
        rows, scores = top.result()
        top_rows, top_raw = rows[:k], scores[:k]
        passes = 1
        if opts.diverse:
            picks, extra = self._diverse(group, block_fn, rows, scores, top, k, opts)
            passes += extra
            top_rows = np.array([p[0] for p in picks], dtype=np.int64)  # scores: exact predict values
            top_raw = np.array([p[2] for p in picks], dtype=np.float64)
        return ScoredGroup(top_rows, top_raw, len(group), "predict", model_rows[0], 0.0,
                           all_raw=all_raw, min_diff=opts.min_diff, maxima=maxima,
                           leading_rows=rows[:opts.top_n] if opts.asset_values else None, passes=passes)
