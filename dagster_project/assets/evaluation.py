"""The model against the simulator's ground truth, on demand: `model_evaluation`.

Not part of a run (`adcombo run`, the day's automation): it trains its own models on generated
worlds, minutes per world and seed. Materialise it from the UI (launchpad: worlds, seeds) or use
`adcombo evaluate`; both call models.evaluate, which docs/model.md describes.
"""

import json
import os

from dagster import AssetExecutionContext, Config, MaterializeResult, MetadataValue, asset
from pydantic import Field

from dagster_project.metadata import percent, rounded, table
from dagster_project.plots import png_markdown
from dagster_project.resources import LocalPaths

GROUP = "evaluation"  # assets materialised on demand only (adcombo.runs leaves this group out)


class EvaluationConfig(Config):
    worlds: str = Field(default="default", description="comma-separated world variants or presets "
                        "(models/world_variants.py), or `report` / `choose` for every world of that role")
    seeds: str = Field(default="7", description="comma-separated seeds")
    max_truth_groups: int = Field(default=0, ge=0, description="score at most this many held-out ad groups "
                                  "per world (0: all of them)")
    booster_groups: str = Field(default="others", description="others: the text model never saw the held-out "
                                "ad groups (the reported figures); all: it also learns from their training days, "
                                "as ctr_model learns from every ad group it scores")


def summary_frame(summary: dict):
    """One row per world: the shipped model's shares (percent, mean over seeds), where its gap
    is, and the baselines'."""
    import pandas as pd

    rows = []
    for name, w in summary["worlds"].items():
        m = w["models"]
        s = m["lightgbm"]

        def share(model: str) -> float | None:
            return percent(m[model]["top1_share_of_oracle_lift"]["mean"]) if model in m else None

        rows.append({
            "world": name, "days": w["days"], "seeds": ",".join(map(str, w["seeds"])),
            "top1_share_%": share("lightgbm"), "sd_%": percent(s["top1_share_of_oracle_lift"]["sd"]),
            "ordered_share_%": percent(s["ordered_share_of_oracle_lift"]["mean"]),
            "order_loss_%": percent(s["order_loss"]["mean"]), "asset_choice_loss_%": percent(s["asset_choice_loss"]["mean"]),
            "spearman": rounded(s["spearman_mean"]["mean"], 3), "text_only_%": share("lightgbm_text_only"),
            "known_quality_%": share("known_quality"), "known_rules_%": share("known_rules"),
            "known_rules_effects_%": share("known_rules_effects"),
            "logistic_%": share("logistic_regression"), "asset_mean_%": share("asset_mean_ctr"),
            "beats_both_every_seed": bool(w["beats_baselines_every_seed"]),
        })
    return pd.DataFrame(rows)


@asset(
    group_name=GROUP,
    kinds={"lightgbm"},
    description="The model's top-1 share of the oracle's lift per world and seed (held-out ad groups, "
                "against the simulator's ground truth), with the order / asset-choice split and the baselines. "
                "On demand: minutes per world and seed. Config booster_groups: all trains the text model on "
                "every ad group, as production does (default: never on the held-out ones).",
)
def model_evaluation(context: AssetExecutionContext, config: EvaluationConfig, paths: LocalPaths):
    from models import world_variants
    from models.evaluate import evaluate_worlds, summary_plot, world_config

    worlds = [w.strip() for w in config.worlds.split(",") if w.strip()]
    if worlds in (["report"], ["choose"]):
        worlds = world_variants.names(worlds[0])
    seeds = [int(s) for s in config.seeds.split(",") if s.strip()]
    for w in worlds:
        world_config(w, seeds[0])  # an unknown world fails here, with the known names
    report = evaluate_worlds(worlds, seeds, log=context.log.info, max_truth_groups=config.max_truth_groups or None,
                             booster_groups=config.booster_groups)
    out = paths.path("evaluation", "evaluation.json")
    os.makedirs(os.path.dirname(out), exist_ok=True)
    with open(out + ".tmp", "w") as f:
        json.dump(report, f, indent=1, default=float)
    os.replace(out + ".tmp", out)
    summary = report["summary"]
    metadata = {
        "summary": table(summary_frame(summary), descriptions={
            "top1_share_%": "the model's top-1: its true CTR lift over a random valid ad, as a share of the best ad's",
            "order_loss_%": "what putting the same five assets in their best slots would add",
            "asset_choice_loss_%": "what the choice of assets loses (100 − ordered share)",
            "known_quality_%": "reference: the booster plus the true hidden quality of the assets each ad group "
                               "served; the most history effects could reach",
            "known_rules_%": "reference: the simulator's own text rules in place of the booster, no history",
            "known_rules_effects_%": "reference: those rules plus history effects fitted as the shipped ones: "
                                     "the model with a perfect text model"}),
        "plot": png_markdown(summary_plot(summary, config.booster_groups), "top-1 share of the oracle's lift by world"),
        "worlds": len(worlds), "seeds": len(seeds), "booster_groups": config.booster_groups,
        "report": MetadataValue.path(out),
    }
    if "market_variants_mean" in summary:
        metadata["market_variants_mean_top1_share_%"] = percent(summary["market_variants_mean"]["lightgbm"])
    return MaterializeResult(metadata=metadata)


ASSETS = [model_evaluation]
