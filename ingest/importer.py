"""Import a folder of exported files: all or nothing.

    1. find the files (and the column mapping),
    2. read and validate every file, whole (a refused file does not stop the others being checked,
       so one attempt reports every problem),
    3. cross-file rules (performance rows need their ad),
    4. refuse empty tables unless the caller allows them,
    5. only then write: the three raw tables and the dead-letter table in one transaction
       (Warehouse.merge_all); when the warehouse held another kind of source's data (the
       API), the same transaction empties the monitoring and experiment tables (ingest/source.py).
A refusal at any step returns before anything is written; a failure while writing is rolled back
by the warehouse. The caller switches its source only when `result.ok`.
"""

from __future__ import annotations

import datetime as dt
import os
import time
from collections import defaultdict
from dataclasses import dataclass, field

import numpy as np

from ingest.columns import MappingError, find_mapping, header_key, load_mapping
from ingest.files import (FILE_TABLES, FileRefused, ImportFormatError, Refusal, TableFile, encoding_problem,
                          find_files, open_table_file)
from ingest.load import dead_letter_frame, dead_letters_load, raw_load
from ingest.bulk import OPTIONAL_COUNTS, validate_performance_chunks
from ingest.validate import Validated, reject_unknown_ads, rule, validate
from warehouse.sql import Load, Scope

SOURCE = "files"
EXAMPLE_LINES = 3  # lines shown per reject reason
# Performance rows repeating an earlier row's (date, ad_id) above this share of the file: a report
# segmented by device, network, ... (a row per segment), refused unless its segments are added up.
SEGMENTED_SHARE = 0.10


@dataclass(frozen=True)
class ImportOptions:
    """How to read a folder. `today` is the import day (dates after it are rejected)."""

    encoding: str | None = None       # any Python codec name, for files without a BOM
    columns: str | None = None        # mapping file; default: columns.yaml/.yml/.json beside the data
    as_of: dt.date | None = None      # a performance file without dates: totals of the period ending here
    allow_empty: bool = False         # a zero-byte or header-only file empties its table
    sum_segments: bool = False        # a segmented performance report: each (date, ad_id)'s rows added up
    today: dt.date | None = None

    def to_json(self) -> dict:
        """What to record with the source, so a later run re-imports the folder the same way."""
        return {"encoding": self.encoding or "", "columns": self.columns or "",
                "as_of": self.as_of.isoformat() if self.as_of else "", "allow_empty": self.allow_empty,
                "sum_segments": self.sum_segments}

    @classmethod
    def from_json(cls, data: dict | None) -> "ImportOptions":
        data = data or {}
        as_of = data.get("as_of") or None
        return cls(encoding=data.get("encoding") or None, columns=data.get("columns") or None,
                   as_of=dt.date.fromisoformat(as_of) if as_of else None, allow_empty=bool(data.get("allow_empty")),
                   sum_segments=bool(data.get("sum_segments")))


@dataclass
class FileReport:
    table: str
    file: str
    format: str = ""
    encoding: str = ""
    rows_read: int = 0
    loaded: int = 0
    rejected: int = 0
    blank_lines: int = 0
    preamble_lines: int = 0
    reasons: dict[str, int] = field(default_factory=dict)     # rule → rows
    lines: dict[str, list[int]] = field(default_factory=dict)  # rule → first few lines
    seconds: float = 0.0
    first: dict[str, str] = field(default_factory=dict)        # rule → the first row's full reason
    rounded: int = 0                                           # rows whose fractional conversions were rounded
    rounded_lines: list[int] = field(default_factory=list)     # the first few of them
    notes: list[str] = field(default_factory=list)             # how the file was read, when not as asked
    missing: dict[str, int] = field(default_factory=dict)      # optional count column → rows without a value
    missing_rows: int = 0                                      # rows without a value in any of them
    missing_lines: list[int] = field(default_factory=list)     # the first few of them
    summed: int = 0                                            # rows added into an earlier row (--sum-segments)


@dataclass
class ImportResult:
    folder: str
    files: dict[str, FileReport] = field(default_factory=dict)   # table → report
    refusals: list[Refusal] = field(default_factory=list)
    written: bool = False
    seconds: float = 0.0
    previous: object = None                  # ingest.source.Source the warehouse recorded, if any
    cleared: dict[str, int] | None = None   # table → what it held, when the source changed (else None)

    @property
    def ok(self) -> bool:
        return self.written and not self.refusals

    def raise_if_refused(self) -> None:
        if self.refusals:
            raise ImportFormatError(self.refusals)

    def ingest_reports(self) -> dict:
        """Per-table ingest.run.IngestReport, the shape the Dagster assets report as metadata."""
        from ingest.run import IngestReport

        return {t: IngestReport(t, SOURCE, "all", f.rows_read, f.loaded, f.rejected, dict(f.reasons), f.seconds,
                                f.rounded, f.summed)
                for t, f in self.files.items()}


def missing_counts(columns, v: Validated) -> tuple[dict[str, int], int, list[int]]:
    """Rows loaded without a value ('--' or empty) in the optional count columns the file has:
    (rows per column, rows with any, the first few lines)."""
    present = [c for c in OPTIONAL_COUNTS if c in columns]
    if not present or not len(v.frame):
        return {}, 0, []
    masks = {c: v.frame[c].isna().to_numpy(dtype=bool) for c in present}
    rows = np.logical_or.reduce(list(masks.values()))
    lines = [v.lines[i] for i in np.flatnonzero(rows)[:EXAMPLE_LINES]] if v.lines else []
    return {c: int(m.sum()) for c, m in masks.items() if m.any()}, int(rows.sum()), lines


def _report(tf: TableFile, v: Validated, seconds: float) -> FileReport:
    reasons: dict[str, int] = defaultdict(int)
    lines: dict[str, list[int]] = defaultdict(list)
    first: dict[str, str] = {}
    for r in v.rejected:
        k = rule(r.reason)
        reasons[k] += 1
        first.setdefault(k, r.reason)
        if r.line is not None and len(lines[k]) < EXAMPLE_LINES:
            lines[k].append(r.line)
    return FileReport(tf.table, tf.name, tf.format, tf.encoding, tf.rows_read, len(v.frame), len(v.rejected),
                      tf.blank_lines, tf.preamble_lines, dict(reasons), dict(lines), seconds, first,
                      len(v.rounded), [x for x in v.rounded if x is not None][:EXAMPLE_LINES], list(tf.notes),
                      *missing_counts(tf.columns, v), v.summed)


def segmented(tf: TableFile, v: Validated) -> Refusal | None:
    """A performance file whose rows often repeat an earlier row's (date, ad_id) is a segmented
    report (a row per device, network, ...): its first rows alone would load one segment as the day."""
    repeats = v.reasons().get("duplicate key", 0)
    if repeats <= SEGMENTED_SHARE * v.received:
        return None
    return Refusal(tf.name, f"{repeats:,} of its {v.received:,} rows ({repeats / v.received:.0%}) repeat the date and "
                            "ad_id of an earlier row: the report looks segmented (by device, network, ...)",
                   "export it without segments, or pass --sum-segments to add up the rows of each date and ad")


# Segments that count one impression in several rows (a row per click type, per conversion action:
# Google Ads' names, in English and Japanese): their rows cannot be added up into the day's.
IMPRESSION_REPEATING_SEGMENTS = frozenset(header_key(h) for h in (
    "Click type", "クリックの種類", "クリック タイプ", "Conversion action", "コンバージョン アクション",
    "Conversion category", "コンバージョン カテゴリ", "Conversion action category", "Conversion source",
    "コンバージョン元", "Conversion name"))


def repeating_segment(tf: TableFile) -> Refusal | None:
    """A segmented report whose segment repeats impressions: --sum-segments would count them again."""
    for header in tf.ignored:
        if header_key(header) in IMPRESSION_REPEATING_SEGMENTS:
            return Refusal(tf.name, f"it is segmented by {header!r}, which counts an impression in several rows: "
                                    "adding its rows up would count impressions and clicks more than once",
                           "export it without that segment (a device or network segment can be added up with "
                           "--sum-segments)")
    return None


def read_folder(folder: str, options: ImportOptions = ImportOptions()) -> tuple[ImportResult, dict[str, Validated]]:
    """Steps 1-4: every file read and validated, nothing written. Refusals are in the result."""
    started = time.perf_counter()
    result = ImportResult(os.path.abspath(folder))
    try:
        mapping = load_mapping(find_mapping(folder, options.columns))
        found = find_files(folder, mapping)
    except MappingError as exc:
        result.refusals.append(Refusal(os.path.basename(exc.path), exc.problem, exc.fix, exc.line))
        return result, {}
    except ImportFormatError as exc:
        result.refusals.extend(exc.refusals)
        return result, {}
    today = options.today or dt.date.today()
    if options.encoding and (problem := encoding_problem(options.encoding)):
        result.refusals.append(problem)
        return result, {}
    if options.as_of and options.as_of > today:
        result.refusals.append(Refusal("--as-of", f"{options.as_of} is after the import day {today}",
                                       "give the last day of the period the totals cover"))
        return result, {}
    validated: dict[str, Validated] = {}
    opened: dict[str, TableFile] = {}
    names = {t: n for n, t in FILE_TABLES.items()}
    for table, path in found.items():
        t0 = time.perf_counter()
        try:
            tf = open_table_file(table, path, mapping.for_table(names[table]), options.encoding, options.as_of)
            if table == "raw.ad_daily_performance":  # the big one: column by column
                v = validate_performance_chunks(tf.chunks(), today=today, sum_segments=options.sum_segments)
            else:
                v = validate(table, tf.rows(), today=today)
        except FileRefused as exc:
            result.refusals.append(exc.refusal)
            continue
        v.rejected[:0] = tf.malformed  # rows the reader could not split come first, as in the file
        validated[table], opened[table] = v, tf
        result.files[table] = _report(tf, v, time.perf_counter() - t0)
        if table == "raw.ad_daily_performance":
            seg = segmented(tf, v)  # with --sum-segments the segments were added up, and None
            if (options.sum_segments or seg) and (refusal := repeating_segment(tf) or seg):
                result.refusals.append(refusal)
        if tf.empty or tf.rows_read == 0:
            if not options.allow_empty:
                what = tf.empty or "has a header but no rows"
                result.refusals.append(Refusal(tf.name, what, f"export it again; or pass --allow-empty to empty {table}"))
        elif not len(v.frame) and not options.allow_empty:
            result.refusals.append(Refusal(tf.name, f"every one of its {v.received:,} rows was rejected "
                                                    f"({', '.join(f'{n} {k}' for k, n in result.files[table].reasons.items())})",
                                           f"fix the rows (see the reasons), or pass --allow-empty to empty {table}"))
    perf, ads = "raw.ad_daily_performance", "raw.ads"
    if perf in validated and ads in validated:  # step 3: delivery of ads that are not there
        t0 = time.perf_counter()
        validated[perf] = reject_unknown_ads(validated[perf], validated[ads].frame["ad_id"].astype(str))
        result.files[perf] = _report(opened[perf], validated[perf],
                                     result.files[perf].seconds + time.perf_counter() - t0)
    result.seconds = time.perf_counter() - started
    return result, validated


def loads(validated: dict[str, Validated]) -> list[Load]:
    """The four replacements an import makes: each raw table, and the dead letters (the warehouse
    then holds the files' rows and their rejects alone)."""
    out = [raw_load(t, v.frame, Scope.everything()) for t, v in validated.items()]
    dead = [dead_letter_frame(SOURCE, t, v.rejected, lambda r: "all") for t, v in validated.items()]
    import pandas as pd

    frame = pd.concat(dead, ignore_index=True) if dead else dead_letter_frame(SOURCE, "", [], lambda r: "all")
    out.append(dead_letters_load(frame, Scope.everything()))
    return out


def write(wh, result: ImportResult, validated: dict[str, Validated]) -> ImportResult:
    """Step 5: replace the raw tables and the dead letters in one transaction (only for a result
    without refusals), emptying the state of another source's data in it (ingest/source.py: a
    warehouse without a record counts as another source). Warehouse errors propagate; the
    transaction is then rolled back."""
    from ingest.source import STATE_TABLES, Source, recorded_source, switch_loads

    if result.refusals:
        raise ValueError("a refused import cannot be written")
    started = time.perf_counter()
    result.previous = recorded_source(wh)
    switch, result.cleared = switch_loads(wh, result.previous, Source(SOURCE, result.folder), STATE_TABLES)
    wh.merge_all(loads(validated) + switch)
    result.written = True
    result.seconds += time.perf_counter() - started
    return result


def import_files(wh, folder: str, options: ImportOptions = ImportOptions()) -> ImportResult:
    """Read and validate every file, then replace the raw tables in one transaction, or refuse
    and write nothing. Warehouse errors while writing propagate (the transaction is rolled back)."""
    result, validated = read_folder(folder, options)
    return result if result.refusals else write(wh, result, validated)
