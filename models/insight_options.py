"""What the scorer takes from its single pass besides the plain top-K (docs/insights.md)."""

from __future__ import annotations

import zlib
from dataclasses import dataclass

TOP_N = 100  # asset values: share of the ad group's N best combinations
DIVERSE_BUFFER_PER_PICK = 32  # diverse top-K: rows kept per wanted pick in the single pass


@dataclass(frozen=True)
class InsightOptions:
    """min_diff: keep a diverse top-K (any two combinations differ in >= min_diff of the 5
    positions; 0 or 1 is the plain top-K). asset_values: what each asset is worth
    (models.asset_values). explain_ranks: 1-based ranks of the published top-K to explain
    (models.explain), in one ad group of every `explain_every` (a stable hash of the ad group id
    picks them: the same ones every run). select: a "submit these 15 + 4" selection for pools larger than an RSA
    (models.selection). keep_tables: return the pair tables even when nothing above needs them."""

    min_diff: int = 0
    asset_values: bool = False
    top_n: int = TOP_N
    explain_ranks: tuple[int, ...] = ()
    explain_every: int = 1
    select: bool = False
    keep_tables: bool = False

    def __post_init__(self):
        if not 0 <= int(self.min_diff) <= 5:
            raise ValueError(f"min_diff must be between 0 and 5 (positions that must differ), got {self.min_diff}")
        if int(self.top_n) < 1:
            raise ValueError(f"top_n must be at least 1, got {self.top_n}")
        if any(int(r) < 1 for r in self.explain_ranks):
            raise ValueError(f"explain ranks are 1-based, got {list(self.explain_ranks)}")
        if int(self.explain_every) < 1:
            raise ValueError(f"explain_every must be at least 1, got {self.explain_every}")
        object.__setattr__(self, "explain_ranks", tuple(int(r) for r in self.explain_ranks))

    def explains(self, ad_group_id: str) -> bool:
        """Is this ad group in the explained sample?"""
        if not self.explain_ranks:
            return False
        return self.explain_every == 1 or zlib.crc32(str(ad_group_id).encode("utf-8")) % self.explain_every == 0

    @property
    def diverse(self) -> bool:
        return self.min_diff >= 2

    @property
    def tables(self) -> bool:
        """Do the outputs need the pair tables (only the pairwise method has them)?"""
        return bool(self.explain_ranks) or self.select or self.keep_tables

    @property
    def maxima(self) -> bool:
        """Does the pass keep the best score per triple and per pair (asset values, selection)?"""
        return self.asset_values or self.select

    @staticmethod
    def diverse_buffer(k: int) -> int:
        return max(64, DIVERSE_BUFFER_PER_PICK * k)
