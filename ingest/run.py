"""One ingestion step end to end: fetch or read, validate, load, report. Called by the Dagster
assets, the CLI and the benchmark alike."""

from __future__ import annotations

import datetime as dt
import time
from dataclasses import dataclass, field

from ingest import api
from ingest.load import day_scope, ensure_tables, load
from ingest.validate import Validated, validate
from warehouse.sql import Scope


@dataclass
class IngestReport:
    table: str
    source: str
    partitions: str
    received: int
    loaded: int
    rejected: int
    reasons: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0
    rounded_conversions: int = 0  # rows whose fractional conversions were rounded (ingest.validate)
    summed: int = 0  # rows added into an earlier row of their (date, ad_id): a segmented report's (ingest.bulk)

    @property
    def rejected_share(self) -> float:
        return self.rejected / self.received if self.received else 0.0

    def metadata(self) -> dict:
        return {"table": self.table, "source": self.source, "partitions": self.partitions,
                "rows_received": self.received, "rows": self.loaded, "rows_rejected": self.rejected,
                "rejected_share": round(self.rejected_share, 6), "seconds": round(self.seconds, 2),
                "rows_per_second": round(self.received / max(self.seconds, 1e-9)),
                "reject_reasons": self.reasons, "rows_with_rounded_conversions": self.rounded_conversions,
                "rows_summed_from_segments": self.summed}


def _report(v: Validated, source: str, partitions: str, started: float) -> IngestReport:
    return IngestReport(v.table, source, partitions, v.received, len(v.frame), len(v.rejected), v.reasons(),
                        time.perf_counter() - started, len(v.rounded), v.summed)


def ingest_performance(client, wh, start: dt.date, end: dt.date) -> IngestReport:
    """Replace the performance partitions start..end (and their dead letters) with the API's rows."""
    started = time.perf_counter()
    rows = api.fetch_performance(client, start, end)
    v = validate("raw.ad_daily_performance", rows, (start, end))
    lo, hi = start.isoformat(), end.isoformat()

    def partition_of(r) -> str:  # a reject's own day when it has a valid one, else the range start
        d = r.payload.get("date") if isinstance(r.payload, dict) else None
        return d if isinstance(d, str) and lo <= d <= hi and len(d) == 10 else lo

    ensure_tables(wh)
    load(wh, v, source="api", scope=day_scope(start, end), partition_lo=lo, partition_hi=hi,
         partition_of=partition_of)
    return _report(v, "api", f"{lo}..{hi}", started)


def ingest_snapshot(client, wh, table: str, start: dt.date, end: dt.date) -> IngestReport:
    """Ads or pools as the API serves them now (current-state resources), filed under `end`.

    Ads are upserted by ad_id: an ad that stops being served keeps its text, which its past
    performance rows still need. Pools are replaced whole: the current pool is what gets scored.
    """
    started = time.perf_counter()
    rows = api.fetch_snapshot(client, table)
    v = validate(table, rows)
    scope = Scope.everything() if table == "raw.asset_pools" else None
    ensure_tables(wh)
    load(wh, v, source="api", scope=scope, partition_lo=start.isoformat(), partition_hi=end.isoformat(),
         partition_of=lambda r: end.isoformat())
    return _report(v, "api", f"{start.isoformat()}..{end.isoformat()}", started)


def import_folder(wh, folder: str, **options) -> dict[str, IngestReport]:
    """Replace all three raw tables with a folder's files, all or nothing (ingest.importer); the
    warehouse then holds that data alone. Options: ingest.importer.ImportOptions fields.
    Raises ImportFormatError (one Refusal per problem) when the folder cannot be imported."""
    from ingest.importer import ImportOptions, import_files

    result = import_files(wh, folder, ImportOptions(**options))
    result.raise_if_refused()
    return result.ingest_reports()
