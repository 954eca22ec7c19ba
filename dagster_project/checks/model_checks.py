"""Model promotion gate: a new model becomes production only if it is not worse than the current one."""

from dagster import AssetCheckResult, AssetCheckSeverity, asset_check

from dagster_project.resources import LocalPaths, ModelStoreResource, WarehouseResource
from models.promotion import (LOGLOSS_TOLERANCE, MATERIAL_CHANGE_PERCENT, PAIRED_Z_LIMIT, Contender, compare,
                              verdict)
from warehouse.base import frame_rows


def compare_on_validation(store, candidate: str, current: str, training_files: list[str], ads_rows=()) -> dict:
    """Both bundles on the same validation rows (models.promotion.compare), each with the history
    effects' prior sd and slot scales it was trained with."""
    from models.bundle import BundleError
    from models.fit import read_training_set
    from transforms.features import feature_spec

    spec = feature_spec()
    new = store.load(candidate, expected_spec=spec)
    train, valid = read_training_set(training_files)

    def contender(bundle) -> Contender:
        from transforms.tokenizer import load_processor

        return Contender(bundle.booster, bundle.manifest["metrics"].get("asset_effects"), bundle.term_weights,
                         load_processor(bundle.tokenizer_path))

    try:
        old = store.load(current)  # verified files; its spec is compared below
    except BundleError as exc:
        # Written by other code (older format or tokenizer): not comparable, so do not block.
        return compare(contender(new), None, train, valid, ads_rows) | {
            "reason": f"production bundle unreadable by this code: {exc}"}
    # Another feature spec: the training set's features are not the ones it reads, not comparable.
    comparable = old.manifest["feature_spec"]["fingerprint"] == spec["fingerprint"]
    try:
        return compare(contender(new), contender(old) if comparable else None, train, valid, ads_rows)
    except ValueError as exc:  # production's features need ads raw.ads no longer has
        return compare(contender(new), None, train, valid, ads_rows) | {
            "reason": f"production model not comparable on this training set: {exc}"}


@asset_check(
    asset="ctr_model",
    blocking=True,
    description="Blocks promotion when the new model's validation log loss is worse than the production "
                f"model's on the same validation data (tolerance {LOGLOSS_TOLERANCE:.1%}): the booster alone, or "
                "as it scores combinations not served (with the asset effects of each ad group's other served "
                f"ads), also paired over ad groups (refused at z < -{PAIRED_Z_LIMIT:g} when worse by more than "
                f"{MATERIAL_CHANGE_PERCENT:g}%).",
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
    except ValueError as exc:  # the candidate's own features cannot be recomputed: it cannot be judged
        return AssetCheckResult(passed=False, severity=AssetCheckSeverity.ERROR,
                                metadata={"candidate": candidate, "reason": str(exc)})
    new = result["candidate"]["text_only"]
    meta = {"candidate": candidate, "production": current,
            "candidate_logloss": round(new["logloss"], 5), "candidate_auc": round(new["auc"], 4)}
    if result["current"] is None:
        # A feature-spec change cannot be compared on this data; allow it and say so.
        reason = result.get("reason", "production model uses another feature spec; not comparable")
        return AssetCheckResult(passed=True, severity=AssetCheckSeverity.WARN, metadata=meta | {"reason": reason})
    passed, compared = verdict(result)
    return AssetCheckResult(passed=passed, severity=AssetCheckSeverity.ERROR,
                            metadata=meta | compared | {"production_auc": round(result["current"]["text_only"]["auc"], 4)})


CHECKS = [ctr_model_not_worse_than_production]
