"""Model promotion gate: a new model becomes production only if it is not worse than the current one."""

from dagster import AssetCheckResult, AssetCheckSeverity, asset_check

from dagster_project.resources import LocalPaths, ModelStoreResource, WarehouseResource
from warehouse.base import frame_rows

# Relative log-loss slack: two trainings on the same data are identical (deterministic), and a
# retrain on new data may be a hair worse by noise alone.
LOGLOSS_TOLERANCE = 0.002
# What is compared (models.fit.validation_report): the booster alone decides; the model as it
# scores combinations not served (booster plus the asset effects of the group's other served ads)
# is reported beside it. Why it does not decide: per impression the effects move the validation
# log loss by less than the tolerance (demo world: no effects at all +0.03%, effects negated
# +0.12%, an unshrunk prior +0.16%; docs/model.md), so it would only add retraining noise.
GATE, REPORTED = "text_only", "with_history_effects"


def compare_on_validation(store, candidate: str, current: str, training_files: list[str], ads_rows=()) -> dict:
    """Both bundles on the same validation rows (models.fit.validation_report), each with the
    history effects' prior sd and slot scales it was trained with."""
    from models.bundle import BundleError
    from models.fit import read_training_set, validation_report
    from transforms.features import feature_spec

    spec = feature_spec()
    new = store.load(candidate, expected_spec=spec)
    train, valid = read_training_set(training_files)

    def report(bundle) -> dict:
        return validation_report(bundle.booster, train, valid, ads_rows, bundle.manifest["metrics"].get("asset_effects"))

    out = {"candidate": report(new)}
    try:
        old = store.load(current)  # verified files; its spec is compared below
    except BundleError as exc:
        # Written by other code (older format or tokenizer): not comparable, so do not block.
        out["current"], out["reason"] = None, f"production bundle unreadable by this code: {exc}"
        return out
    if old.manifest["feature_spec"]["fingerprint"] != spec["fingerprint"]:
        out["current"] = None  # the training set's features are not the ones it reads
    else:
        out["current"] = report(old)
    return out


def verdict(candidate: dict, production: dict, tolerance: float = LOGLOSS_TOLERANCE) -> tuple[bool, dict]:
    """(passed, metadata): the candidate passes when the booster's validation log loss is not worse
    than production's beyond the tolerance; the whole model's figures (with history effects) are
    reported beside it when both bundles have them."""
    meta = {}
    for way in (GATE, REPORTED):
        new, old = candidate.get(way), production.get(way)
        if new and old:
            suffix = "" if way == GATE else f"_{way}"
            meta |= {f"candidate_logloss{suffix}": round(new["logloss"], 5),
                     f"production_logloss{suffix}": round(old["logloss"], 5),
                     f"relative_change{suffix}_%": round((new["logloss"] / old["logloss"] - 1) * 100, 3)}
    new, old = candidate[GATE], production[GATE]
    return bool(new["logloss"] <= old["logloss"] * (1 + tolerance)), meta


@asset_check(
    asset="ctr_model",
    blocking=True,
    description="Blocks promotion when the new model's validation log loss is worse than the production "
                f"model's on the same validation data (tolerance {LOGLOSS_TOLERANCE:.1%}); also reports both "
                "as they score combinations not served (with the asset effects of each ad group's other "
                "served ads).",
)
def ctr_model_not_worse_than_production(paths: LocalPaths, model_store: ModelStoreResource,
                                        warehouse: WarehouseResource) -> AssetCheckResult:
    from models.store import ModelStoreError

    store = model_store.store()
    candidate = store.candidate()
    current = store.current()
    if current is None:
        return AssetCheckResult(passed=True, metadata={"candidate": candidate, "reason": "no production model yet"})
    if current == candidate:
        return AssetCheckResult(passed=True, metadata={"candidate": candidate, "reason": "already production"})
    with warehouse.open() as wh:
        ads = frame_rows(wh.query("SELECT * FROM `raw.ads`"))  # the texts behind the history effects
    try:
        result = compare_on_validation(store, candidate, current, paths.training_files(), ads)
    except ModelStoreError as exc:
        return AssetCheckResult(passed=True, severity=AssetCheckSeverity.WARN,
                                metadata={"candidate": candidate, "reason": str(exc)})
    new = result["candidate"]["text_only"]
    meta = {"candidate": candidate, "production": current,
            "candidate_logloss": round(new["logloss"], 5), "candidate_auc": round(new["auc"], 4)}
    if result["current"] is None:
        # A feature-spec change cannot be compared on this data; allow it and say so.
        reason = result.get("reason", "production model uses another feature spec; not comparable")
        return AssetCheckResult(passed=True, severity=AssetCheckSeverity.WARN, metadata=meta | {"reason": reason})
    passed, compared = verdict(result["candidate"], result["current"])
    return AssetCheckResult(passed=passed, severity=AssetCheckSeverity.ERROR,
                            metadata=meta | compared | {"production_auc": round(result["current"]["text_only"]["auc"], 4)})


CHECKS = [ctr_model_not_worse_than_production]
