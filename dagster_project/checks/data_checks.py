"""Asset checks: data rules that must hold for downstream assets to be trusted."""


from dagster import AssetCheckResult, AssetCheckSeverity, asset_check

from dagster_project.metadata import table
from dagster_project.resources import WarehouseResource
from warehouse.schemas import TOP_COMBINATIONS_TABLE


@asset_check(asset="raw_ad_daily_performance", description="No negative counts and clicks ≤ impressions.")
def performance_counts_are_sane(warehouse: WarehouseResource) -> AssetCheckResult:
    with warehouse.open() as wh:
        bad = wh.query(
            "SELECT COUNT(*) AS n FROM `raw.ad_daily_performance` "
            "WHERE impressions < 0 OR clicks < 0 OR clicks > impressions"
        )["n"].iloc[0]
        total = wh.row_count("raw.ad_daily_performance")
    return AssetCheckResult(passed=bool(bad == 0), metadata={"bad_rows": int(bad), "rows": int(total)})


@asset_check(
    asset="top_combinations",
    description="Every ad group with a pool got ranked combinations (ranks 1..n without gaps) or is "
                "listed in serving.unscored_ad_groups with the reason.",
)
def every_ad_group_ranked(warehouse: WarehouseResource) -> AssetCheckResult:
    with warehouse.open() as wh:
        missing = wh.query(
            "SELECT p.ad_group_id, ANY_VALUE(u.reason) AS reason FROM `raw.asset_pools` AS p "
            f"LEFT JOIN `{TOP_COMBINATIONS_TABLE}` AS t ON p.ad_group_id = t.ad_group_id "
            "LEFT JOIN `serving.unscored_ad_groups` AS u ON p.ad_group_id = u.ad_group_id "
            "WHERE t.ad_group_id IS NULL GROUP BY p.ad_group_id ORDER BY p.ad_group_id"
        )
        gaps = wh.query(
            f"SELECT COUNT(*) AS n FROM (SELECT ad_group_id, MAX(rank) AS m, COUNT(*) AS c "
            f"FROM `{TOP_COMBINATIONS_TABLE}` GROUP BY ad_group_id) WHERE m != c"
        )["n"].iloc[0]
    # An ad group whose pool allows no valid combination (all assets too wide, say) is a warning
    # that names each one and why; one without a recorded reason is lost, an error.
    unexplained = missing[missing["reason"].isna()]
    listed = "; ".join(f"{r.ad_group_id}: {r.reason if isinstance(r.reason, str) else 'no reason recorded'}"
                       for r in missing.head(5).itertuples())
    more = f" (and {len(missing) - 5} more: table serving.unscored_ad_groups)" if len(missing) > 5 else ""
    return AssetCheckResult(
        description=f"{len(missing)} ad groups without results: {listed}{more}" if len(missing) else
        "every ad group with a pool is ranked",
        passed=bool(len(missing) == 0 and gaps == 0),
        severity=AssetCheckSeverity.WARN if gaps == 0 and unexplained.empty else AssetCheckSeverity.ERROR,
        metadata={"ad_groups_without_result": len(missing), "ad_groups_with_rank_gaps": int(gaps),
                  "without_result": table(missing.fillna({"reason": "no reason recorded (lost)"}))},
    )


CHECKS = [performance_counts_are_sane, every_ad_group_ranked]
