"""The CTR model: LightGBM trained on the training set, saved as a versioned bundle (candidate),
then promoted to production only after the blocking check `ctr_model_not_worse_than_production`.

    training_set ─▶ ctr_model (bundle, models/CANDIDATE) ─[blocking check]─▶ production_model (models/CURRENT)
"""


import base64
import glob
import hashlib
import io
import os
import time

from dagster import AssetExecutionContext, MaterializeResult, MetadataValue, asset

from dagster_project.resources import LocalPaths

GROUP = "model"


def _fingerprint(files: list[str]) -> str:
    h = hashlib.sha256()
    for path in sorted(files):
        with open(path, "rb") as f:
            h.update(hashlib.sha256(f.read()).digest())
    return h.hexdigest()


def candidate_file(paths: LocalPaths) -> str:
    return paths.path("models", "CANDIDATE")


def read_candidate(paths: LocalPaths) -> str:
    try:
        with open(candidate_file(paths), encoding="utf-8") as f:
            return os.path.join(paths.bundles_dir, f.read().strip())
    except FileNotFoundError:
        raise FileNotFoundError("no candidate model: materialise ctr_model first") from None


def training_files(paths: LocalPaths) -> list[str]:
    files = sorted(glob.glob(os.path.join(paths.training_set_dir, "*.parquet")))
    if not files:
        raise FileNotFoundError(f"no training set under {paths.training_set_dir}: materialise training_set")
    return files


def load_training_set(paths: LocalPaths):
    """(train, valid) DataFrames in a stable order (shard order must not matter) and the files."""
    import pandas as pd

    files = training_files(paths)
    df = pd.concat([pd.read_parquet(f) for f in files], ignore_index=True)
    df = df.sort_values(["split", "ad_id"], kind="stable").reset_index(drop=True)
    train, valid = df[df.split == "train"], df[df.split == "valid"]
    if train.empty or valid.empty:
        raise ValueError(f"need both splits to train: {len(train)} train and {len(valid)} validation examples")
    return train, valid, files


def arrays(part):
    """(X, impressions, clicks, ad_group_ids) of a training-set part."""
    import numpy as np

    X = np.stack(part["features"].to_numpy()).astype(np.float32)
    return X, part["impressions"].to_numpy(), part["clicks"].to_numpy(), part["ad_group_id"].astype(str).to_numpy()


def _png(fig) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=90, bbox_inches="tight")
    return buf.getvalue()


def plots(calibration, importance) -> dict[str, bytes]:
    """calibration.png (predicted vs observed CTR by bin) and feature_importance.png (gain)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out = {}
    fig, ax = plt.subplots(figsize=(4.5, 4.5))
    hi = max(calibration["predicted_ctr"].max(), calibration["observed_ctr"].max()) * 1.05
    ax.plot([0, hi], [0, hi], color="grey", lw=1, ls="--")
    ax.plot(calibration["predicted_ctr"], calibration["observed_ctr"], marker="o")
    ax.set_xlabel("predicted CTR")
    ax.set_ylabel("observed CTR")
    ax.set_title("Calibration (validation days, by decile)")
    out["calibration.png"] = _png(fig)
    plt.close(fig)
    top = importance.head(20).iloc[::-1]
    fig, ax = plt.subplots(figsize=(6, 5))
    ax.barh(top["feature"], top["gain"])
    ax.set_xlabel("total gain")
    ax.set_title("Feature importance (top 20)")
    out["feature_importance.png"] = _png(fig)
    plt.close(fig)
    return out


def _md_image(name: str, data: bytes) -> str:
    return f"![{name}](data:image/png;base64,{base64.b64encode(data).decode('ascii')})"


def history_effects(booster, train, valid, ads_snapshot: str):
    """Per-asset history effects (models.asset_effects) from every served day of the training set:
    each example's ad texts from the raw.ads snapshot, its raw score from the new booster."""
    import pandas as pd
    import pyarrow.parquet as pq

    from models.asset_effects import asset_effects

    examples = pd.concat([train, valid], ignore_index=True)
    by_id = {str(r["ad_id"]): r for r in pq.read_table(ads_snapshot).to_pylist()}
    known = examples["ad_id"].astype(str).map(lambda a: a in by_id).to_numpy()
    examples = examples[known]
    X, imp, clk, _ = arrays(examples)
    ads = [by_id[str(a)] for a in examples["ad_id"]]
    return asset_effects(ads, booster.predict(X, raw_score=True), imp, clk)


@asset(
    group_name=GROUP,
    deps=["training_set", "tokenizer"],
    compute_kind="lightgbm",
    description="LightGBM CTR model packaged as a versioned bundle (candidate; promoted by production_model).",
)
def ctr_model(context: AssetExecutionContext, paths: LocalPaths):
    import pandas as pd

    from models.bundle import save_bundle
    from models.train import calibration_table, train_ctr_model
    from transforms.features import COMBINATION_FEATURE_NAMES, feature_spec

    train, valid, files = load_training_set(paths)
    Xt, it, ct, gt = arrays(train)
    Xv, iv, cv, gv = arrays(valid)
    started = time.perf_counter()
    result = train_ctr_model(Xt, it, ct, Xv, iv, cv, COMBINATION_FEATURE_NAMES, groups_train=gt, groups_valid=gv)
    elapsed = time.perf_counter() - started
    m = result.metrics
    calibration = calibration_table(result.valid_pred, iv, cv)
    importance = (
        pd.DataFrame({"feature": COMBINATION_FEATURE_NAMES, "gain": result.booster.feature_importance("gain")})
        .sort_values("gain", ascending=False)
    )
    images = plots(calibration, importance)
    effects = history_effects(result.booster, train, valid, paths.snapshot("raw.ads"))
    bundle_path = save_bundle(
        paths.bundles_dir,
        result.booster.model_to_string(),
        paths.tokenizer,
        feature_spec(),
        m,
        {k: v for k, v in result.params.items() if k != "interaction_constraints"},
        _fingerprint(files),
        extra_files=images,
        asset_effects=effects,
    )
    version = os.path.basename(bundle_path)
    tmp = candidate_file(paths) + ".tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        f.write(version + "\n")
    os.replace(tmp, candidate_file(paths))
    context.log.info(
        f"candidate model {version}: {m['num_trees']} trees in {elapsed:.1f}s; valid AUC {m['valid']['auc']:.4f}, "
        f"log loss {m['valid']['logloss']:.5f}, calibration {m['valid']['calibration']:.3f}"
    )
    rows = [("train", m["train"]), ("valid", m["valid"]), ("valid, ad-group offsets from history", m["valid_with_group_offsets"])]
    metrics_table = pd.DataFrame(
        [{"split": s, **{k: v[k] for k in ("logloss", "auc", "calibration", "observed_ctr", "rows", "impressions")}} for s, v in rows]
    )
    return MaterializeResult(
        metadata={
            "version": version,
            "bundle": MetadataValue.path(bundle_path),
            "valid_auc": m["valid"]["auc"],
            "valid_logloss": m["valid"]["logloss"],
            "valid_calibration": m["valid"]["calibration"],
            "valid_logloss_with_group_offsets": m["valid_with_group_offsets"]["logloss"],
            "valid_auc_with_group_offsets": m["valid_with_group_offsets"]["auc"],
            "num_trees": m["num_trees"],
            "early_stopping": MetadataValue.json(m["early_stopping"]),
            "assets_with_history_effects": len(effects),
            "ad_groups_with_history_effects": int(effects["ad_group_id"].nunique()),
            "history_effect_sd": float(effects["effect"].std()) if len(effects) > 1 else 0.0,
            # the assets whose own delivery moved their scores most, for a look at what history adds
            "strongest_history_effects": MetadataValue.md(
                effects.loc[effects["effect"].abs().sort_values(ascending=False).index[:10],
                            ["ad_group_id", "kind", "text", "effect", "impressions"]]
                .to_markdown(index=False, floatfmt=".3f") if len(effects) else "none"),
            "train_seconds": round(elapsed, 2),
            "metrics": MetadataValue.md(metrics_table.to_markdown(index=False, floatfmt=".5g")),
            "calibration_table": MetadataValue.md(calibration.to_markdown(index=False, floatfmt=".5g")),
            "top_features_by_gain": MetadataValue.md(importance.head(15).to_markdown(index=False, floatfmt=".4g")),
            "calibration_plot": MetadataValue.md(_md_image("calibration", images["calibration.png"])),
            "feature_importance_plot": MetadataValue.md(
                _md_image("feature importance", images["feature_importance.png"])),
        }
    )


@asset(
    group_name=GROUP,
    deps=["ctr_model"],
    compute_kind="python",
    description="Promotes the candidate bundle to production (models/CURRENT). Runs only after the "
                "blocking check ctr_model_not_worse_than_production passed.",
)
def production_model(context: AssetExecutionContext, paths: LocalPaths):
    from models.bundle import load_bundle
    from transforms.features import feature_spec

    bundle = load_bundle(read_candidate(paths), expected_spec=feature_spec())  # fails fast if unusable
    previous = None
    if os.path.exists(paths.current_model_file):
        previous = os.path.basename(paths.current_bundle())
    paths.set_current_bundle(bundle.version)
    context.log.info(f"production model: {previous} → {bundle.version}")
    return MaterializeResult(
        metadata={"version": bundle.version, "previous_version": previous or "",
                  "bundle": MetadataValue.path(bundle.path)}
    )
