"""The performance table's rules on a million rows: column by column for the plain rows.

A performance export is mostly plain rows: ASCII digits, a handful of distinct dates, ids that
repeat. Those are checked per column (a regex over an Arrow array, one check per distinct date and
per distinct ad id) in chunks; every row that is not plainly good goes through
ingest.validate.clean_performance, which accepts it (a "1,234" count, a YYYY/M/D date) or names the
rule it breaks. So the rules stay in one place, and a test proves both paths agree row for row.
Duplicate keys are found last, over the good rows in file order: the first row of a key wins.
"""

from __future__ import annotations

import datetime as dt
from itertools import islice
from typing import Iterable

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from ingest import validate as rules

TABLE = "raw.ad_daily_performance"
CHUNK = 65_536
COUNTS = (("impressions", 9, False), ("clicks", 9, False), ("conversions", 18, True), ("cost_micros", 18, True))
# 9 digits stay below MAX_IMPRESSIONS; 18 below the int64 limit: beyond, the general rules decide.
assert 10**9 - 1 <= rules.MAX_IMPRESSIONS and 10**18 - 1 <= rules.INT64_MAX
_NO_VALUES = pa.array(["", rules.NO_VALUE])
OPTIONAL_COUNTS = tuple(name for name, _, optional in COUNTS if optional)


def _plain_counts(values: list, digits: int, optional: bool) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(plain mask, int64 values, null mask): plain are non-negative whole numbers of at most
    `digits` digits, as text or as integers (and, when optional, nothing)."""
    n = len(values)
    if isinstance(values, pa.Array):
        arr = values if values.type == pa.string() else None
        values = values.to_pylist() if arr is None else values
    else:
        try:
            arr = pa.array(values, type=pa.string())
        except (pa.ArrowTypeError, pa.ArrowInvalid):
            arr = None
    if arr is not None:
        # optional: an empty cell or Google Ads' "--" is no value (other blanks: the row rules)
        empty = (pc.or_kleene(pc.is_null(arr), pc.is_in(arr, value_set=_NO_VALUES)) if optional
                 else pc.is_null(arr)).to_numpy(zero_copy_only=False)
        plain = pc.fill_null(pc.match_substring_regex(arr, f"^[0-9]{{1,{digits}}}$"), False).to_numpy(zero_copy_only=False)
        ints = pc.cast(pc.if_else(pa.array(plain), arr, "0"), pa.int64()).to_numpy(zero_copy_only=False)
    else:  # integers from Parquet or an API (or a mix, which the general rules sort out)
        series = pd.Series(values, dtype=object)
        empty = series.isna().to_numpy() if optional else np.zeros(n, dtype=bool)
        ok_type = np.array([type(v) is int for v in values], dtype=bool)
        ints = np.zeros(n, dtype=np.int64)
        if ok_type.any():
            raw = [v if t else 0 for v, t in zip(values, ok_type)]
            big = np.array([abs(v) >= 10**digits for v in raw], dtype=bool)
            ok_type &= ~big
            ints = np.array([v if t else 0 for v, t in zip(raw, ok_type)], dtype=np.int64)
        plain = ok_type & (ints >= 0)
    if optional:
        plain = plain | empty
    return plain, np.where(plain & ~empty, ints, 0), empty


def _by_distinct(values, check) -> tuple[np.ndarray, np.ndarray]:
    """Apply `check` once per distinct value: (ok mask, checked value per row or None)."""
    if isinstance(values, pa.Array):
        encoded = values.dictionary_encode()
        codes = encoded.indices.fill_null(-1).to_numpy(zero_copy_only=False)
        uniques = encoded.dictionary.to_pylist()
    elif len({type(v) for v in values} - {type(None)}) > 1:  # 12 and 12.0, 1 and True hash alike: keep types apart
        codes, uniques, seen = np.full(len(values), -1, dtype=np.int64), [], {}
        for i, v in enumerate(values):
            if v is not None and not (isinstance(v, float) and v != v):
                codes[i] = seen.setdefault((type(v), v), len(seen))
                if codes[i] == len(uniques):
                    uniques.append(v)
    else:
        codes, uniques = pd.factorize(pd.Series(values, dtype=object), use_na_sentinel=True)
    checked = [check(u) for u in uniques]
    lookup = np.array([c is not None for c in checked] + [False], dtype=bool)
    objects = np.array(checked + [None], dtype=object)
    return lookup[codes], objects[codes]


def _ad_id(v):
    if type(v) is int:  # an INT64 id (Parquet from BigQuery, the Google Ads API): its digits, as the row rules
        v = str(v)
    elif type(v) is str:  # surrounding whitespace is no part of an id (the row rules strip it too)
        v = v.strip()
    ok = type(v) is str and 0 < len(v) <= rules.MAX_ID_LENGTH and v.isascii() and v.isprintable()
    return v if ok and not rules.is_totals_label(v) else None  # a totals line: the row rules say so


def _chunk_frames(chunk: rules.Chunk, start: int, date_range, today):
    """(frame of plainly good rows with their order and line, the other rows' positions)."""
    n = len(chunk)
    ok = np.ones(n, dtype=bool)
    if chunk.originals is not None:
        ok &= np.array([isinstance(r, dict) for r in chunk.originals], dtype=bool)
    ints, nulls = {}, {}
    for name, digits, optional in COUNTS:
        plain, values, empty = _plain_counts(chunk.column(name), digits, optional)
        ok &= plain
        ints[name], nulls[name] = values, empty

    def check_date(v):
        try:
            return rules._date({"date": v}, date_range, today)
        except rules.Invalid:
            return None

    date_ok, dates = _by_distinct(chunk.column("date"), check_date)
    ad_ok, ads = _by_distinct(chunk.column("ad_id"), _ad_id)
    ok &= date_ok & ad_ok & (ints["clicks"] <= ints["impressions"])
    idx = np.flatnonzero(ok)
    lines = np.array([-1 if x is None else x for x in chunk.lines], dtype=np.int64)
    frame = pd.DataFrame({
        "date": dates[idx], "ad_id": ads[idx],
        **{name: pd.array(ints[name][idx], dtype="Int64") for name, *_ in COUNTS},
        "_order": start + idx, "_line": lines[idx],
    })
    for name, _, optional in COUNTS:
        if optional:
            frame.loc[nulls[name][idx], name] = pd.NA
    return frame, np.flatnonzero(~ok)


def chunks_of(rows: Iterable[dict]) -> Iterable[rules.Chunk]:
    """Rows as received (dicts, e.g. an API page) in chunks of columns."""
    names = [c for c, _ in rules.RAW_SCHEMAS[TABLE]]
    it = iter(rows)
    while batch := list(islice(it, CHUNK)):
        dicts = [r if isinstance(r, dict) else {} for r in batch]
        lines = [r.get("_line") for r in dicts]
        yield rules.Chunk({n: [r.get(n) for r in dicts] for n in names}, lines,
                          next((r["_file"] for r in dicts if "_file" in r), ""), originals=batch)


def validate_performance(rows: Iterable[dict], date_range: tuple[dt.date, dt.date] | None = None,
                         today: dt.date | None = None) -> rules.Validated:
    """ingest.validate.validate for raw.ad_daily_performance rows (dicts), column by column."""
    return validate_performance_chunks(chunks_of(rows), date_range, today)


KEY = ["date", "ad_id"]
LIMITS = {"impressions": (rules.MAX_IMPRESSIONS, "implausible count"),
          **{name: (rules.INT64_MAX, "out of range") for name, *_ in COUNTS[1:]}}


def _sum(grouped, column: pd.Series, name: str) -> pd.Series:
    """Per key, the sum of a count column (missing when every row of the key is): exact, in int64
    when no sum can pass its limit, else in Python integers (a cost near 2**63, never in practice)."""
    top = column.max()
    if pd.isna(top) or int(top) * int(grouped.size().max()) <= rules.INT64_MAX:
        return grouped[name].sum(min_count=1)
    return grouped[name].agg(lambda s: sum(int(x) for x in s.dropna()) if s.notna().any() else pd.NA).astype(object)


def add_up_segments(good: pd.DataFrame, source_file: str = "") -> tuple[pd.DataFrame, int, list]:
    """The good rows with each (date, ad_id)'s rows added up into its first (order and line): a
    report segmented by device or network has a row per segment, and their counts add up to the
    day's. A count missing in every row of a key stays missing. Returns (rows, rows added into
    another, rejects: every row of a key whose sums break a count's limit)."""
    repeated = good.duplicated(KEY, keep=False).to_numpy()
    if not repeated.any():
        return good, 0, []
    counts = [name for name, *_ in COUNTS]
    multi = good[repeated].astype({c: "Int64" for c in counts})
    grouped = multi.groupby(KEY, sort=False)
    sums = pd.DataFrame({c: _sum(grouped, multi[c], c) for c in counts})
    reason = pd.Series("", index=sums.index)
    for name, (limit, rule) in LIMITS.items():
        over = sums[name].fillna(0).gt(limit).astype(bool) & (reason == "")
        reason[over] = [f"{rule}: {name} of the rows of {d}, {a} adds up to {v:,}, above {limit:,}"
                        for (d, a), v in sums.loc[over, name].items()]
    row_reason = reason.reindex(pd.MultiIndex.from_frame(multi[KEY])).to_numpy()
    rejected = [(r["_order"], rules.Rejected(why, _payload(r, source_file)))
                for r, why in zip(multi[row_reason != ""].to_dict("records"), row_reason[row_reason != ""])]
    ok = (reason == "").to_numpy()
    added = sums[ok].astype("Int64").join(grouped[["_order", "_line"]].first()[ok]).reset_index()
    out = pd.concat([good[~repeated].astype({c: "Int64" for c in counts}), added],
                    ignore_index=True).sort_values("_order", kind="stable")
    return out, int((grouped.size()[ok] - 1).sum()), rejected


def _payload(r: dict, source_file: str) -> dict:
    """A good row as a dead letter's payload: dates as text, no internal order, its file and line."""
    payload = {k: (v.isoformat() if isinstance(v, dt.date) else (None if v is pd.NA else v))
               for k, v in r.items() if k != "_order"}
    if payload.get("_line", -1) >= 0:
        payload["_file"] = source_file
    else:
        payload.pop("_line", None)
    return payload


def validate_performance_chunks(chunks: Iterable[rules.Chunk], date_range: tuple[dt.date, dt.date] | None = None,
                                today: dt.date | None = None, sum_segments: bool = False) -> rules.Validated:
    """The performance rules over chunks of columns (what file readers give). sum_segments: the rows
    of one (date, ad_id) are added up (add_up_segments), instead of the first winning."""
    frames, rejected, rounded, source_file, start = [], [], [], "", 0
    for chunk in chunks:
        frame, others = _chunk_frames(chunk, start, date_range, today)
        frames.append(frame)
        fallback = []
        for i in others:
            row = chunk.row(int(i))
            order = start + int(i)
            if not isinstance(row, dict):
                rejected.append((order, rules.Rejected("not an object", {"value": repr(row)[:1000]})))
                continue
            try:
                c = rules.clean_performance(row, date_range, today)
            except rules.Invalid as exc:
                rejected.append((order, rules.Rejected(str(exc), row)))
                continue
            line = row.get("_line")
            if rules.fractional(row.get("conversions")):
                rounded.append(line)
            fallback.append({**c, "_order": order, "_line": -1 if line is None else line})
        if fallback:
            frames.append(pd.DataFrame(fallback, dtype=object))  # None beside a 19-digit count: no floats
        source_file = source_file or chunk.file
        start += len(chunk)
    names = [c for c, _ in rules.RAW_SCHEMAS[TABLE]]
    frames = [f for f in frames if len(f)]
    if not frames:
        return rules.Validated(TABLE, rules.to_frame(TABLE, []), [r for _, r in sorted(rejected, key=lambda x: x[0])],
                               source_file, [] if source_file else None, rounded)
    good = pd.concat(frames, ignore_index=True)
    if len(frames) > 1 and not good["_order"].is_monotonic_increasing:  # rows the row rules accepted
        good = good.sort_values("_order", kind="stable")
    summed = 0
    if sum_segments:
        good, summed, over = add_up_segments(good, source_file)
        rejected += over
    dup = good.duplicated(KEY, keep="first").to_numpy()
    for r in good[dup].to_dict("records"):
        rejected.append((r["_order"], rules.Rejected(f"duplicate key: {r['date']}, {r['ad_id']}",
                                                     _payload(r, source_file))))
    if dup.any():
        good = good[~dup]
    lines = good["_line"].tolist()
    out = pd.DataFrame({
        "date": pd.Series(good["date"].to_numpy(), dtype=object),
        "ad_id": pd.array(good["ad_id"].astype(str).to_numpy(), dtype="string"),
        **{name: good[name].astype("Int64").array for name, *_ in COUNTS},
    })[names]
    has_lines = bool(lines) and min(lines) >= 0
    return rules.Validated(TABLE, out, [r for _, r in sorted(rejected, key=lambda x: x[0])], source_file,
                           lines if has_lines else None, rounded, summed)
