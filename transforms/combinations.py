"""Enumeration of valid (H1, H2, H3, D1, D2) combinations and per-ad-group featurisation.

Validity (pins, widths, distinctness) is decided here, never by features.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Sequence

import numpy as np

from transforms.features import COMBINATION_FEATURE_NAMES, combination_features, featurize_assets
from transforms.text import DESCRIPTION_MAX_WIDTH, HEADLINE_MAX_WIDTH, display_width, normalize

POSITIONS = ("HEADLINE_1", "HEADLINE_2", "HEADLINE_3", "DESCRIPTION_1", "DESCRIPTION_2")
HEADLINE_POSITIONS = POSITIONS[:3]
DESCRIPTION_POSITIONS = POSITIONS[3:]


def unconstrained_count(n_headlines: int, n_descriptions: int) -> int:
    h, d = n_headlines, n_descriptions
    return max(h * (h - 1) * (h - 2), 0) * max(d * (d - 1), 0)


def width_ok(texts: Sequence[str], max_width: int) -> np.ndarray:
    """Bool mask: display width within max_width.

    Measured on the text as submitted, because that is what the platform displays and counts:
    NFKC would turn a full-width ３ (width 2) into 3 (width 1) and let an over-long asset through.
    """
    return np.array([display_width((t or "").strip()) <= max_width for t in texts], dtype=bool)


def valid_assets(texts: Sequence[str], max_width: int) -> np.ndarray:
    """Usable assets: non-empty after normalisation and within the width limit."""
    nonempty = np.array([bool(normalize(t)) for t in texts], dtype=bool)
    return width_ok(texts, max_width) & nonempty


def _pin_slots(pins: Sequence[str], positions: Sequence[str], kind: str) -> np.ndarray:
    """Slot index per asset: -1 unpinned, k pinned to positions[k]. Unknown pins raise."""
    slot = {p: k for k, p in enumerate(positions)}
    out = np.full(len(pins), -1, dtype=np.int64)
    for i, raw in enumerate(pins):
        pin = (raw or "").strip()
        if not pin:
            continue
        if pin not in slot:
            raise ValueError(f"invalid {kind} pin {raw!r} at index {i}; expected '' or one of {list(positions)}")
        out[i] = slot[pin]
    return out


def _candidates(slots: np.ndarray, ok: np.ndarray, n_positions: int) -> list[np.ndarray]:
    """Sorted asset indices allowed at each position (pinned ones if any pin there, else unpinned)."""
    cands = []
    for k in range(n_positions):
        pinned_here = slots == k
        allowed = pinned_here if pinned_here.any() else (slots == -1)
        cands.append(np.flatnonzero(allowed & ok))
    return cands


def _ordered_tuples(cands: list[np.ndarray]) -> np.ndarray:
    """Lexicographically ordered tuples from the product of candidate lists, all-distinct only."""
    k = len(cands)
    if any(c.size == 0 for c in cands):
        return np.empty((0, k), dtype=np.int32)
    grids = np.meshgrid(*cands, indexing="ij")  # ij order over sorted lists = lexicographic
    tup = np.stack([g.ravel() for g in grids], axis=1)
    distinct = np.ones(len(tup), dtype=bool)
    for a in range(k):
        for b in range(a + 1, k):
            distinct &= tup[:, a] != tup[:, b]
    return tup[distinct].astype(np.int32)


def _mask(ok: Sequence[bool] | None, n: int, kind: str) -> np.ndarray:
    if ok is None:
        return np.ones(n, dtype=bool)
    m = np.asarray(ok, dtype=bool).reshape(-1)
    if m.shape[0] != n:
        raise ValueError(f"{kind}_ok has {m.shape[0]} entries for {n} {kind}s")
    return m


def enumerate_combinations(headline_pins: Sequence[str], description_pins: Sequence[str],
                           headline_ok: Sequence[bool] | None = None,
                           description_ok: Sequence[bool] | None = None) -> np.ndarray:
    """(N, 5) int32 valid combinations in lexicographic order.

    Columns 0-2 index headlines, 3-4 index descriptions. A position with pins takes only assets
    pinned to it; a pinned asset appears nowhere else; unpinned assets fill unpinned positions;
    assets with ok False are never used; assets within a row are distinct.
    """
    h_slots = _pin_slots(headline_pins, HEADLINE_POSITIONS, "headline")
    d_slots = _pin_slots(description_pins, DESCRIPTION_POSITIONS, "description")
    h_ok = _mask(headline_ok, len(h_slots), "headline")
    d_ok = _mask(description_ok, len(d_slots), "description")
    triples = _ordered_tuples(_candidates(h_slots, h_ok, 3))
    pairs = _ordered_tuples(_candidates(d_slots, d_ok, 2))
    if len(triples) == 0 or len(pairs) == 0:
        return np.empty((0, 5), dtype=np.int32)
    # Cartesian product, triples major: keeps the row order lexicographic.
    return np.concatenate(
        [np.repeat(triples, len(pairs), axis=0), np.tile(pairs, (len(triples), 1))], axis=1
    ).astype(np.int32)


@dataclass
class AdGroupCombinations:
    """All valid combinations of one ad group's pool, with their feature matrix.

    combos[i] indexes headline_ids/headline_texts (cols 0-2) and description_ids/texts (3-4);
    X[i] is the model input row of combos[i] (columns = COMBINATION_FEATURE_NAMES).
    """
    combos: np.ndarray  # (N, 5) int32
    X: np.ndarray  # (N, F) float32
    headline_ids: list[str]
    headline_texts: list[str]
    description_ids: list[str]
    description_texts: list[str]
    n_rejected: int  # unconstrained_count(n_h, n_d) - N: cut by pins and width limits
    keyword: str = ""
    industry: str = ""
    headline_pins: list[str] = field(default_factory=list)
    description_pins: list[str] = field(default_factory=list)

    def __len__(self) -> int:
        return int(self.combos.shape[0])

    def row_asset_ids(self, i: int) -> tuple[str, str, str, str, str]:
        c = self.combos[i]
        return (self.headline_ids[c[0]], self.headline_ids[c[1]], self.headline_ids[c[2]],
                self.description_ids[c[3]], self.description_ids[c[4]])


def _sorted_assets(assets: Sequence[dict], asset_type: str) -> list[dict]:
    chosen = [a for a in assets if str(a.get("asset_type") or "").strip().upper() == asset_type]
    return sorted(chosen, key=lambda a: str(a.get("asset_id")))


def build_ad_group_combinations(keyword: str, assets: Sequence[dict], sp,
                                industry: str = "") -> AdGroupCombinations:
    """Enumerate and featurise one ad group's pool (len 0 when no valid combination exists).

    Assets (dicts with asset_id, asset_type, text, pinned_field) are sorted by asset_id so the
    output does not depend on input order. Each asset is featurised once. Invalid pins raise
    ValueError.
    """
    heads = _sorted_assets(assets, "HEADLINE")
    descs = _sorted_assets(assets, "DESCRIPTION")
    h_texts = [a.get("text") or "" for a in heads]
    d_texts = [a.get("text") or "" for a in descs]
    h_pins = [(a.get("pinned_field") or "").strip() for a in heads]
    d_pins = [(a.get("pinned_field") or "").strip() for a in descs]
    combos = enumerate_combinations(h_pins, d_pins,
                                    valid_assets(h_texts, HEADLINE_MAX_WIDTH),
                                    valid_assets(d_texts, DESCRIPTION_MAX_WIDTH))
    if len(combos) == 0:  # nothing to score: skip tokenising the pool
        X = np.empty((0, len(COMBINATION_FEATURE_NAMES)), dtype=np.float32)
    else:
        X = combination_features(featurize_assets(h_texts, keyword, sp),
                                 featurize_assets(d_texts, keyword, sp), combos)
    return AdGroupCombinations(
        combos=combos, X=X,
        headline_ids=[str(a.get("asset_id")) for a in heads], headline_texts=h_texts,
        description_ids=[str(a.get("asset_id")) for a in descs], description_texts=d_texts,
        n_rejected=unconstrained_count(len(heads), len(descs)) - len(combos),
        keyword=keyword or "", industry=industry or "",
        headline_pins=h_pins, description_pins=d_pins,
    )
