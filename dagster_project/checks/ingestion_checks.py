"""Ingestion checks: the share of rejected rows per raw table stays under a threshold."""

from dagster import AssetCheckResult, AssetCheckSeverity, asset_check

from dagster_project.resources import WarehouseResource
from warehouse.schemas import DEAD_LETTERS_TABLE


def rejected_share(wh, table: str, source: str) -> tuple[int, int, float]:
    """(rows, rejected, rejected / received) of the latest loads of `table` from `source`."""
    if not wh.table_exists(DEAD_LETTERS_TABLE):
        return wh.row_count(table), 0, 0.0
    dead = int(wh.query(
        f"SELECT COUNT(*) AS n FROM `{DEAD_LETTERS_TABLE}` WHERE table_name = @t AND source = @s",
        {"t": table, "s": source})["n"].iloc[0])
    rows = wh.row_count(table)
    return rows, dead, dead / (rows + dead) if rows + dead else 0.0


def _check(asset: str, table: str, source: str, threshold: float):
    @asset_check(asset=asset, name="rejected_share_below_threshold",
                 description=f"Rejected rows of {table} (dead letters) stay under {threshold:.1%} "
                             "(ADCOMBO_MAX_REJECTED_SHARE).")
    def _rejected(warehouse: WarehouseResource) -> AssetCheckResult:
        with warehouse.open() as wh:
            rows, dead, share = rejected_share(wh, table, source)
        return AssetCheckResult(
            passed=share <= threshold, severity=AssetCheckSeverity.ERROR,
            metadata={"rows": rows, "rejected": dead, "rejected_%": round(share * 100, 2),
                      "threshold_%": round(threshold * 100, 2), "dead_letters": DEAD_LETTERS_TABLE})

    return _rejected


def build_checks(settings) -> list:
    return [_check(asset, table, settings.source, settings.max_rejected_share) for asset, table in (
        ("raw_ads", "raw.ads"), ("raw_ad_daily_performance", "raw.ad_daily_performance"),
        ("raw_asset_pools", "raw.asset_pools"))]
