"""Close the loop: A/B/n assignments from the scores, their launch, delivery and results.

Arms run side by side in each ad group (production model's best combination, an optional
challenger's best, and a random valid combination as control), each as its own ad labelled
with a tracking id. Delivery is joined back by tracking id, and the results asset measures each
arm's lift over control. Launch, delivery and results need an ad-media API (or the simulator):
with imported files the advertiser uploads the exported CSV and those assets are not defined.
"""

import datetime as dt
import os

from dagster import AssetExecutionContext, Config, MaterializeResult, MetadataValue, asset
from pydantic import Field

from dagster_project.metadata import percent, table
from dagster_project.plots import ctr_by_arm_plot
from dagster_project.resources import AdMediaApiResource, LocalPaths, ModelStoreResource, WarehouseResource
from warehouse.base import frame_rows
from warehouse.schemas import ASSIGNMENTS_TABLE, DELIVERY_TABLE, RESULTS_TABLE, TOP_COMBINATIONS_TABLE
from warehouse.sql import Scope

GROUP = "experiments"
DELIVERY_SCHEMA = [("date", "DATE"), ("tracking_id", "STRING"), ("ad_group_id", "STRING"), ("impressions", "INT64"),
                   ("clicks", "INT64")]
ASSIGNMENTS_SCHEMA = [("experiment_id", "STRING"), ("ad_group_id", "STRING"), ("arm", "STRING"),
                      ("traffic_share", "FLOAT64"), ("tracking_id", "STRING"),
                      *[(f"{p}_asset_id", "STRING") for p in ("h1", "h2", "h3", "d1", "d2")],
                      *[(c, "STRING") for c in ("headline_1", "headline_2", "headline_3", "description_1",
                                                "description_2")],
                      ("predicted_ctr", "FLOAT64"), ("model_version", "STRING"), ("start_date", "DATE")]


class ExperimentConfig(Config):
    experiment_id: str = Field(default="", description="default: exp-<start date>-<digest of the production model>")
    salt: str = Field(default="adcombo", description="changes every arm's tracking id and control pick")
    production_share: float = 0.5
    control_share: float = 0.5
    challenger_share: float = 0.0
    challenger_version: str = Field(default="", description="model store version of a challenger model (optional)")
    final_url: str = "https://example.com/"


class DeliveryConfig(Config):
    days: int = Field(default=14, description="days of delivery to ingest from the experiment's start")


def latest_experiment(wh):
    """The rows of the latest experiment: the latest start day, then the newest model version."""
    if not wh.table_exists(ASSIGNMENTS_TABLE):
        raise FileNotFoundError("no assignments yet: materialise ab_assignments first")
    return wh.query(
        f"SELECT * FROM `{ASSIGNMENTS_TABLE}` WHERE experiment_id = "
        f"(SELECT experiment_id FROM `{ASSIGNMENTS_TABLE}` ORDER BY start_date DESC, model_version DESC, experiment_id DESC LIMIT 1)"
    )


@asset(
    group_name=GROUP,
    deps=["top_combinations", "drift_report"],
    kinds={"python"},
    description="A/B/n arms per ad group with tracking ids → experiments.assignments and a Google Ads Editor CSV.",
)
def ab_assignments(context: AssetExecutionContext, config: ExperimentConfig, paths: LocalPaths,
                   warehouse: WarehouseResource, model_store: ModelStoreResource):
    import pandas as pd

    from experiments.assign import ArmShares, challenger_best, default_experiment_id, experiment_rows
    from experiments.launch import write_google_ads_editor_csv
    from models.bundle import read_manifest, scoring_digest
    from models.scoring import ScoringModel, pool_inputs
    from transforms.features import feature_spec

    store = model_store.store()
    model_version = store.require_current()
    shares = ArmShares(config.production_share, config.control_share, config.challenger_share).normalised(
        with_challenger=bool(config.challenger_version))
    with warehouse.open() as wh:
        top1 = frame_rows(wh.query(f"SELECT * FROM `{TOP_COMBINATIONS_TABLE}` WHERE rank = 1 ORDER BY ad_group_id"))
        ad_rows = frame_rows(wh.query("SELECT * FROM `raw.ads`"))
        pool_rows = frame_rows(wh.query("SELECT * FROM `raw.asset_pools`"))
        # Experiments start the day after the last day of performance data.
        last = pd.Timestamp(wh.query("SELECT MAX(date) AS d FROM `raw.ad_daily_performance`")["d"].iloc[0]).date()
    start = last + dt.timedelta(days=1)
    experiment = config.experiment_id or default_experiment_id(
        start, scoring_digest(read_manifest(store.local_path(model_version))))
    pools = {}
    for row in pool_rows:
        pools.setdefault(row["ad_group_id"], []).append(row)
    challenger = {}
    if config.challenger_version:
        model = ScoringModel.from_bundle(store.load(config.challenger_version, feature_spec()))
        challenger = challenger_best(model, pool_inputs(pool_rows, ad_rows))
    rows = experiment_rows(experiment, config.salt, shares, top1, pools, challenger)
    assignments = pd.DataFrame(rows).assign(model_version=model_version, start_date=start)
    with warehouse.open() as wh:  # this experiment's rows replaced in one MERGE; other experiments kept
        wh.ensure_table(ASSIGNMENTS_TABLE, ASSIGNMENTS_SCHEMA)
        wh.merge(ASSIGNMENTS_TABLE, assignments[[c for c, _ in ASSIGNMENTS_SCHEMA]],
                 keys=["experiment_id", "ad_group_id", "arm"], scope=Scope(equals={"experiment_id": experiment}))
    campaigns = {a["ad_group_id"]: a.get("campaign_id") or "" for a in sorted(ad_rows, key=lambda a: str(a["ad_id"]))}
    csv_path = write_google_ads_editor_csv(paths.path("exports", experiment), rows, campaigns, config.final_url)
    per_arm = assignments.groupby("arm").agg(ad_groups=("ad_group_id", "nunique"),
                                             share=("traffic_share", "first")).reset_index()
    context.log.info(f"experiment {experiment}: {len(assignments):,} creatives in "
                     f"{assignments['ad_group_id'].nunique():,} ad groups, from {start}")
    preview = assignments.head(6)[["ad_group_id", "arm", "tracking_id", "headline_1", "headline_2", "predicted_ctr"]]
    return MaterializeResult(metadata={
        "experiment_id": experiment, "creatives": len(assignments), "start_date": start.isoformat(),
        "arms": table(per_arm), "export": MetadataValue.path(csv_path), "preview": table(preview)})


def build_api_loop_assets() -> list:
    """Launch, delivery and results: only with an ad-media API (or the simulator) as the source."""

    @asset(group_name=GROUP, deps=["ab_assignments"], kinds={"http"},
           description="Submit the latest experiment's creatives (tracking ids as labels) to the ad-media API.")
    def experiment_launch(context: AssetExecutionContext, admedia: AdMediaApiResource, warehouse: WarehouseResource):
        from experiments.launch import creatives_to_submit

        with warehouse.open() as wh:
            assignments = latest_experiment(wh)
        creatives = creatives_to_submit(frame_rows(assignments))
        with admedia.connect(context.log) as (client, _start, _end):
            answer = client.submit_creatives(creatives)
        rejected = answer.get("rejected", [])
        for r in rejected[:20]:
            context.log.warning(f"creative refused: {r['reason']} ({r['item'].get('tracking_id')})")
        if rejected:
            raise ValueError(f"{len(rejected)} of {len(creatives)} creatives were refused; see the log")
        return MaterializeResult(metadata={"experiment_id": assignments["experiment_id"].iloc[0],
                                           "submitted": len(creatives), "accepted": len(answer.get("accepted", []))})

    @asset(group_name=GROUP, deps=["experiment_launch"], kinds={"http"},
           description=f"Daily delivery of the experiment's creatives by tracking id → {DELIVERY_TABLE}.")
    def raw_creative_performance(context: AssetExecutionContext, config: DeliveryConfig, admedia: AdMediaApiResource,
                                 warehouse: WarehouseResource):
        import pandas as pd

        from experiments.launch import delivery_frame

        with warehouse.open() as wh:
            assignments = latest_experiment(wh)
        start = pd.Timestamp(assignments["start_date"].min()).date()
        end = start + dt.timedelta(days=config.days - 1)
        with admedia.connect(context.log) as (client, _s, _e):
            frame = delivery_frame(client.iter_creative_performance(start, end))
        with warehouse.open() as wh:  # the range replaced; earlier experiments' days kept (live accuracy)
            wh.ensure_table(DELIVERY_TABLE, DELIVERY_SCHEMA, partition_field="date")
            wh.merge(DELIVERY_TABLE, frame, keys=["date", "tracking_id"], scope=Scope(between={"date": (start, end)}))
        context.log.info(f"delivery {start}..{end}: {len(frame):,} rows, {frame.impressions.sum():,} impressions")
        return MaterializeResult(metadata={"rows": len(frame), "start_date": start.isoformat(),
                                           "end_date": end.isoformat(), "impressions": int(frame.impressions.sum()),
                                           "clicks": int(frame.clicks.sum())})

    @asset(group_name=GROUP, deps=["raw_creative_performance", "ab_assignments"], kinds={"python"},
           description="Per-arm impressions, clicks, CTR with intervals, lift over control with a significance test.")
    def experiment_results(context: AssetExecutionContext, warehouse: WarehouseResource):
        from experiments.analysis import arm_results, join_delivery

        with warehouse.open() as wh:
            assignments = latest_experiment(wh)
            # this experiment's delivery, and rows of no experiment at all (labels lost on the way)
            delivery = wh.query(f"SELECT tracking_id, impressions, clicks FROM `{DELIVERY_TABLE}` WHERE tracking_id "
                                f"NOT IN (SELECT tracking_id FROM `{ASSIGNMENTS_TABLE}` WHERE experiment_id != @e)",
                                {"e": str(assignments["experiment_id"].iloc[0])})
        joined, unknown = join_delivery(delivery, assignments)
        if unknown:
            context.log.warning(f"{unknown} delivery rows carry a tracking id of no assignment of this experiment")
        results = arm_results(joined)
        experiment = assignments["experiment_id"].iloc[0]
        with warehouse.open() as wh:
            wh.replace_table(RESULTS_TABLE, results.assign(experiment_id=experiment))
        production = results.set_index("arm").loc["production"] if "production" in set(results["arm"]) else None
        if production is not None:
            context.log.info(f"production lift over control {production['lift']:+.1%} "
                             f"[{production['lift_low']:+.1%}, {production['lift_high']:+.1%}], "
                             f"p={production['p_value']:.2g}")
        lift = {}
        if production is not None:
            lift = {"production_lift_%": percent(production["lift"]),
                    "production_lift_low_%": percent(production["lift_low"]),
                    "production_lift_high_%": percent(production["lift_high"]),
                    "p_value": float(f"{production['p_value']:.2g}")}
        return MaterializeResult(metadata={
            "experiment_id": experiment, "results": table(results), "ctr_plot": ctr_by_arm_plot(results),
            **lift, "unjoined_delivery_rows": int(unknown)})

    return [experiment_launch, raw_creative_performance, experiment_results]


def build_assets(settings) -> list:
    return [ab_assignments, *(build_api_loop_assets() if settings.source == "api" else [])]
