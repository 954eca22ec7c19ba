"""Close the loop: A/B/n assignments from the scores, their launch, delivery and results.

Arms run side by side in each ad group (production model's best combination, an optional
challenger's best, and a random valid combination as control), each as its own ad labelled
with a tracking id. Delivery is joined back by tracking id, and the results asset measures each
arm's lift over control.
"""

import datetime as dt
import os

from dagster import AssetExecutionContext, Config, MaterializeResult, MetadataValue, asset
from pydantic import Field

from dagster_project.plots import figure_markdown, new_figure
from dagster_project.resources import AdMediaApiResource, LocalPaths, WarehouseResource
from dagster_project.settings import Settings
from warehouse.schemas import TOP_COMBINATIONS_TABLE

GROUP = "experiments"
ASSIGNMENTS_TABLE = "experiments.assignments"
DELIVERY_TABLE = "raw.creative_daily_performance"


class ExperimentConfig(Config):
    experiment_id: str = Field(default="", description="default: exp-<production model version>")
    salt: str = Field(default="adcombo", description="changes every arm's tracking id and control pick")
    production_share: float = 0.5
    control_share: float = 0.5
    challenger_share: float = 0.0
    challenger_bundle: str = Field(default="", description="bundle directory of a challenger model (optional)")
    final_url: str = "https://example.com/"


class DeliveryConfig(Config):
    days: int = Field(default=14, description="days of delivery to ingest from the experiment's start")


def _experiment_start(wh) -> dt.date:
    """Experiments start the day after the last day of performance data in the warehouse."""
    last = wh.query("SELECT MAX(date) AS d FROM `raw.ad_daily_performance`")["d"].iloc[0]
    return (last.date() if hasattr(last, "date") else last) + dt.timedelta(days=1)


def _pools_by_group(paths: LocalPaths):
    import pyarrow.parquet as pq

    by_group: dict[str, list[dict]] = {}
    for row in pq.read_table(paths.snapshot("raw.asset_pools")).to_pylist():  # nulls as None
        by_group.setdefault(row["ad_group_id"], []).append(row)
    return by_group


def _challenger_top1(bundle_path: str, pools: dict, ad_rows: list) -> dict:
    """Best combination per ad group under a challenger model, scored the one way production
    scores (models.scoring.score_pool: booster plus the bundle's per-asset history effects)."""
    from models.bundle import load_bundle
    from models.scoring import ScoringModel, pool_inputs, score_pool, sigmoid
    from transforms.features import feature_spec

    model = ScoringModel.from_bundle(load_bundle(bundle_path, feature_spec()))
    best = {}
    for pool in pool_inputs([a for assets in pools.values() for a in assets], ad_rows):
        out = score_pool(model, pool, 1)
        if out.ok:
            best[pool.ad_group_id] = (out.group, int(out.scored.top_rows[0]), float(sigmoid(out.scored.top_raw[0])))
    return best


@asset(
    group_name=GROUP,
    deps=["top_combinations", "drift_report"],
    compute_kind="python",
    description="A/B/n arms per ad group with tracking ids → experiments.assignments and a Google Ads Editor CSV.",
)
def ab_assignments(context: AssetExecutionContext, config: ExperimentConfig, paths: LocalPaths, warehouse: WarehouseResource):
    import pandas as pd
    import pyarrow.parquet as pq

    from experiments.assign import CHALLENGER, CONTROL, PRODUCTION, ArmShares, Creative, assign_ad_group, control_index, pick
    from experiments.export import GOOGLE_ADS_EDITOR_COLUMNS, google_ads_editor_rows, to_csv
    from transforms.combinations import Pool, product_rows

    model_version = os.path.basename(paths.current_bundle())
    experiment = config.experiment_id or f"exp-{model_version}"
    shares = ArmShares(config.production_share, config.control_share, config.challenger_share).normalised(
        with_challenger=bool(config.challenger_bundle)
    )
    ads = pq.read_table(paths.snapshot("raw.ads")).to_pandas()
    ad_rows = ads.astype(object).where(ads.notna(), None).to_dict("records")
    campaigns = ads.groupby("ad_group_id")["campaign_id"].first().fillna("").to_dict()
    pools = _pools_by_group(paths)
    with warehouse.open() as wh:
        top1 = wh.query(f"SELECT * FROM `{TOP_COMBINATIONS_TABLE}` WHERE rank = 1 ORDER BY ad_group_id")
        start = _experiment_start(wh)
    challenger = _challenger_top1(config.challenger_bundle, pools, ad_rows) if config.challenger_bundle else {}

    rows = []
    for r in top1.itertuples():
        pool = Pool.from_assets(pools.get(r.ad_group_id, []))
        triples, pairs = pool.enumerate_factored()
        # Only the control's row is built: the pick is an index into the enumeration order.
        control = control_index(experiment, config.salt, r.ad_group_id, len(triples) * len(pairs))
        c_ids, c_texts = pick(product_rows(triples, pairs, [control]), (pool.headline_ids, pool.description_ids),
                              (pool.headline_texts, pool.description_texts), 0)
        arms = {
            PRODUCTION: Creative(
                (r.h1_asset_id, r.h2_asset_id, r.h3_asset_id, r.d1_asset_id, r.d2_asset_id),
                (r.headline_1, r.headline_2, r.headline_3, r.description_1, r.description_2), float(r.score)),
            CONTROL: Creative(c_ids, c_texts, None),
        }
        if CHALLENGER in shares and r.ad_group_id in challenger:
            block, i, score = challenger[r.ad_group_id]
            ch_ids, ch_texts = pick(block.rows([i]), (block.headline_ids, block.description_ids),
                                    (block.headline_texts, block.description_texts), 0)
            arms[CHALLENGER] = Creative(ch_ids, ch_texts, score)
        rows.extend(assign_ad_group(experiment, config.salt, r.ad_group_id, arms, shares))
    table = pd.DataFrame(rows)
    table["model_version"] = model_version
    table["start_date"] = start
    with warehouse.open() as wh:
        previous = wh.query(f"SELECT * FROM `{ASSIGNMENTS_TABLE}` WHERE experiment_id != @e", {"e": experiment}) \
            if wh.table_exists(ASSIGNMENTS_TABLE) else None
        wh.replace_table(ASSIGNMENTS_TABLE, pd.concat([previous, table], ignore_index=True) if previous is not None else table)
    export_dir = paths.path("exports", experiment)
    os.makedirs(export_dir, exist_ok=True)
    csv_path = os.path.join(export_dir, "google_ads_editor.csv")
    with open(csv_path, "w", encoding="utf-8", newline="") as f:
        f.write(to_csv(google_ads_editor_rows(rows, campaigns, config.final_url), GOOGLE_ADS_EDITOR_COLUMNS))
    per_arm = table.groupby("arm").agg(ad_groups=("ad_group_id", "nunique"), share=("traffic_share", "first"))
    context.log.info(f"experiment {experiment}: {len(table):,} creatives in {table['ad_group_id'].nunique():,} ad groups, from {start}")
    return MaterializeResult(
        metadata={
            "experiment_id": experiment,
            "creatives": len(table),
            "start_date": start.isoformat(),
            "arms": MetadataValue.md(per_arm.reset_index().to_markdown(index=False)),
            "export": MetadataValue.path(csv_path),
            "preview": MetadataValue.md(table.head(6)[["ad_group_id", "arm", "tracking_id", "headline_1", "headline_2", "predicted_ctr"]].to_markdown(index=False)),
        }
    )


def _latest_experiment(wh):
    if not wh.table_exists(ASSIGNMENTS_TABLE):
        raise FileNotFoundError("no assignments yet: materialise ab_assignments first")
    return wh.query(
        f"SELECT * FROM `{ASSIGNMENTS_TABLE}` WHERE experiment_id = "
        f"(SELECT experiment_id FROM `{ASSIGNMENTS_TABLE}` ORDER BY start_date DESC, experiment_id DESC LIMIT 1)"
    )


def _api_loop_assets():
    """Launch, delivery and results need an ad-media API (or the simulator): with imported
    files the advertiser uploads the exported CSV and these assets are not defined."""

    @asset(group_name=GROUP, deps=["ab_assignments"], compute_kind="http",
           description="Submit the latest experiment's creatives (tracking ids as labels) to the ad-media API.")
    def experiment_launch(context: AssetExecutionContext, admedia: AdMediaApiResource, warehouse: WarehouseResource):
        with warehouse.open() as wh:
            assignments = _latest_experiment(wh)
        creatives = [
            {"tracking_id": a.tracking_id, "ad_group_id": a.ad_group_id, "headline_1": a.headline_1,
             "headline_2": a.headline_2, "headline_3": a.headline_3, "description_1": a.description_1,
             "description_2": a.description_2, "traffic_share": float(a.traffic_share),
             "start_date": str(a.start_date)[:10]}
            for a in assignments.itertuples()
        ]
        with admedia.connect(context.log) as (client, _start, _end):
            answer = client.submit_creatives(creatives)
        rejected = answer.get("rejected", [])
        for r in rejected[:20]:
            context.log.warning(f"creative refused: {r['reason']} ({r['item'].get('tracking_id')})")
        if rejected:
            raise ValueError(f"{len(rejected)} of {len(creatives)} creatives were refused; see the log")
        return MaterializeResult(metadata={"experiment_id": assignments["experiment_id"].iloc[0],
                                           "submitted": len(creatives), "accepted": len(answer.get("accepted", []))})


    @asset(group_name=GROUP, deps=["experiment_launch"], compute_kind="http",
           description="Daily delivery of the experiment's creatives by tracking id → raw.creative_daily_performance.")
    def raw_creative_performance(context: AssetExecutionContext, config: DeliveryConfig, admedia: AdMediaApiResource, warehouse: WarehouseResource):
        import pandas as pd

        with warehouse.open() as wh:
            assignments = _latest_experiment(wh)
        start = pd.Timestamp(assignments["start_date"].min()).date()
        end = start + dt.timedelta(days=config.days - 1)
        with admedia.connect(context.log) as (client, _s, _e):
            rows = list(client.iter_creative_performance(start, end))
        frame = pd.DataFrame(rows, columns=["date", "tracking_id", "ad_group_id", "impressions", "clicks"])
        frame["date"] = pd.to_datetime(frame["date"], format="%Y-%m-%d").dt.date
        frame["impressions"] = frame["impressions"].astype("int64")
        frame["clicks"] = frame["clicks"].astype("int64")
        bad = frame[(frame.clicks < 0) | (frame.clicks > frame.impressions)]
        if len(bad):
            raise ValueError(f"{len(bad)} delivery rows have clicks outside 0..impressions")
        with warehouse.open() as wh:
            wh.replace_table(DELIVERY_TABLE, frame)
        context.log.info(f"delivery {start}..{end}: {len(frame):,} rows, {frame.impressions.sum():,} impressions")
        return MaterializeResult(metadata={"rows": len(frame), "start_date": start.isoformat(), "end_date": end.isoformat(),
                                           "impressions": int(frame.impressions.sum()), "clicks": int(frame.clicks.sum())})


    @asset(group_name=GROUP, deps=["raw_creative_performance", "ab_assignments"], compute_kind="python",
           description="Per-arm impressions, clicks, CTR with intervals, lift over control with a significance test.")
    def experiment_results(context: AssetExecutionContext, warehouse: WarehouseResource, paths: LocalPaths):
        from experiments.analysis import arm_results

        with warehouse.open() as wh:
            assignments = _latest_experiment(wh)
            delivery = wh.query(f"SELECT tracking_id, impressions, clicks FROM `{DELIVERY_TABLE}`")
        joined = delivery.merge(assignments[["tracking_id", "ad_group_id", "arm"]], on="tracking_id", how="left")
        unknown = joined["arm"].isna().sum()
        if unknown:
            context.log.warning(f"{unknown} delivery rows carry a tracking id of no assignment of this experiment")
        joined = joined.dropna(subset=["arm"])
        if joined.empty:
            raise ValueError("no delivery joined to the experiment's tracking ids yet")
        results = arm_results(joined)
        with warehouse.open() as wh:
            wh.replace_table("experiments.results", results.assign(experiment_id=assignments["experiment_id"].iloc[0]))
        fig, ax = new_figure(5, 3)
        ax.errorbar(results["arm"], results["ctr"] * 100,
                    yerr=[(results["ctr"] - results["ctr_low"]) * 100, (results["ctr_high"] - results["ctr"]) * 100],
                    fmt="o", capsize=6)
        ax.set_ylabel("CTR % (95% interval)")
        ax.set_title("CTR by arm")
        production = results.set_index("arm").loc["production"] if "production" in set(results["arm"]) else None
        if production is not None:
            context.log.info(
                f"production lift over control {production['lift']:+.1%} "
                f"[{production['lift_low']:+.1%}, {production['lift_high']:+.1%}], p={production['p_value']:.2g}"
            )
        return MaterializeResult(
            metadata={
                "experiment_id": assignments["experiment_id"].iloc[0],
                "results": MetadataValue.md(results.to_markdown(index=False, floatfmt=".4g")),
                "ctr_plot": figure_markdown(fig, "CTR by arm"),
                "production_lift": float(production["lift"]) if production is not None else float("nan"),
                "production_lift_low": float(production["lift_low"]) if production is not None else float("nan"),
                "unjoined_delivery_rows": int(unknown),
            }
        )

    return experiment_launch, raw_creative_performance, experiment_results


if Settings.from_env().source == "api":
    experiment_launch, raw_creative_performance, experiment_results = _api_loop_assets()
