"""Raw assets: the ad-media API (or the bundled simulator) into the warehouse's raw tables."""


import time

from dagster import AssetExecutionContext, MaterializeResult, MetadataValue, asset

from dagster_project.resources import AdMediaApiResource, WarehouseResource
from warehouse.schemas import RAW_SCHEMAS, to_frame

GROUP = "ingestion"


def _load(context, warehouse: WarehouseResource, table: str, rows: list[dict], started: float):
    frame = to_frame(table, rows)
    with warehouse.open() as wh:
        count = wh.replace_table(table, frame)
    elapsed = time.perf_counter() - started
    context.log.info(f"{table}: {count:,} rows in {elapsed:.1f}s ({count / max(elapsed, 1e-9):,.0f} rows/s)")
    return MaterializeResult(
        metadata={
            "table": table,
            "rows": count,
            "seconds": round(elapsed, 2),
            "rows_per_second": round(count / max(elapsed, 1e-9)),
            "preview": MetadataValue.md(frame.head(5).to_markdown(index=False)) if count else "empty",
        }
    )


@asset(group_name=GROUP, compute_kind="http", description="Served ads (fixed combinations) → raw.ads")
def raw_ads(context: AssetExecutionContext, admedia: AdMediaApiResource, warehouse: WarehouseResource):
    started = time.perf_counter()
    with admedia.connect(context.log) as (client, _start, _end):
        rows = list(client.iter_ads())
    return _load(context, warehouse, "raw.ads", rows, started)


@asset(
    group_name=GROUP,
    compute_kind="http",
    description="Daily impressions and clicks per served ad → raw.ad_daily_performance",
)
def raw_ad_daily_performance(
    context: AssetExecutionContext, admedia: AdMediaApiResource, warehouse: WarehouseResource
):
    started = time.perf_counter()
    with admedia.connect(context.log) as (client, start, end):
        context.log.info(f"fetching daily performance {start} .. {end}")
        rows = list(client.iter_daily_performance(start, end))
    return _load(context, warehouse, "raw.ad_daily_performance", rows, started)


@asset(group_name=GROUP, compute_kind="http", description="Candidate headline/description pools → raw.asset_pools")
def raw_asset_pools(context: AssetExecutionContext, admedia: AdMediaApiResource, warehouse: WarehouseResource):
    started = time.perf_counter()
    with admedia.connect(context.log) as (client, _start, _end):
        rows = list(client.iter_asset_pools())
    return _load(context, warehouse, "raw.asset_pools", rows, started)


__all__ = ["raw_ads", "raw_ad_daily_performance", "raw_asset_pools", "RAW_SCHEMAS"]
