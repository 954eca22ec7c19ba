"""Schema and business rules of the raw tables, as pure functions over received rows.

A row is kept, cleaned to the table's types, or rejected with a reason; nothing is dropped
silently. The rules are the same for API pages and imported files (docs/ingestion.md lists them).
Good rows are gathered column by column, so a million-row file does not become a million dicts.
"""

from __future__ import annotations

import datetime as dt
import decimal
import functools
import re
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Iterable

import numpy as np
import pandas as pd

from transforms.text import FORMULA_PREFIXES, ad_width, display_width
from warehouse.schemas import RAW_KEYS, RAW_SCHEMAS, to_frame

HEADLINE_MAX_WIDTH, DESCRIPTION_MAX_WIDTH = 30, 90
# Over the display limit is normal in exports (the scorer skips those assets); over 3x the limit is
# no ad text at all but a broken export (fields run together), so it is rejected here.
HARD_WIDTH_FACTOR = 3
MAX_ID_LENGTH = 128
MAX_LABEL_LENGTH = 200  # industry, keyword
INT64_MAX = 2**63 - 1
# One served ad's impressions in one row (a day, or one aggregated period). Google's whole search
# traffic is a few billion queries a day; a billion impressions for one ad is a broken export (a
# value pasted twice, a cost column shifted in), and larger sums would overflow in training.
MAX_IMPRESSIONS = 1_000_000_000
PINS = {"HEADLINE": ("HEADLINE_1", "HEADLINE_2", "HEADLINE_3"),
        "DESCRIPTION": ("DESCRIPTION_1", "DESCRIPTION_2")}
# A number, optionally with thousands separators and decimals as spreadsheets and ad platforms write
# them (Google Ads exports conversions as "3.00"): a count must be whole, "1,234.00" is.
_INT = re.compile(r"^\s*(-?)(\d+|\d{1,3}(?:,\d{3})+)(?:\.(\d+))?\s*$")
# YYYY-MM-DD, or YYYY/M/D as Japanese Excel saves dates; either with a time of day, as Excel rewrites
# dates ("2025-06-21 00:00:00", "2025/6/21 0:00"): midnight is the date, any other time is refused.
_DATE = re.compile(r"^(?:(\d{4})-(\d{1,2})-(\d{1,2})|(\d{4})/(\d{1,2})/(\d{1,2}))"
                   r"(?:[ T](\d{1,2}:\d{2}(?::\d{2}(?:\.\d{1,6})?)?))?$")
# The totals an export appends below its rows, in its first column: "Total: Account", "合計: キャンペーン"
# (the date column, or the ad_id column of a one-period export without dates). Still a dead letter
# (nothing is dropped unseen), with a reason that says what it is.
_TOTALS = re.compile(r"^(?:totals?|合計|総計)\s*(?:[:：].*)?$", re.IGNORECASE)
# Google Ads writes "--" for "no value" (a report's conversions or cost of a row without any).
NO_VALUE = "--"
_C1 = re.compile("[\u0080-\u009f\ufffd\ud800-\udfff]")
# OWASP CSV injection (transforms.text.FORMULA_PREFIXES): Google Ads Editor reads exported CSVs as
# a spreadsheet does. Such text cannot be neutralised in the upload file without changing the ad,
# so it is refused where it enters.
# A line break inside a quoted cell (Excel's Alt+Enter): Google Ads refuses ad text on two lines.
_LINE_BREAK = re.compile("[\r\n\u2028\u2029]")
FILE_KEYS = ("_file", "_line")  # where an imported row came from; kept in its dead-letter payload


class Invalid(ValueError):
    """One row breaks one rule; the message is the dead-letter reason."""


@dataclass
class Rejected:
    reason: str
    payload: dict

    @property
    def line(self) -> int | None:
        """Line of the imported file the row started on (None for API rows)."""
        v = self.payload.get("_line") if isinstance(self.payload, dict) else None
        return v if isinstance(v, int) else None


@dataclass
class Chunk:
    """Rows column by column (a million rows never become a million dicts): what file readers give.
    `originals` holds the rows as received when they came as dicts (an API page)."""

    columns: dict[str, list]     # adcombo name → values
    lines: list                  # the line each row starts on (a Parquet file: its row number), or None
    file: str = ""
    originals: list | None = None

    def __len__(self) -> int:
        return len(self.lines)

    def column(self, name: str):
        """A list, or an Arrow array (files read by Arrow's CSV reader)."""
        col = self.columns.get(name)
        return [None] * len(self.lines) if col is None else col

    def row(self, i: int):
        """Row i as received (with `_file` and `_line` for a file's row), for its dead letter."""
        if self.originals is not None:
            return self.originals[i]
        values = {n: (col[i].as_py() if hasattr(col, "type") else col[i]) for n, col in self.columns.items()}
        return {**values, "_file": self.file, "_line": self.lines[i]}


@dataclass
class Validated:
    table: str
    frame: pd.DataFrame
    rejected: list[Rejected] = field(default_factory=list)
    # Imported rows: file and line of each good row, so a later cross-file rule can say where.
    source_file: str = ""
    lines: list[int] | None = None
    rounded: list = field(default_factory=list)  # line (or None) of each row whose conversions were rounded
    summed: int = 0  # rows added into an earlier row of their key (a segmented report, ingest.bulk.add_up_segments)

    @property
    def received(self) -> int:
        return len(self.frame) + len(self.rejected) + self.summed

    def reasons(self) -> dict[str, int]:
        """Reject counts by rule (the part of the reason before ':')."""
        return dict(Counter(rule(r.reason) for r in self.rejected))


def rule(reason: str) -> str:
    return reason.split(":")[0]


def broken_encoding(text: str) -> bool:
    """Replacement characters, lone surrogates, C1 controls, or UTF-8 read as Latin-1/CP1252."""
    if text.isascii():
        return False
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


def _formula_check(name: str, v: str) -> None:
    if v.startswith(FORMULA_PREFIXES):
        raise Invalid(f"formula-like text: {name} starts with {v[0]!r}; Google Ads Editor and spreadsheets "
                      "would read it as a formula: remove or change the first character")


def _string(row: dict, name: str, required: bool, max_len: int | None = None, exported: bool = False) -> str:
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
    if exported:
        _formula_check(name, v)
    return v


def _trimmed(row: dict, name: str) -> dict:
    """The row with `name` stripped of surrounding whitespace (the full-width space U+3000 too):
    for ids and enumerations a stray space from a spreadsheet cell is no part of the value ("ad1 "
    would match no performance row). Ad texts are never stripped: they are exported as written."""
    v = row.get(name)
    return {name: v.strip()} if isinstance(v, str) and v != v.strip() else row


def _id(row: dict, name: str, exported: bool = True) -> str:
    """An id: text, or an integer as its decimal digits (BigQuery and the Google Ads API export ids
    as INT64; a float or a boolean is no id)."""
    v = row.get(name)
    if isinstance(v, (int, np.integer)) and not isinstance(v, (bool, np.bool_)):
        row = {name: str(int(v))}
    return _string(_trimmed(row, name), name, True, MAX_ID_LENGTH, exported=exported)


def _text(row: dict, name: str, kind: str, required: bool) -> str:
    v = _string(row, name, required, exported=True)
    if _LINE_BREAK.search(v):
        raise Invalid(f"line break in {name}: Google Ads refuses ad text on more than one line: put it on one line")
    limit = (HEADLINE_MAX_WIDTH if kind == "HEADLINE" else DESCRIPTION_MAX_WIDTH) * HARD_WIDTH_FACTOR
    if display_width(v) > limit and ad_width(v) > limit:  # customizers count their default text
        raise Invalid(f"over-long text: {name} is {ad_width(v)} wide (hard max {limit})")
    return v


def fractional(v: Any) -> bool:
    """A count written with a non-zero fraction ("0.50", 2.5): conversions are rounded (rules below)."""
    if isinstance(v, float):
        return v == v and not v.is_integer()
    m = _INT.match(v) if isinstance(v, str) else None
    return bool(m and (m.group(3) or "").strip("0"))


def _count(row: dict, name: str, required: bool, upper: int = INT64_MAX, upper_why: str = "",
           rounds: bool = False) -> int | None:
    """rounds: a fractional value is rounded to the nearest whole number (halves to even, so sums
    stay unbiased) instead of rejected. An empty cell or Google Ads' "--" is no value: None in an
    optional column, a missing field in a required one."""
    v = row.get(name)
    if type(v) is str and v.isdigit() and v.isascii():  # the common case, without a regex
        v = int(v)
    elif _missing(v) or (isinstance(v, str) and v.strip() in ("", NO_VALUE)):
        if required:
            raise Invalid(f"missing field: {name}" + (f" is {v.strip()!r} (no value); {name} is required"
                                                      if isinstance(v, str) and v.strip() else ""))
        return None
    elif isinstance(v, bool):
        raise Invalid(f"wrong type: {name} is a boolean")
    elif isinstance(v, float):
        if v != v or v in (float("inf"), float("-inf")) or (not v.is_integer() and not rounds):
            raise Invalid(f"wrong type: {name}={v!r} is not a whole number")
        if v < 0 and not v.is_integer():
            raise Invalid(f"negative count: {name}={v}")
        v = round(v)
    elif isinstance(v, str):
        m = _INT.match(v)
        fraction = (m.group(3) or "").rstrip("0") if m else ""
        if not m or (fraction and not rounds):
            raise Invalid(f"wrong type: {name}={v[:40]!r} is not a whole number")
        if fraction and m.group(1):
            raise Invalid(f"negative count: {name}={v.strip()}")
        whole = m.group(2).replace(",", "")
        v = int(m.group(1) + whole) if not fraction else \
            int(decimal.Decimal(f"{whole}.{fraction}").to_integral_value(decimal.ROUND_HALF_EVEN))
    elif not isinstance(v, int):
        try:
            v = int(v)  # numpy integers
        except (TypeError, ValueError):
            raise Invalid(f"wrong type: {name} is {type(v).__name__}") from None
    if v < 0:
        raise Invalid(f"negative count: {name}={v}")
    if v > INT64_MAX:
        raise Invalid(f"out of range: {name}={v} does not fit a 64-bit integer")
    if v > upper:
        raise Invalid(f"implausible count: {name}={v:,} is above {upper:,}{upper_why}")
    return v


@functools.lru_cache(maxsize=4096)
def _parse_date(v: str) -> dt.date:
    """One date object per distinct string (a file repeats a few hundred days a million times)."""
    m = _DATE.match(v)
    if not m:
        if is_totals_label(v):
            raise Invalid(f"totals line: {v[:40]!r} is the export's sum of the rows above, not a day's row")
        raise Invalid(f"bad date: {v[:40]!r} is not YYYY-MM-DD")
    if m.group(7) and m.group(7).strip("0:.") != "":
        raise Invalid(f"bad date: {v!r} is a date with a time of day: the report must be daily")
    y, mo, d = (int(x) for x in (m.group(1, 2, 3) if m.group(1) else m.group(4, 5, 6)))
    try:
        return dt.date(y, mo, d)
    except ValueError:
        raise Invalid(f"bad date: {v!r} is not a calendar date") from None


def is_totals_label(v: str) -> bool:
    """An export's totals line label ("Total: Account", "合計: アカウント")."""
    return _TOTALS.match(v.strip()) is not None


def _date(row: dict, date_range: tuple[dt.date, dt.date] | None, today: dt.date | None) -> dt.date:
    v = row.get("date")
    if _missing(v) or v == "":
        raise Invalid("missing field: date")
    if isinstance(v, dt.datetime):  # pd.Timestamp too: Parquet's timestamps, Excel's dates
        if v.time() != dt.time(0) or getattr(v, "nanosecond", 0):
            # A time of day is an hourly report, or a day stored in another time zone (JST's midnight
            # is 15:00 UTC the day before): taking its date could put the row on the wrong day.
            raise Invalid(f"bad date: {str(v)[:40]!r} is a date with a time of day: the report must be daily")
        d = v.date()
    elif isinstance(v, dt.date):
        d = v
    elif isinstance(v, str):
        d = _parse_date(v.strip())
    else:
        raise Invalid(f"bad date: {str(v)[:40]!r} is not YYYY-MM-DD")
    if date_range and not date_range[0] <= d <= date_range[1]:
        raise Invalid(f"date out of range: {d} not in {date_range[0]}..{date_range[1]}")
    if today is not None and d > today:
        raise Invalid(f"date in the future: {d} is after the import day {today}")
    return d


def clean_ads(row: dict) -> dict:
    out = {"ad_id": _id(row, "ad_id"), "ad_group_id": _id(row, "ad_group_id"), "campaign_id": _id(row, "campaign_id"),
           "industry": _string(row, "industry", False, MAX_LABEL_LENGTH),
           "keyword": _string(row, "keyword", False, MAX_LABEL_LENGTH)}
    # Served ads often show two headlines or one description: H3 and D2 may be empty.
    for name in ("headline_1", "headline_2", "headline_3"):
        out[name] = _text(row, name, "HEADLINE", required=name != "headline_3")
    for name in ("description_1", "description_2"):
        out[name] = _text(row, name, "DESCRIPTION", required=name == "description_1")
    return out


def clean_performance(row: dict, date_range: tuple[dt.date, dt.date] | None = None,
                      today: dt.date | None = None) -> dict:
    ad = row.get("ad_id")
    if isinstance(ad, str) and is_totals_label(ad):
        raise Invalid(f"totals line: {ad.strip()[:40]!r} is the export's sum of the rows above, not an ad's row")
    impressions = _count(row, "impressions", True, MAX_IMPRESSIONS, " impressions in one row (MAX_IMPRESSIONS)")
    out = {"date": _date(row, date_range, today), "ad_id": _id(row, "ad_id", exported=False),
           "impressions": impressions, "clicks": _count(row, "clicks", True),
           # Conversions are optional, unused by the model and genuinely fractional in Google Ads
           # (data-driven attribution): rounded, so the row's impressions and clicks are kept.
           "conversions": _count(row, "conversions", False, rounds=True),
           "cost_micros": _count(row, "cost_micros", False)}
    if out["clicks"] > out["impressions"]:
        raise Invalid(f"clicks > impressions: {out['clicks']} > {out['impressions']}")
    return out


def clean_asset(row: dict) -> dict:
    kind = _string(_trimmed(row, "asset_type"), "asset_type", True)
    if kind not in PINS:
        raise Invalid(f"bad asset_type: {kind[:40]!r} (HEADLINE or DESCRIPTION)")
    pin = _string(_trimmed(row, "pinned_field"), "pinned_field", False)
    if pin and pin not in PINS[kind]:
        raise Invalid(f"bad pinned_field: {pin[:40]!r} for a {kind}")
    return {"ad_group_id": _id(row, "ad_group_id"), "asset_id": _id(row, "asset_id"),
            "asset_type": kind, "text": _text(row, "text", kind, True), "pinned_field": pin}


def _frame(table: str, columns: dict[str, list]) -> pd.DataFrame:
    """Good rows (gathered column by column) as a frame with exactly the table's columns and types."""
    out = {}
    for name, kind in RAW_SCHEMAS[table]:
        values = columns[name]
        if kind == "INT64":
            if any(v is None for v in values):
                out[name] = pd.array(values, dtype="Int64")
            else:
                out[name] = pd.array(np.fromiter(values, dtype=np.int64, count=len(values)), dtype="Int64")
        elif kind == "DATE":
            out[name] = pd.Series(values, dtype=object)  # datetime.date objects, kept as dates
        else:
            out[name] = pd.array(values, dtype="string")
    return pd.DataFrame(out)


def validate(table: str, rows: Iterable[dict], date_range: tuple[dt.date, dt.date] | None = None,
             today: dt.date | None = None) -> Validated:
    """Split rows into a typed frame of good rows and rejects; the first row of a key wins.

    date_range: performance dates must lie inside it (an API partition); today: performance dates
    after it are rejected (an import: nothing can have been delivered in the future).
    """
    if table not in RAW_SCHEMAS:
        raise KeyError(f"unknown raw table {table!r}")
    if table == "raw.ad_daily_performance":  # a million rows: column by column, same rules (ingest.bulk)
        from ingest.bulk import validate_performance

        return validate_performance(rows, date_range, today)
    cleaners = {"raw.ads": clean_ads, "raw.asset_pools": clean_asset}
    clean, keys = cleaners[table], RAW_KEYS[table]
    names = [c for c, _ in RAW_SCHEMAS[table]]
    columns: dict[str, list] = {c: [] for c in names}
    appends = [(c, columns[c].append) for c in names]
    rejected, seen, lines, source_file = [], set(), [], ""
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
        for name, append in appends:
            append(c[name])
        if "_line" in row:
            lines.append(row["_line"])
            source_file = row["_file"]
    frame = _frame(table, columns) if columns[names[0]] else to_frame(table, [])
    return Validated(table, frame, rejected, source_file, lines if len(lines) == len(frame) else None)


def reject_unknown_ads(performance: Validated, ad_ids: Iterable[str]) -> Validated:
    """Performance rows whose ad is not among the ads loaded become dead letters: with no text
    they cannot train, and they would count delivery no ad accounts for."""
    known = set(ad_ids)
    frame = performance.frame
    unknown = ~frame["ad_id"].isin(known).to_numpy(dtype=bool) if len(frame) else np.zeros(0, dtype=bool)
    if not unknown.any():
        return performance
    bad = frame[unknown]
    lines = performance.lines
    where = [{"_file": performance.source_file, "_line": lines[i]} for i in np.flatnonzero(unknown)] if lines \
        else [{}] * int(unknown.sum())
    rejected = list(performance.rejected)
    for r, w in zip(bad.astype(object).where(bad.notna(), None).to_dict("records"), where):
        rejected.append(Rejected(f"unknown ad_id: {r['ad_id']} is not in the ads file (or its row was rejected)",
                                 {**{k: (v.isoformat() if isinstance(v, dt.date) else v) for k, v in r.items()}, **w}))
    kept = None if lines is None else [line for line, u in zip(lines, unknown) if not u]
    # a rejected row's rounded conversions are not loaded: not counted (rows without a line are kept)
    gone = set() if lines is None else {lines[i] for i in np.flatnonzero(unknown)}
    rounded = [line for line in performance.rounded if line is None or line not in gone]
    return Validated(performance.table, frame[~unknown].reset_index(drop=True), rejected,
                     performance.source_file, kept, rounded, performance.summed)
