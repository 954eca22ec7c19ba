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
                empty, or no position its pin allows).
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
    from transforms.combinations import DESCRIPTION_POSITIONS, HEADLINE_POSITIONS
    from transforms.text import DESCRIPTION_MAX_WIDTH, HEADLINE_MAX_WIDTH, display_width, normalize

    text = (group.headline_texts if kind == "HEADLINE" else group.description_texts)[i] or ""
    limit = HEADLINE_MAX_WIDTH if kind == "HEADLINE" else DESCRIPTION_MAX_WIDTH
    if not normalize(text):
        return "empty text: never shown"
    if display_width(text.strip()) > limit:
        return f"display width {display_width(text.strip())} over the {limit}-wide limit: never shown"
    pins = group.headline_pins if kind == "HEADLINE" else group.description_pins
    pin = pins[i] if i < len(pins) else ""
    positions = HEADLINE_POSITIONS if kind == "HEADLINE" else DESCRIPTION_POSITIONS
    if pin:
        return f"pinned to {pin}, which no valid combination can use"
    return f"unpinned, but every position of {', '.join(positions)} has pinned assets: never shown"


def asset_value_rows(group, maxima: BestPerTripleAndPair, top_rows: np.ndarray, best_raw: float,
                     effects=None, served_impressions=None) -> list[dict]:
    """One dict per asset of the pool (headlines, then descriptions, in asset_id order).

    best_raw: the best score overall on the same scale as the maxima (maxima.row_max.max()).
    effects: the PositionEffects the scores include (None without history).
    served_impressions: optional {asset_id: impressions} of the asset's served ads.
    """
    h, d = kind_values(group, maxima, top_rows)
    out = []
    for kind, ids, texts, vals, slots in (("HEADLINE", group.headline_ids, group.headline_texts, h, (0, 1, 2)),
                                          ("DESCRIPTION", group.description_ids, group.description_texts, d, (3, 4))):
        best_combos = group.rows(np.maximum(vals.best_with_row, 0))
        for i, asset_id in enumerate(ids):
            usable = bool(vals.best_with[i] > -np.inf)
            regret = float(best_raw - vals.best_with[i]) if usable else None
            loss = float(best_raw - vals.best_without[i]) if vals.best_without[i] > -np.inf else None
            slot = None
            if usable:
                slot = next(p for p in slots if best_combos[i, p] == i)
            lab, why = label(regret if usable else np.inf, loss, usable)
            if not usable:
                why = _unusable_reason(group, kind, i)
            out.append({
                "asset_id": asset_id,
                "asset_type": kind,
                "text": texts[i],
                "best_with_raw": float(vals.best_with[i]) if usable else None,
                "best_with_row": int(vals.best_with_row[i]) if usable else None,
                "best_slot": POSITION_NAMES[slot] if slot is not None else None,
                "regret": regret,
                "loss_if_removed": loss,
                "top_n_share": float(vals.top_share[i]),
                "top_n": int(len(top_rows)),
                "history_effect": (float(effects[slot][i]) if effects is not None and slot is not None
                                   else (0.0 if effects is not None else None)),
                "served_impressions": (None if served_impressions is None
                                       else int(served_impressions.get(asset_id, 0))),
                "label": lab,
                "reason": why,
            })
    return out
