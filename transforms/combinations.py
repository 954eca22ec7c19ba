"""Enumeration of valid (H1, H2, H3, D1, D2) combinations and per-ad-group featurisation.

Validity (pins, widths, distinctness) is decided here, never by features.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np

from transforms.features import (COMBINATION_FEATURE_NAMES, AssetBlock, TermWeights, combination_features,
                                 featurize_assets)
from transforms.text import DESCRIPTION_MAX_WIDTH, HEADLINE_MAX_WIDTH, ad_width, has_customizer, normalize

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
    Customizers count as Google counts them (transforms.text.ad_width): their default text, a
    countdown its longest rendering.
    """
    return np.array([ad_width(t) <= max_width for t in texts], dtype=bool)


def duplicate_of(texts: Sequence[str], pins: Sequence[str] | None = None) -> list[int | None]:
    """Per asset, the index of the asset with the same text used in its place; None for the copy
    that is used (and for empty texts). pins None or empty: no asset is pinned.

    Why: Google Ads refuses an ad that repeats a headline or a description, and two combinations
    that differ only in which copy of a text they show are one ad to its reader (a top-K listing
    both would waste a slot). So one copy per normalised text is kept: a pinned one before
    unpinned ones (the pin says where the advertiser wants it), then the first in pool order."""
    pins = pins or [""] * len(texts)
    keep: dict[str, int] = {}
    for i in sorted(range(len(texts)), key=lambda i: (not (pins[i] or "").strip(), i)):
        keep.setdefault(normalize(texts[i]), i)
    out: list[int | None] = []
    for i, t in enumerate(texts):
        key = normalize(t)
        out.append(None if not key or keep[key] == i else keep[key])
    return out


def valid_assets(texts: Sequence[str], max_width: int, pins: Sequence[str] | None = None) -> np.ndarray:
    """Usable assets: non-empty after normalisation (or a customizer alone, such as a countdown),
    within the width limit, and not a second copy of another asset's text (duplicate_of; pins
    None: no asset is pinned)."""
    nonempty = np.array([bool(normalize(t)) or has_customizer(t) for t in texts], dtype=bool)
    first_copy = np.array([d is None for d in duplicate_of(texts, pins)], dtype=bool)
    return width_ok(texts, max_width) & nonempty & first_copy


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


# Products larger than this are built one first-position asset at a time (generated pools of
# hundreds of headlines): memory of the result, not of the whole product in int64.
LARGE_PRODUCT = 1 << 20


def _ordered_tuples(cands: list[np.ndarray]) -> np.ndarray:
    """Lexicographically ordered tuples from the product of candidate lists, all-distinct only."""
    k = len(cands)
    if any(c.size == 0 for c in cands):
        return np.empty((0, k), dtype=np.int32)
    if k > 1 and int(np.prod([c.size for c in cands], dtype=np.float64)) > LARGE_PRODUCT:
        rest = _ordered_tuples(cands[1:])  # lexicographic; prefixing ascending firsts keeps the order
        parts = []
        for a in cands[0]:
            sub = rest[(rest != a).all(axis=1)]
            parts.append(np.concatenate([np.full((len(sub), 1), a, dtype=np.int32), sub], axis=1))
        return np.concatenate(parts).astype(np.int32, copy=False)
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


def enumerate_factored(headline_pins: Sequence[str], description_pins: Sequence[str],
                       headline_ok: Sequence[bool] | None = None,
                       description_ok: Sequence[bool] | None = None) -> tuple[np.ndarray, np.ndarray]:
    """The valid combinations as a product: (triples (T, 3), pairs (P, 2)) int32, each lexicographic.

    Headline and description validity are independent, so the valid combinations are exactly
    every triple with every pair; row i of enumerate_combinations is
    (triples[i // P], pairs[i % P]). Scorers work on the factors and never build the (N, 5) array.
    """
    h_slots = _pin_slots(headline_pins, HEADLINE_POSITIONS, "headline")
    d_slots = _pin_slots(description_pins, DESCRIPTION_POSITIONS, "description")
    h_ok = _mask(headline_ok, len(h_slots), "headline")
    d_ok = _mask(description_ok, len(d_slots), "description")
    triples = _ordered_tuples(_candidates(h_slots, h_ok, 3))
    pairs = _ordered_tuples(_candidates(d_slots, d_ok, 2))
    if len(triples) == 0 or len(pairs) == 0:
        return np.empty((0, 3), dtype=np.int32), np.empty((0, 2), dtype=np.int32)
    return triples, pairs


def product_rows(triples: np.ndarray, pairs: np.ndarray, rows: np.ndarray | None = None) -> np.ndarray:
    """(N, 5) int32 rows of the triples x pairs product (triples major), or only the given rows."""
    n_p = len(pairs)
    if rows is None:
        return np.concatenate(
            [np.repeat(triples, n_p, axis=0), np.tile(pairs, (len(triples), 1))], axis=1
        ).astype(np.int32)
    rows = np.asarray(rows, dtype=np.int64)
    return np.concatenate([triples[rows // n_p], pairs[rows % n_p]], axis=1).astype(np.int32)


def enumerate_combinations(headline_pins: Sequence[str], description_pins: Sequence[str],
                           headline_ok: Sequence[bool] | None = None,
                           description_ok: Sequence[bool] | None = None) -> np.ndarray:
    """(N, 5) int32 valid combinations in lexicographic order.

    Columns 0-2 index headlines, 3-4 index descriptions. A position with pins takes only assets
    pinned to it; a pinned asset appears nowhere else; unpinned assets fill unpinned positions;
    assets with ok False are never used; assets within a row are distinct.
    """
    triples, pairs = enumerate_factored(headline_pins, description_pins, headline_ok, description_ok)
    if len(triples) == 0:
        return np.empty((0, 5), dtype=np.int32)
    # Cartesian product, triples major: keeps the row order lexicographic.
    return product_rows(triples, pairs)


class AdGroupCombinations:
    """All valid combinations of one ad group's pool, kept factored, with per-asset features.

    The combinations are triples x pairs (see enumerate_factored); `combos` (N, 5) and the model
    input `X` (N, F) are built only when asked for (a decomposable model never needs them) and are
    not pickled. combos[i] indexes headline_ids/headline_texts (cols 0-2) and
    description_ids/texts (3-4); X[i] is the model input row of combos[i].
    """

    def __init__(self, triples: np.ndarray, pairs: np.ndarray, headlines: AssetBlock | None,
                 descriptions: AssetBlock | None, headline_ids: list[str], headline_texts: list[str],
                 description_ids: list[str], description_texts: list[str], n_rejected: int,
                 keyword: str = "", industry: str = "", headline_pins: list[str] | None = None,
                 description_pins: list[str] | None = None, ad_group_id: str = ""):
        self.triples, self.pairs = triples, pairs
        self.headlines, self.descriptions = headlines, descriptions  # None when nothing is valid
        self.headline_ids, self.headline_texts = headline_ids, headline_texts
        self.description_ids, self.description_texts = description_ids, description_texts
        self.n_rejected = n_rejected  # unconstrained_count(n_h, n_d) - N: cut by pins and widths
        self.keyword, self.industry = keyword, industry
        self.ad_group_id = ad_group_id  # the model's per-asset history effects are keyed by it
        self.headline_pins = list(headline_pins or [])
        self.description_pins = list(description_pins or [])
        self._combos = self._X = None

    def __len__(self) -> int:
        return int(len(self.triples) * len(self.pairs))

    def __getstate__(self):
        state = dict(self.__dict__)
        state["_combos"] = state["_X"] = None  # rebuilt on demand; never shipped between workers
        return state

    @property
    def combos(self) -> np.ndarray:
        if self._combos is None:
            self._combos = (product_rows(self.triples, self.pairs) if len(self)
                            else np.empty((0, 5), dtype=np.int32))
        return self._combos

    def rows(self, indices) -> np.ndarray:
        """(len(indices), 5) combinations by row number, without building `combos`."""
        return product_rows(self.triples, self.pairs, np.asarray(indices, dtype=np.int64).reshape(-1))

    def features(self, combos: np.ndarray) -> np.ndarray:
        """Model input rows of arbitrary index combinations (also repeated assets: probes)."""
        return combination_features(self.headlines, self.descriptions, combos)

    @property
    def X(self) -> np.ndarray:
        if self._X is None:
            self._X = (self.features(self.combos) if len(self)
                       else np.empty((0, len(COMBINATION_FEATURE_NAMES)), dtype=np.float32))
        return self._X

    def row_asset_ids(self, i: int) -> tuple[str, str, str, str, str]:
        c = self.rows([i])[0]
        return (self.headline_ids[c[0]], self.headline_ids[c[1]], self.headline_ids[c[2]],
                self.description_ids[c[3]], self.description_ids[c[4]])


def _sorted_assets(assets: Sequence[dict], asset_type: str) -> list[dict]:
    chosen = [a for a in assets if str(a.get("asset_type") or "").strip().upper() == asset_type]
    return sorted(chosen, key=lambda a: str(a.get("asset_id")))


@dataclass(frozen=True)
class Pool:
    """One ad group's assets split by type in asset_id order: what enumeration needs.

    Every consumer (scoring, drift sampling, experiment control arms) reads a pool this way, so
    combination row i means the same creative everywhere.
    """

    headline_ids: list[str]
    headline_texts: list[str]
    headline_pins: list[str]
    description_ids: list[str]
    description_texts: list[str]
    description_pins: list[str]

    @classmethod
    def from_assets(cls, assets: Sequence[dict]) -> "Pool":
        """Assets as dicts (asset_id, asset_type, text, pinned_field), in any order."""
        heads, descs = _sorted_assets(assets, "HEADLINE"), _sorted_assets(assets, "DESCRIPTION")
        return cls(
            headline_ids=[str(a.get("asset_id")) for a in heads],
            headline_texts=[a.get("text") or "" for a in heads],
            headline_pins=[(a.get("pinned_field") or "").strip() for a in heads],
            description_ids=[str(a.get("asset_id")) for a in descs],
            description_texts=[a.get("text") or "" for a in descs],
            description_pins=[(a.get("pinned_field") or "").strip() for a in descs],
        )

    def enumerate_factored(self) -> tuple[np.ndarray, np.ndarray]:
        """Valid headline triples and description pairs (pins, width limits, distinct texts)."""
        return enumerate_factored(self.headline_pins, self.description_pins,
                                  valid_assets(self.headline_texts, HEADLINE_MAX_WIDTH, self.headline_pins),
                                  valid_assets(self.description_texts, DESCRIPTION_MAX_WIDTH, self.description_pins))


def build_ad_group_combinations(keyword: str, assets: Sequence[dict], sp,
                                industry: str = "", ad_group_id: str = "",
                                term_weights: TermWeights | None = None) -> AdGroupCombinations:
    """Enumerate and featurise one ad group's pool (len 0 when no valid combination exists), the
    lexicon read with the model's term weights (transforms.features.TermWeights).

    Assets (dicts with asset_id, asset_type, text, pinned_field) are sorted by asset_id so the
    output does not depend on input order. Each asset is featurised once; combination rows are
    gathered only on demand (`X`, `features`). Invalid pins raise ValueError.
    """
    pool = Pool.from_assets(assets)
    triples, pairs = pool.enumerate_factored()
    n = len(triples) * len(pairs)
    h_block = d_block = None
    if n:  # nothing to score: skip tokenising the pool
        h_block = featurize_assets(pool.headline_texts, keyword, sp, term_weights)
        d_block = featurize_assets(pool.description_texts, keyword, sp, term_weights)
    return AdGroupCombinations(
        triples=triples, pairs=pairs, headlines=h_block, descriptions=d_block,
        headline_ids=pool.headline_ids, headline_texts=pool.headline_texts,
        description_ids=pool.description_ids, description_texts=pool.description_texts,
        n_rejected=unconstrained_count(len(pool.headline_ids), len(pool.description_ids)) - n,
        keyword=keyword or "", industry=industry or "",
        headline_pins=pool.headline_pins, description_pins=pool.description_pins,
        ad_group_id=str(ad_group_id or ""),
    )


def unscorable_reason(group: AdGroupCombinations) -> str:
    """Why an ad group has no valid combination, in words a person can act on ("" if it has some)."""
    if len(group):
        return ""
    reasons = []
    for kind, texts, pins, positions, limit, need in (
        ("headline", group.headline_texts, group.headline_pins, HEADLINE_POSITIONS, HEADLINE_MAX_WIDTH, 3),
        ("description", group.description_texts, group.description_pins, DESCRIPTION_POSITIONS,
         DESCRIPTION_MAX_WIDTH, 2),
    ):
        empty = sum(1 for t in texts if not normalize(t))
        too_wide = int((~width_ok(texts, limit)).sum())
        copies = sum(1 for d in duplicate_of(texts, pins) if d is not None)
        usable = valid_assets(texts, limit, pins)
        if usable.sum() < need:
            detail = ([f"{too_wide} over the {limit}-wide limit"] * bool(too_wide) + [f"{empty} empty"] * bool(empty)
                      + [f"{copies} repeating another's text"] * bool(copies))
            reasons.append(f"too few valid {kind}s: {int(usable.sum())} of {len(texts)} usable, {need} needed"
                           + (f" ({', '.join(detail)})" if detail else ""))
            continue
        slots = _pin_slots(pins, positions, kind)
        cands = _candidates(slots, usable, len(positions))
        empty_positions = [p for p, c in zip(positions, cands) if c.size == 0]
        for position in empty_positions:
            reasons.append(f"pins cannot be satisfied: no usable {kind} can fill {position}"
                           + (" (every usable one is pinned elsewhere)" if (slots[usable] >= 0).all() else ""))
        if not empty_positions and len(_ordered_tuples(cands)) == 0:
            reasons.append(f"pins cannot be satisfied: the {kind}s pinned leave no {need} distinct ones")
    return "; ".join(reasons) or "no valid combination"


def pick_keyword(metas) -> tuple[str, str]:
    """The (keyword, industry) an ad group is scored with when its served ads disagree: the
    smallest, so every consumer picks the same one. Empty when the ad group has no served ad."""
    metas = sorted({(m[0] or "", m[1] or "") for m in metas})
    return metas[0] if metas else ("", "")


def ad_group_keywords(ads) -> dict[str, tuple[str, str]]:
    """{ad_group_id: (keyword, industry)} from raw.ads rows, by pick_keyword."""
    metas: dict[str, list] = {}
    for ad in ads:
        metas.setdefault(str(ad["ad_group_id"]), []).append((ad.get("keyword") or "", ad.get("industry") or ""))
    return {ag: pick_keyword(m) for ag, m in metas.items()}
