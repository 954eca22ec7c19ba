"""What each asset of an ad group is worth, exactly, from one pass over its scores.

For every headline and description of the pool (valid combinations only: pins, widths, distinct
assets, as the enumeration decides):

- best_with_raw:   the best raw score among valid combinations that use the asset (in any slot);
- regret:          best overall - best_with_raw (>= 0): what insisting on the asset costs;
- loss_if_removed: best overall - the best score without it (>= 0): what deleting it costs; 0 for
                   every asset outside the best combination; None when no valid combination is
                   left without it (it is the only asset a pinned position may take);
- top_n_share:     the share of the ad group's N best combinations that use it;
- history_effect:  its per-asset history effect (models.asset_effects) in the slot of its best
                   combination; None when the ad group has no delivery history;
- label:           keep / weak / never useful (thresholds below), with a reason in words.

Why it is exact and cheap. Valid combinations are every headline triple with every description
pair (transforms.combinations.enumerate_factored). While scores stream by in blocks of triples,
`BestPerTripleAndPair` keeps the best pair of every triple and the best triple of every pair
(T + P numbers). The best combination using headline a is then the best row maximum over the
triples containing a; the best without a, the best over the triples not containing it; the same
for descriptions over pairs. Scores are the scorer's table sums (equal to Booster.predict within
~1e-12, see models.pairwise); every difference is taken between numbers of the same arrays, so
regret and loss are exactly 0 where they should be.

Labels (raw scores are log-odds; a difference of x is a CTR ratio of about e^-x at small CTRs):
- keep:         regret <= KEEP_REGRET (0.02): it is in a combination within ~2 % of the best CTR,
                or the best combination needs it (loss_if_removed > 0), or a pin requires it;
- weak:         KEEP_REGRET < regret <= WEAK_REGRET (0.15): its best combination is 2-14 % below;
- never useful: regret > WEAK_REGRET, or the asset cannot be shown at all (over the width limit,
                empty, a second copy of another asset's text, or no position its pin allows).
The thresholds are definitions for copywriters (docs/insights.md), not fitted values.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from models.tables import POSITION_NAMES

KEEP_REGRET = 0.02
WEAK_REGRET = 0.15
KEEP, WEAK, NEVER = "keep", "weak", "never useful"
LEAD = 64  # best members searched first for the best combination without an asset


class BestPerTripleAndPair:
    """Streaming maxima: the best score of every headline triple (over all pairs) and of every
    description pair (over all triples), with where they are; ties keep the lower row."""

    def __init__(self, n_triples: int, n_pairs: int):
        self.row_max = np.full(n_triples, -np.inf)
        self.row_arg = np.zeros(n_triples, dtype=np.int64)  # best pair of each triple
        self.col_max = np.full(n_pairs, -np.inf)
        self.col_arg = np.zeros(n_pairs, dtype=np.int64)  # best triple of each pair

    def add(self, t0: int, t1: int, block: np.ndarray) -> None:
        arg = block.argmax(axis=1)  # first maximum: the lower row on ties
        self.row_arg[t0:t1] = arg
        self.row_max[t0:t1] = block[np.arange(t1 - t0), arg]
        arg = block.argmax(axis=0)
        best = block[arg, np.arange(block.shape[1])]
        better = best > self.col_max  # strictly: an earlier block (lower rows) keeps ties
        self.col_max[better] = best[better]
        self.col_arg[better] = arg[better] + t0


@dataclass
class KindValues:
    """Values of one asset kind (headlines or descriptions), aligned with the pool's assets."""

    best_with: np.ndarray  # -inf: the asset is in no valid combination
    best_with_row: np.ndarray  # enumeration row of that combination, -1 if none
    best_without: np.ndarray  # -inf: no valid combination without it
    top_share: np.ndarray


def _values(members: np.ndarray, best: np.ndarray, n_assets: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(best_with, index of the member achieving it or -1, best_without) per asset, where
    members (M, w) lists the assets of each triple (or pair) and best (M,) its best score.
    Ties go to the lower member (so to the lower enumeration row)."""
    best_with = np.full(n_assets, -np.inf)
    for k in range(members.shape[1]):
        np.maximum.at(best_with, members[:, k], best)
    arg = np.full(n_assets, len(best), dtype=np.int64)
    index = np.arange(len(best))
    for k in range(members.shape[1]):
        hit = best == best_with[members[:, k]]  # this member attains its asset's best
        np.minimum.at(arg, members[hit, k], index[hit])
    arg[arg == len(best)] = -1
    top = int(np.argmax(best))  # first maximum: the lower member
    best_without = np.full(n_assets, best[top])
    # Only the best member's assets lose anything. The best member without asset a is almost
    # always among the few best members: look there first, scan everything only if needed.
    lead = np.argpartition(-best, min(LEAD, len(best) - 1))[:LEAD] if len(best) > LEAD else np.arange(len(best))
    for a in np.unique(members[top]):
        free = (members[lead] != a).all(axis=1)
        if free.any():
            best_without[a] = best[lead[free]].max()
        else:
            without = (members != a).all(axis=1)
            best_without[a] = best[without].max() if without.any() else -np.inf
    return best_with, arg, best_without


def kind_values(group, maxima: BestPerTripleAndPair, top_rows: np.ndarray) -> tuple[KindValues, KindValues]:
    """Headline and description values of an ad group (group: AdGroupCombinations) from the
    maxima of its scores and its N best rows (best first)."""
    n_p = len(group.pairs)
    h_with, h_arg, h_without = _values(group.triples, maxima.row_max, len(group.headline_ids))
    d_with, d_arg, d_without = _values(group.pairs, maxima.col_max, len(group.description_ids))
    h_row = np.where(h_arg >= 0, h_arg * n_p + maxima.row_arg[np.maximum(h_arg, 0)], -1)
    d_row = np.where(d_arg >= 0, maxima.col_arg[np.maximum(d_arg, 0)] * n_p + d_arg, -1)
    combos = group.rows(top_rows) if len(top_rows) else np.empty((0, 5), np.int32)
    n = max(len(top_rows), 1)
    h_count = np.zeros(len(group.headline_ids))
    d_count = np.zeros(len(group.description_ids))
    for p in range(3):  # an asset fills at most one slot of a combination
        np.add.at(h_count, combos[:, p], 1.0)
    for p in range(3, 5):
        np.add.at(d_count, combos[:, p], 1.0)
    return (KindValues(h_with, h_row, h_without, h_count / n),
            KindValues(d_with, d_row, d_without, d_count / n))


def label(regret: float, loss: float | None, usable: bool) -> tuple[str, str]:
    """(label, reason in words) of one asset; loss None means no valid combination is left without it."""
    if not usable:
        return NEVER, "cannot be shown"
    if loss is None:
        return KEEP, "every valid combination needs it (pins)"
    if loss > 0:
        return KEEP, f"in the best combination; without it the best drops by {loss:.3f}"
    if regret == 0:
        return KEEP, "in a best combination, but another as good does without it"
    if regret <= KEEP_REGRET:
        return KEEP, f"in a combination within {regret:.3f} of the best"
    if regret <= WEAK_REGRET:
        return WEAK, f"its best combination is {regret:.3f} below the best"
    return NEVER, f"every combination using it is at least {regret:.3f} below the best"


def _unusable_reason(group, kind: str, i: int) -> str:
    from transforms.combinations import DESCRIPTION_POSITIONS, HEADLINE_POSITIONS, duplicate_of
    from transforms.text import DESCRIPTION_MAX_WIDTH, HEADLINE_MAX_WIDTH, display_width, normalize

    text = (group.headline_texts if kind == "HEADLINE" else group.description_texts)[i] or ""
    limit = HEADLINE_MAX_WIDTH if kind == "HEADLINE" else DESCRIPTION_MAX_WIDTH
    if not normalize(text):
        return "empty text: never shown"
    if display_width(text.strip()) > limit:
        return f"display width {display_width(text.strip())} over the {limit}-wide limit: never shown"
    pins = group.headline_pins if kind == "HEADLINE" else group.description_pins
    ids = group.headline_ids if kind == "HEADLINE" else group.description_ids
    texts = group.headline_texts if kind == "HEADLINE" else group.description_texts
    original = duplicate_of(texts, pins)[i]
    if original is not None:
        return f"same text as {ids[original]}, which is used instead (an ad may not repeat a text): never shown"
    pin = pins[i] if i < len(pins) else ""
    positions = HEADLINE_POSITIONS if kind == "HEADLINE" else DESCRIPTION_POSITIONS
    if pin:
        return f"pinned to {pin}, which no valid combination can use"
    return f"unpinned, but every position of {', '.join(positions)} has pinned assets: never shown"


class AssetValues:
    """The asset values of one ad group as columns (lists of equal length; None where a value does
    not exist), in the pool's asset order: a job appends them to its output buffer without making
    a dict or an Arrow table per ad group; iterating gives one dict per asset."""

    COLUMNS = ("asset_id", "asset_type", "text", "best_with_raw", "best_with_row", "best_slot", "regret",
               "loss_if_removed", "top_n_share", "top_n", "history_effect", "served_impressions", "label", "reason")

    def __init__(self, columns: dict[str, list]):
        self.columns = columns

    def __len__(self) -> int:
        return len(self.columns["asset_id"])

    def rows(self) -> list[dict]:
        names = self.COLUMNS
        return [dict(zip(names, values)) for values in zip(*(self.columns[c] for c in names))]

    def __iter__(self):
        return iter(self.rows())


def _or_none(values: np.ndarray, ok: np.ndarray) -> list:
    return [v if o else None for v, o in zip(values.tolist(), ok.tolist())]


def _kind_columns(group, kind: str, vals: KindValues, slots: tuple, best_raw: float, n_top: int,
                  effects, served_impressions) -> dict[str, list]:
    ids = group.headline_ids if kind == "HEADLINE" else group.description_ids
    texts = group.headline_texts if kind == "HEADLINE" else group.description_texts
    n = len(ids)
    usable = vals.best_with > -np.inf
    has_without = vals.best_without > -np.inf
    # The slot of each asset in its best combination: the one of the kind's slots holding it.
    best_combos = group.rows(np.maximum(vals.best_with_row, 0))[:, list(slots)]
    slot = np.asarray(slots)[np.argmax(best_combos == np.arange(n)[:, None], axis=1)]
    regret = best_raw - vals.best_with
    loss = best_raw - vals.best_without
    labels, reasons = [], []
    for i in range(n):
        if usable[i]:
            lab, why = label(float(regret[i]), float(loss[i]) if has_without[i] else None, True)
        else:
            lab, why = NEVER, _unusable_reason(group, kind, i)
        labels.append(lab)
        reasons.append(why)
    if effects is None:
        history = [None] * n
    else:
        in_slot = np.stack([np.asarray(effects[p], dtype=np.float64) for p in slots])  # (slots, n)
        history = np.where(usable, in_slot[np.searchsorted(slots, slot), np.arange(n)], 0.0).tolist()
    return {
        "asset_id": list(ids),
        "asset_type": [kind] * n,
        "text": list(texts),
        "best_with_raw": _or_none(vals.best_with, usable),
        "best_with_row": _or_none(vals.best_with_row, usable),
        "best_slot": [POSITION_NAMES[p] if u else None for p, u in zip(slot.tolist(), usable.tolist())],
        "regret": _or_none(regret, usable),
        "loss_if_removed": _or_none(loss, has_without),
        "top_n_share": vals.top_share.tolist(),
        "top_n": [int(n_top)] * n,
        "history_effect": history,
        "served_impressions": ([None] * n if served_impressions is None
                               else [int(served_impressions.get(a, 0)) for a in ids]),
        "label": labels,
        "reason": reasons,
    }


def asset_values(group, maxima: BestPerTripleAndPair, top_rows: np.ndarray, best_raw: float,
                 effects=None, served_impressions=None) -> AssetValues:
    """Every asset of the pool (headlines, then descriptions, in asset_id order).

    best_raw: the best score overall on the same scale as the maxima (maxima.row_max.max()).
    effects: the PositionEffects the scores include (None without history).
    served_impressions: optional {asset_id: impressions} of the asset's served ads.
    """
    h, d = kind_values(group, maxima, top_rows)
    heads = _kind_columns(group, "HEADLINE", h, (0, 1, 2), best_raw, len(top_rows), effects, served_impressions)
    descs = _kind_columns(group, "DESCRIPTION", d, (3, 4), best_raw, len(top_rows), effects, served_impressions)
    return AssetValues({c: heads[c] + descs[c] for c in AssetValues.COLUMNS})
