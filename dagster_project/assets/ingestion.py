"""Raw assets: the ad-media API (or the bundled simulator), or imported files, into the raw tables.

The source is fixed when definitions are built from the settings (docs/ingestion.md):
- api: three daily-partitioned assets. A run covers one partition or, with the single-run backfill
  policy, a whole range at once (`adcombo run` ingests every day in one run). A partition load
  replaces exactly that partition (MERGE), so reruns and backfills never duplicate.
- files: one multi-asset with the same three keys that imports a folder (asset config `path`), so
  everything downstream is the same graph.
"""

import datetime as dt
import warnings

from dagster import (AssetExecutionContext, AssetSpec, Backoff, BackfillPolicy, Config, DailyPartitionsDefinition,
                     Failure, Jitter, MaterializeResult, MetadataValue, RetryPolicy, asset, multi_asset)
from pydantic import Field

from dagster import BetaWarning

from dagster_project.resources import AdMediaApiResource, ModelStoreResource, WarehouseResource

warnings.filterwarnings("ignore", category=BetaWarning, message=".*backfill_policy.*")

GROUP = "ingestion"
RAW_ASSETS = ("raw_ads", "raw_ad_daily_performance", "raw_asset_pools")
RAW_TABLES = ("raw.ads", "raw.ad_daily_performance", "raw.asset_pools")


TIMEZONE = "Asia/Tokyo"  # the market's days: a day's partition exists once that day has ended in Japan


def daily_partitions(settings) -> DailyPartitionsDefinition:
    """The raw assets' days: end_date is exclusive in Dagster; open-ended = a new one every day."""
    end = None if settings.open_ended else (settings.partition_end + dt.timedelta(days=1)).isoformat()
    return DailyPartitionsDefinition(start_date=settings.partition_start.isoformat(), end_date=end, timezone=TIMEZONE)

# Transient API trouble the client could not ride out: try the whole partition again later (the
# load is idempotent, so a retry after a partial failure is safe). Anything else (bad token, bad
# config, a bug) fails at once with allow_retries=False: waiting would not fix it.
RETRY = RetryPolicy(max_retries=3, delay=30, backoff=Backoff.EXPONENTIAL, jitter=Jitter.PLUS_MINUS)


def _summary(report) -> str:
    return (f"{report.table}: {report.loaded:,} rows loaded, {report.rejected:,} rejected "
            f"({report.rejected_share:.2%}) in {report.seconds:.1f}s")


def _result(report, asset_key=None) -> MaterializeResult:
    meta = report.metadata()
    meta["reject_reasons"] = MetadataValue.json(meta["reject_reasons"])
    return MaterializeResult(asset_key=asset_key, metadata=meta)


def _range(context: AssetExecutionContext) -> tuple[dt.date, dt.date]:
    keys = context.partition_key_range
    return dt.date.fromisoformat(keys.start), dt.date.fromisoformat(keys.end)


def _api_asset(name: str, table: str, description: str, partitions: DailyPartitionsDefinition):
    @asset(name=name, group_name=GROUP, kinds={"http"}, partitions_def=partitions,
           backfill_policy=BackfillPolicy.single_run(), retry_policy=RETRY, description=description)
    def _raw(context: AssetExecutionContext, admedia: AdMediaApiResource, warehouse: WarehouseResource):
        from admedia.client import AdMediaError
        from ingest.run import ingest_performance, ingest_snapshot

        start, end = _range(context)
        try:
            with admedia.connect(context.log) as (client, _first, _last), warehouse.open() as wh:
                if table == "raw.ad_daily_performance":
                    context.log.info(f"report job for {start} .. {end}")
                    report = ingest_performance(client, wh, start, end)
                else:
                    report = ingest_snapshot(client, wh, table, start, end)
        except AdMediaError as exc:
            if exc.exhausted:
                raise  # transient: the retry policy tries the partition again later
            raise Failure(f"ad-media API refused the request: {exc}", allow_retries=False) from None
        except Exception as exc:
            raise Failure(f"{type(exc).__name__}: {exc}", allow_retries=False) from exc
        context.log.info(_summary(report))
        return _result(report)

    return _raw


def _files_assets(import_path: str, options: dict):
    class ImportConfig(Config):
        path: str = Field(default=import_path,
                          description="folder with ads, ad_daily_performance and asset_pools (CSV, TSV or Parquet)")
        encoding: str = Field(default=options.get("encoding") or "",
                              description="encoding of files without a byte-order mark (e.g. cp932); empty: UTF-8")
        columns: str = Field(default=options.get("columns") or "",
                             description="column mapping file; empty: columns.yaml beside the data, if any")
        as_of: str = Field(default=options.get("as_of") or "",
                           description="a performance file without dates holds totals of the period ending here")
        allow_empty: bool = Field(default=bool(options.get("allow_empty")),
                                  description="accept empty or header-only files (their tables are emptied)")
        sum_segments: bool = Field(default=bool(options.get("sum_segments")),
                                   description="a segmented performance report (a row per device, network, ...): "
                                               "add up the rows of each date and ad")

    @multi_asset(
        specs=[AssetSpec(k, group_name=GROUP, kinds={"parquet"}, description=f"{t} from imported files (replace)")
               for k, t in zip(RAW_ASSETS, RAW_TABLES)],
        name="imported_files",
    )
    def imported_files(context: AssetExecutionContext, config: ImportConfig, warehouse: WarehouseResource,
                       model_store: ModelStoreResource):
        from ingest.importer import ImportOptions, import_files
        from ingest.report import format_import
        from ingest.source import retire_after_switch

        if not config.path:
            raise Failure("no import folder: run `adcombo import PATH`, or set `path` in this asset's config")
        options = ImportOptions.from_json({"encoding": config.encoding, "columns": config.columns,
                                           "as_of": config.as_of, "allow_empty": config.allow_empty,
                                           "sum_segments": config.sum_segments})
        with warehouse.open() as wh:  # all or nothing: a refused import writes nothing
            result = import_files(wh, config.path, options)
        lines = format_import(result)
        if result.refusals:
            raise Failure(description="\n".join(lines), allow_retries=False)
        for line in lines:
            context.log.info(line)
        # the warehouse held the API's data: its state went with it, and its production model goes
        if line := retire_after_switch(model_store.store(), result.previous, result.cleared):
            context.log.info(line)
        reports = result.ingest_reports()
        for key, table in zip(RAW_ASSETS, RAW_TABLES):
            yield _result(reports[table], asset_key=key)

    return imported_files


def build_assets(settings) -> list:
    """The raw assets of the configured source: three daily-partitioned API assets, or one
    multi-asset importing a folder of files under the same three keys."""
    if settings.source == "files":
        return [_files_assets(settings.import_path, settings.import_options)]
    partitions = daily_partitions(settings)
    return [
        _api_asset("raw_ads", "raw.ads", "Served ads (fixed combinations), daily snapshot → raw.ads (upsert)",
                   partitions),
        _api_asset("raw_ad_daily_performance", "raw.ad_daily_performance",
                   "Daily impressions and clicks per served ad (report job) → raw.ad_daily_performance "
                   "(partition overwrite)", partitions),
        _api_asset("raw_asset_pools", "raw.asset_pools",
                   "Candidate headline/description pools, daily snapshot → raw.asset_pools (replace)", partitions),
    ]
