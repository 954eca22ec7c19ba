"""Model promotion gate: a new model becomes production only if it is not worse than the current one."""

from dagster import AssetCheckResult, AssetCheckSeverity, asset_check

from dagster_project.resources import LocalPaths, ModelStoreResource

# Relative log-loss slack: two trainings on the same data are identical (deterministic), and a
# retrain on new data may be a hair worse by noise alone.
LOGLOSS_TOLERANCE = 0.002


def compare_on_validation(store, candidate: str, current: str, training_files: list[str]) -> dict:
    """Log loss and AUC of both bundles on the same validation rows (ad-group offsets from history)."""
    from models.bundle import BundleError
    from models.fit import arrays, read_training_set
    from models.train import evaluate_with_offsets
    from transforms.features import feature_spec

    spec = feature_spec()
    new = store.load(candidate, expected_spec=spec)
    train, valid = read_training_set(training_files)
    hist, target = arrays(train), arrays(valid)
    out = {"candidate": evaluate_with_offsets(new.booster, hist, target)}
    try:
        old = store.load(current)  # verified files; its spec is compared below
    except BundleError as exc:
        # Written by other code (older format or tokenizer): not comparable, so do not block.
        out["current"], out["reason"] = None, f"production bundle unreadable by this code: {exc}"
        return out
    if old.manifest["feature_spec"]["fingerprint"] != spec["fingerprint"]:
        out["current"] = None  # the training set's features are not the ones it reads
    else:
        out["current"] = evaluate_with_offsets(old.booster, hist, target)
    return out


@asset_check(
    asset="ctr_model",
    blocking=True,
    description="Blocks promotion when the new model's validation log loss is worse than the "
                f"production model's on the same validation data (tolerance {LOGLOSS_TOLERANCE:.1%}).",
)
def ctr_model_not_worse_than_production(paths: LocalPaths, model_store: ModelStoreResource) -> AssetCheckResult:
    from models.store import ModelStoreError

    store = model_store.store()
    candidate = store.candidate()
    current = store.current()
    if current is None:
        return AssetCheckResult(passed=True, metadata={"candidate": candidate, "reason": "no production model yet"})
    if current == candidate:
        return AssetCheckResult(passed=True, metadata={"candidate": candidate, "reason": "already production"})
    try:
        result = compare_on_validation(store, candidate, current, paths.training_files())
    except ModelStoreError as exc:
        return AssetCheckResult(passed=True, severity=AssetCheckSeverity.WARN,
                                metadata={"candidate": candidate, "reason": str(exc)})
    new = result["candidate"]
    meta = {"candidate": candidate, "production": current,
            "candidate_logloss": round(new["logloss"], 5), "candidate_auc": round(new["auc"], 4)}
    if result["current"] is None:
        # A feature-spec change cannot be compared on this data; allow it and say so.
        reason = result.get("reason", "production model uses another feature spec; not comparable")
        return AssetCheckResult(passed=True, severity=AssetCheckSeverity.WARN, metadata=meta | {"reason": reason})
    old = result["current"]
    passed = new["logloss"] <= old["logloss"] * (1 + LOGLOSS_TOLERANCE)
    return AssetCheckResult(
        passed=bool(passed),
        severity=AssetCheckSeverity.ERROR,
        metadata=meta | {"production_logloss": round(old["logloss"], 5), "production_auc": round(old["auc"], 4),
                         "relative_change_%": round((new["logloss"] / old["logloss"] - 1) * 100, 3)},
    )


CHECKS = [ctr_model_not_worse_than_production]
