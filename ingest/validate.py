"""Schema and business rules of the raw tables, as pure functions over received rows.

A row is kept, cleaned to the table's types, or rejected with a reason; nothing is dropped
silently. The rules are the same for API pages and imported files.
"""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Iterable

import pandas as pd

from warehouse.schemas import RAW_KEYS, RAW_SCHEMAS, to_frame

HEADLINE_MAX_WIDTH, DESCRIPTION_MAX_WIDTH = 30, 90
# Over the display limit is normal in exports (the scorer skips those assets); over 3x the limit is
# no ad text at all but a broken export (fields run together), so it is rejected here.
HARD_WIDTH_FACTOR = 3
MAX_ID_LENGTH = 128
MAX_LABEL_LENGTH = 200  # industry, keyword
PINS = {"HEADLINE": ("HEADLINE_1", "HEADLINE_2", "HEADLINE_3"),
        "DESCRIPTION": ("DESCRIPTION_1", "DESCRIPTION_2")}
_INT = re.compile(r"^\s*-?\d+\s*$")
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_C1 = re.compile("[\u0080-\u009f\ufffd\ud800-\udfff]")


class Invalid(ValueError):
    """One row breaks one rule; the message is the dead-letter reason."""


@dataclass
class Rejected:
    reason: str
    payload: dict


@dataclass
class Validated:
    table: str
    frame: pd.DataFrame
    rejected: list[Rejected] = field(default_factory=list)

    @property
    def received(self) -> int:
        return len(self.frame) + len(self.rejected)

    def reasons(self) -> dict[str, int]:
        """Reject counts by rule (the part of the reason before ':')."""
        return dict(Counter(r.reason.split(":")[0] for r in self.rejected))


def display_width(text: str) -> int:
    return sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in text)


def broken_encoding(text: str) -> bool:
    """Replacement characters, lone surrogates, C1 controls, or UTF-8 read as Latin-1/CP1252."""
    if _C1.search(text):
        return True
    for charset in ("latin-1", "cp1252"):
        try:
            fixed = text.encode(charset).decode("utf-8")
        except (UnicodeEncodeError, UnicodeDecodeError):
            continue
        if fixed != text:
            return True
    return False


def _missing(v: Any) -> bool:
    return v is None or (isinstance(v, float) and v != v) or v is pd.NA or v is pd.NaT


def _string(row: dict, name: str, required: bool, max_len: int | None = None) -> str:
    v = row.get(name)
    if _missing(v) or v == "":
        if required:
            raise Invalid(f"missing field: {name}")
        return ""
    if not isinstance(v, str):
        raise Invalid(f"wrong type: {name} is {type(v).__name__}, expected text")
    if broken_encoding(v):
        raise Invalid(f"broken encoding: {name}")
    if max_len is not None and len(v) > max_len:
        raise Invalid(f"over-long text: {name} has {len(v)} characters (max {max_len})")
    return v


def _text(row: dict, name: str, kind: str, required: bool) -> str:
    v = _string(row, name, required)
    limit = (HEADLINE_MAX_WIDTH if kind == "HEADLINE" else DESCRIPTION_MAX_WIDTH) * HARD_WIDTH_FACTOR
    if display_width(v) > limit:
        raise Invalid(f"over-long text: {name} is {display_width(v)} wide (hard max {limit})")
    return v


def _count(row: dict, name: str, required: bool) -> int | None:
    v = row.get(name)
    if _missing(v) or v == "":
        if required:
            raise Invalid(f"missing field: {name}")
        return None
    if isinstance(v, bool):
        raise Invalid(f"wrong type: {name} is a boolean")
    if isinstance(v, float):
        if not v.is_integer():
            raise Invalid(f"wrong type: {name}={v!r} is not a whole number")
        v = int(v)
    elif isinstance(v, str):
        if not _INT.match(v):
            raise Invalid(f"wrong type: {name}={v[:40]!r} is not a whole number")
        v = int(v)
    elif not isinstance(v, int):
        try:
            v = int(v)  # numpy integers
        except (TypeError, ValueError):
            raise Invalid(f"wrong type: {name} is {type(v).__name__}") from None
    if v < 0:
        raise Invalid(f"negative count: {name}={v}")
    return v


def _date(row: dict, date_range: tuple[dt.date, dt.date] | None) -> dt.date:
    v = row.get("date")
    if _missing(v) or v == "":
        raise Invalid("missing field: date")
    if isinstance(v, pd.Timestamp):
        d = v.date()
    elif isinstance(v, dt.datetime):
        d = v.date()
    elif isinstance(v, dt.date):
        d = v
    elif isinstance(v, str) and _DATE.match(v):
        try:
            d = dt.date.fromisoformat(v)
        except ValueError:
            raise Invalid(f"bad date: {v!r} is not a calendar date") from None
    else:
        raise Invalid(f"bad date: {str(v)[:40]!r} is not YYYY-MM-DD")
    if date_range and not date_range[0] <= d <= date_range[1]:
        raise Invalid(f"date out of range: {d} not in {date_range[0]}..{date_range[1]}")
    return d


def clean_ads(row: dict) -> dict:
    out = {"ad_id": _string(row, "ad_id", True, MAX_ID_LENGTH),
           "ad_group_id": _string(row, "ad_group_id", True, MAX_ID_LENGTH),
           "campaign_id": _string(row, "campaign_id", True, MAX_ID_LENGTH),
           "industry": _string(row, "industry", False, MAX_LABEL_LENGTH),
           "keyword": _string(row, "keyword", False, MAX_LABEL_LENGTH)}
    for name in ("headline_1", "headline_2", "headline_3"):
        out[name] = _text(row, name, "HEADLINE", required=name != "headline_3")
    for name in ("description_1", "description_2"):
        out[name] = _text(row, name, "DESCRIPTION", required=True)
    return out


def clean_performance(row: dict, date_range: tuple[dt.date, dt.date] | None = None) -> dict:
    out = {"date": _date(row, date_range), "ad_id": _string(row, "ad_id", True, MAX_ID_LENGTH),
           "impressions": _count(row, "impressions", True), "clicks": _count(row, "clicks", True),
           "conversions": _count(row, "conversions", False), "cost_micros": _count(row, "cost_micros", False)}
    if out["clicks"] > out["impressions"]:
        raise Invalid(f"clicks > impressions: {out['clicks']} > {out['impressions']}")
    return out


def clean_asset(row: dict) -> dict:
    kind = _string(row, "asset_type", True)
    if kind not in PINS:
        raise Invalid(f"bad asset_type: {kind[:40]!r} (HEADLINE or DESCRIPTION)")
    pin = _string(row, "pinned_field", False)
    if pin and pin not in PINS[kind]:
        raise Invalid(f"bad pinned_field: {pin[:40]!r} for a {kind}")
    return {"ad_group_id": _string(row, "ad_group_id", True, MAX_ID_LENGTH),
            "asset_id": _string(row, "asset_id", True, MAX_ID_LENGTH),
            "asset_type": kind, "text": _text(row, "text", kind, True), "pinned_field": pin}


def validate(table: str, rows: Iterable[dict], date_range: tuple[dt.date, dt.date] | None = None) -> Validated:
    """Split rows into a typed frame of good rows and rejects; the first row of a key wins."""
    if table not in RAW_SCHEMAS:
        raise KeyError(f"unknown raw table {table!r}")
    cleaners = {"raw.ads": clean_ads, "raw.asset_pools": clean_asset,
                "raw.ad_daily_performance": lambda r: clean_performance(r, date_range)}
    clean, keys = cleaners[table], RAW_KEYS[table]
    good, rejected, seen = [], [], set()
    for row in rows:
        if not isinstance(row, dict):
            rejected.append(Rejected("not an object", {"value": repr(row)[:1000]}))
            continue
        try:
            c = clean(row)
            key = tuple(c[k] for k in keys)
            if key in seen:
                raise Invalid(f"duplicate key: {', '.join(map(str, key))}")
        except Invalid as exc:
            rejected.append(Rejected(str(exc), row))
            continue
        seen.add(key)
        good.append(c)
    frame = to_frame(table, good) if good else to_frame(table, [])
    if table == "raw.ad_daily_performance" and good:
        frame["date"] = [r["date"] for r in good]  # already dates; skip string parsing
    return Validated(table, frame, rejected)
