"""The CTR model: LightGBM trained on the training set, saved as a versioned bundle."""


import hashlib
import glob
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


@asset(
    group_name=GROUP,
    deps=["training_set", "tokenizer"],
    compute_kind="lightgbm",
    description="LightGBM CTR model packaged as a versioned bundle (booster + tokenizer + feature spec).",
)
def ctr_model(context: AssetExecutionContext, paths: LocalPaths):
    import numpy as np
    import pandas as pd

    from models.bundle import save_bundle
    from models.train import train_ctr_model
    from transforms.features import COMBINATION_FEATURE_NAMES, feature_spec

    files = glob.glob(os.path.join(paths.training_set_dir, "*.parquet"))
    if not files:
        raise FileNotFoundError(f"no training set under {paths.training_set_dir}: materialise training_set")
    df = pd.concat([pd.read_parquet(f) for f in sorted(files)], ignore_index=True)
    df = df.sort_values(["split", "ad_id"], kind="stable").reset_index(drop=True)  # shard order must not matter
    train, valid = df[df.split == "train"], df[df.split == "valid"]
    if train.empty or valid.empty:
        raise ValueError(f"need both splits to train: {len(train)} train and {len(valid)} validation examples")

    def arrays(part):
        X = np.stack(part["features"].to_numpy()).astype(np.float32)
        return X, part["impressions"].to_numpy(), part["clicks"].to_numpy()

    started = time.perf_counter()
    result = train_ctr_model(*arrays(train), *arrays(valid), COMBINATION_FEATURE_NAMES)
    elapsed = time.perf_counter() - started
    bundle_path = save_bundle(
        paths.bundles_dir,
        result.booster.model_to_string(),
        paths.tokenizer,
        feature_spec(),
        result.metrics,
        {k: v for k, v in result.params.items() if k != "interaction_constraints"},
        _fingerprint(files),
    )
    version = os.path.basename(bundle_path)
    paths.set_current_bundle(version)
    m = result.metrics
    context.log.info(
        f"model {version}: {m['num_trees']} trees in {elapsed:.1f}s; valid AUC {m['valid']['auc']:.4f}, "
        f"log loss {m['valid']['logloss']:.5f}, calibration {m['valid']['calibration']:.3f}"
    )
    metrics_table = pd.DataFrame(
        [{"split": s, **{k: m[s][k] for k in ("logloss", "auc", "calibration", "observed_ctr", "rows", "impressions")}} for s in ("train", "valid")]
    )
    gain = result.booster.feature_importance("gain")
    importance = (
        pd.DataFrame({"feature": COMBINATION_FEATURE_NAMES, "gain": gain})
        .sort_values("gain", ascending=False)
        .head(15)
    )
    return MaterializeResult(
        metadata={
            "version": version,
            "bundle": MetadataValue.path(bundle_path),
            "valid_auc": m["valid"]["auc"],
            "valid_logloss": m["valid"]["logloss"],
            "valid_calibration": m["valid"]["calibration"],
            "num_trees": m["num_trees"],
            "train_seconds": round(elapsed, 2),
            "metrics": MetadataValue.md(metrics_table.to_markdown(index=False, floatfmt=".5g")),
            "top_features_by_gain": MetadataValue.md(importance.to_markdown(index=False, floatfmt=".4g")),
        }
    )
