"""Model promotion gate: a new model becomes production only if it is not worse than the current one."""


import os

from dagster import AssetCheckResult, AssetCheckSeverity, asset_check

from dagster_project.resources import LocalPaths

# Relative log-loss slack: two trainings on the same data are identical (deterministic), and a
# retrain on new data may be a hair worse by noise alone.
LOGLOSS_TOLERANCE = 0.002


def compare_on_validation(candidate_path: str, current_path: str, paths: LocalPaths) -> dict:
    """Log loss and AUC of both bundles on the same validation rows (ad-group offsets from history)."""
    from dagster_project.assets.model import arrays, load_training_set
    from models.bundle import BundleError, load_bundle
    from models.train import evaluate_with_offsets
    from transforms.features import feature_spec

    spec = feature_spec()
    candidate = load_bundle(candidate_path, expected_spec=spec)
    train, valid, _ = load_training_set(paths)
    hist, target = arrays(train), arrays(valid)
    out = {"candidate": evaluate_with_offsets(candidate.booster, hist, target)}
    try:
        current = load_bundle(current_path)  # verified files; its spec is compared below
    except BundleError as exc:
        # Written by other code (older format or tokenizer): not comparable, so do not block.
        out["current"], out["reason"] = None, f"production bundle unreadable by this code: {exc}"
        return out
    if current.manifest["feature_spec"]["fingerprint"] != spec["fingerprint"]:
        out["current"] = None  # the training set's features are not the ones it reads
    else:
        out["current"] = evaluate_with_offsets(current.booster, hist, target)
    return out


@asset_check(
    asset="ctr_model",
    blocking=True,
    description="Blocks promotion when the new model's validation log loss is worse than the "
                f"production model's on the same validation data (tolerance {LOGLOSS_TOLERANCE:.1%}).",
)
def ctr_model_not_worse_than_production(paths: LocalPaths) -> AssetCheckResult:
    from dagster_project.assets.model import read_candidate

    candidate_path = read_candidate(paths)
    candidate = os.path.basename(candidate_path)
    if not os.path.exists(paths.current_model_file):
        return AssetCheckResult(passed=True, metadata={"candidate": candidate, "reason": "no production model yet"})
    current_path = paths.current_bundle()
    current = os.path.basename(current_path)
    if current == candidate:
        return AssetCheckResult(passed=True, metadata={"candidate": candidate, "reason": "already production"})
    if not os.path.isdir(current_path):
        return AssetCheckResult(passed=True, severity=AssetCheckSeverity.WARN,
                                metadata={"candidate": candidate, "reason": f"production bundle {current} is missing"})
    result = compare_on_validation(candidate_path, current_path, paths)
    new = result["candidate"]
    meta = {"candidate": candidate, "production": current,
            "candidate_logloss": new["logloss"], "candidate_auc": new["auc"]}
    if result["current"] is None:
        # A feature-spec change cannot be compared on this data; allow it and say so.
        reason = result.get("reason", "production model uses another feature spec; not comparable")
        return AssetCheckResult(passed=True, severity=AssetCheckSeverity.WARN, metadata=meta | {"reason": reason})
    old = result["current"]
    passed = new["logloss"] <= old["logloss"] * (1 + LOGLOSS_TOLERANCE)
    return AssetCheckResult(
        passed=bool(passed),
        severity=AssetCheckSeverity.ERROR,
        metadata=meta | {"production_logloss": old["logloss"], "production_auc": old["auc"],
                         "relative_change": new["logloss"] / old["logloss"] - 1},
    )
