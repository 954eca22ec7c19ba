"""What a real reporting API does to its data: malformed rows and late restatements.

Pure and deterministic: whether and how a row is damaged depends only on (seed, table, row key),
so a retried page returns the same damage and a test can know exactly which rows are bad.
"""

from __future__ import annotations

import hashlib

MALFORMED_KINDS = ("missing_field", "clicks_gt_impressions", "negative_count", "bad_date",
                   "broken_encoding", "overlong_text")

# Which kinds make sense for which table (a pool row has no clicks).
_KINDS_BY_TABLE = {
    "ads": ("missing_field", "broken_encoding", "overlong_text"),
    "asset_pools": ("missing_field", "broken_encoding", "overlong_text"),
    "ad_daily_performance": ("missing_field", "clicks_gt_impressions", "negative_count", "bad_date"),
}
_REQUIRED = {
    "ads": ("ad_id", "ad_group_id", "headline_1", "description_1"),
    "asset_pools": ("asset_id", "ad_group_id", "asset_type", "text"),
    "ad_daily_performance": ("ad_id", "impressions", "clicks", "date"),
}
_TEXT = {"ads": "headline_2", "asset_pools": "text"}
_BAD_DATES = ("2025-02-30", "20250601", "2025/06/01", "", "not a date")


def _u(seed: int, *parts: object) -> float:
    h = hashlib.blake2b("|".join(map(str, (seed, *parts))).encode(), digest_size=8).digest()
    return int.from_bytes(h, "big") / 2.0**64


def row_key(table: str, row: dict) -> str:
    if table == "ad_daily_performance":
        return f"{row['date']}|{row['ad_id']}"
    if table == "asset_pools":
        return row["asset_id"]
    return row["ad_id"]


def malformed_kind(seed: int, table: str, key: str, rate: float) -> str | None:
    """The damage done to this row, or None; about `rate` of rows are damaged."""
    if rate <= 0 or _u(seed, "malformed", table, key) >= rate:
        return None
    kinds = _KINDS_BY_TABLE[table]
    return kinds[int(_u(seed, "kind", table, key) * len(kinds))]


def mojibake(text: str) -> str:
    """UTF-8 bytes read as Latin-1: what a wrong charset on an export does to Japanese text."""
    return text.encode("utf-8").decode("latin-1")


def damage(table: str, row: dict, kind: str, seed: int = 0) -> dict:
    out = dict(row)
    pick = _u(seed, "pick", table, row_key(table, row))
    if kind == "missing_field":
        req = _REQUIRED[table]
        out.pop(req[int(pick * len(req))])
    elif kind == "clicks_gt_impressions":
        out["clicks"] = int(out["impressions"]) + 1 + int(pick * 10)
    elif kind == "negative_count":
        out["impressions" if pick < 0.5 else "clicks"] = -1 - int(pick * 100)
    elif kind == "bad_date":
        out["date"] = _BAD_DATES[int(pick * len(_BAD_DATES))]
    elif kind == "broken_encoding":
        field = _TEXT[table]
        text = out[field] or "広告"
        out[field] = mojibake(text) if pick < 0.5 else text[: max(1, len(text) // 2)] + "\ufffd"
    elif kind == "overlong_text":
        out[_TEXT[table]] = (out[_TEXT[table]] or "長文") * 40
    else:
        raise ValueError(f"unknown damage {kind!r}")
    return out


def apply_malformed(table: str, rows: list[dict], rate: float, seed: int) -> list[dict]:
    if rate <= 0:
        return rows
    out = []
    for r in rows:
        kind = malformed_kind(seed, table, row_key(table, r), rate)
        out.append(damage(table, r, kind, seed) if kind else r)
    return out


def preliminary(rows: list[dict], rate: float, seed: int) -> list[dict]:
    """First-reported numbers of a day: a share of rows still count invalid clicks that the
    platform filters out later (the restatement lowers them to the final value)."""
    if rate <= 0:
        return rows
    out = []
    for r in rows:
        u = _u(seed, "restate", r["date"], r["ad_id"])
        if u < rate and isinstance(r.get("clicks"), int) and isinstance(r.get("impressions"), int):
            extra = 1 + int(_u(seed, "extra", r["date"], r["ad_id"]) * 3)
            r = {**r, "clicks": min(r["impressions"], r["clicks"] + extra)}
        out.append(r)
    return out
