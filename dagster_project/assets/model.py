"""The CTR model: LightGBM on the training set, saved in the model store as the candidate, then
promoted to production only after the blocking check `ctr_model_not_worse_than_production`.

    training_set ─▶ ctr_model (bundle, candidate) ─[blocking check]─▶ production_model (current)
"""

from dagster import AssetExecutionContext, MaterializeResult, MetadataValue, asset

from dagster_project.metadata import rounded, table
from dagster_project.plots import png_markdown
from dagster_project.resources import LocalPaths, ModelStoreResource, WarehouseResource
from warehouse.base import frame_rows

GROUP = "model"


@asset(
    group_name=GROUP,
    deps=["training_set", "tokenizer"],
    kinds={"lightgbm"},
    description="LightGBM CTR model packaged as a versioned bundle (candidate; promoted by production_model).",
)
def ctr_model(context: AssetExecutionContext, paths: LocalPaths, model_store: ModelStoreResource,
              warehouse: WarehouseResource):
    import time

    from models.asset_effects import strongest as strongest_effects
    from models.fit import fit_ctr_model, fitted_scoring_model, read_training_set, save_fitted
    from models.term_weights import term_weight_rows
    from transforms.features import term_count
    from monitoring.report import reference_sample_spec, score_reference

    files = paths.training_files()
    train, valid = read_training_set(files)
    context.log.info(f"training on {len(train):,} examples, validating on {len(valid):,}")
    with warehouse.open() as wh:
        ads = wh.query("SELECT * FROM `raw.ads`")
        pools = frame_rows(wh.query("SELECT * FROM `raw.asset_pools`")) if wh.table_exists("raw.asset_pools") else []
    ads = frame_rows(ads)
    fitted = fit_ctr_model(train, valid, ads, paths.tokenizer, split=paths.training_split(), progress=context.log.info)
    # The reference of score drift: this model's scores of the same kind of sample that each scoring
    # run takes (valid combinations of the pools), stored with the bundle (docs/monitoring.md).
    reference = None
    if pools:
        started = time.perf_counter()
        reference = score_reference(fitted_scoring_model(fitted, paths.tokenizer), ads, pools)
        context.log.info(f"score reference: {len(reference):,} sampled combinations of "
                         f"{reference['ad_group_id'].nunique():,} ad groups in {time.perf_counter() - started:.1f}s")
    else:
        context.log.warning("no asset pools to sample: the bundle has no score reference")
    store = model_store.store()
    version = store.add(save_fitted(fitted, store.build_dir(), paths.tokenizer, reference, reference_sample_spec()))
    m, effects = fitted.metrics, fitted.effects
    context.log.info(f"candidate model {version}: {m['num_trees']} trees in {fitted.seconds:.1f}s; valid AUC "
                     f"{m['valid']['auc']:.4f}, log loss {m['valid']['logloss']:.5f}, calibration "
                     f"{m['valid']['calibration']:.3f}")
    strongest = strongest_effects(effects, 10)
    return MaterializeResult(
        metadata={
            "version": version,
            "bundle": MetadataValue.path(store.uri(version)),
            "num_trees": m["num_trees"],
            "valid_auc": rounded(m["valid"]["auc"]),
            "valid_logloss": rounded(m["valid"]["logloss"]),
            "valid_calibration": rounded(m["valid"]["calibration"], 3),
            "valid_logloss_with_group_offsets": rounded(m["valid_with_group_offsets"]["logloss"]),
            "valid_auc_with_group_offsets": rounded(m["valid_with_group_offsets"]["auc"]),
            # the model's shape (docs/model.md): a linear base written as trees, then residual stumps
            "linear_trees": m.get("linear_trees", 0),
            "residual_stumps": m.get("residual_stumps", m["num_trees"]),
            "linear_l2": m.get("linear_l2"),
            # log-odds sd of an ad around its texts that impressions do not average away; what the
            # assets' effects leave of it weights the base beside them (docs/model.md, Training)
            "between_ad_sd": m.get("between_ad_sd"),
            "between_ad_sd_beside_effects": m.get("between_ad_sd_beside_effects"),
            # the slot scales and prior sd the shipped history effects were fitted with
            "slot_scales": MetadataValue.json(dict(zip(("H1", "H2", "H3", "D1", "D2"),
                                                       (m.get("asset_effects") or {}).get("slot_scales") or []))),
            "asset_prior_sd": (m.get("asset_effects") or {}).get("prior_sd"),
            "early_stopping": MetadataValue.json(m["early_stopping"]),
            "validation_split": MetadataValue.json(m.get("split", {})),
            # the market's reading of the lexicon (docs/model.md, "One weight per lexicon term"): weights of 1 count a
            # match as the lexicon does, 0 as no appeal, 2 as twice its category's effect
            "term_weights": term_count(fitted.term_weights),
            # how far a term may depart from its category: chosen by held-out ad groups' served ads
            "term_prior_sd": (m.get("term_weights") or {}).get("prior_sd"),
            "terms_read_differently": table(term_weight_rows(fitted.term_weights, 10), 2),
            "assets_with_history_effects": len(effects),
            "ad_groups_with_history_effects": int(effects["ad_group_id"].nunique()),
            "history_effect_sd": rounded(float(effects["effect"].std()) if len(effects) > 1 else 0.0, 3),
            # the assets whose own delivery moves their scores most in a slot: what history adds
            "strongest_history_effects": table(strongest, 3),
            "train_seconds": round(fitted.seconds, 1),
            "score_reference_combinations": 0 if reference is None else len(reference),
            "metrics": table(fitted.metrics_table()),
            "calibration_table": table(fitted.calibration),
            "top_features_by_gain": table(fitted.importance.head(15)),
            "calibration_plot": png_markdown(fitted.images["calibration.png"], "calibration"),
            "feature_importance_plot": png_markdown(fitted.images["feature_importance.png"], "feature importance"),
        }
    )


@asset(
    group_name=GROUP,
    deps=["ctr_model"],
    kinds={"python"},
    description="Promotes the candidate bundle to production. Runs only after the blocking check "
                "ctr_model_not_worse_than_production passed.",
)
def production_model(context: AssetExecutionContext, model_store: ModelStoreResource):
    from transforms.features import feature_spec

    store = model_store.store()
    bundle = store.load(store.candidate(), expected_spec=feature_spec())  # fails fast if unusable
    previous = store.promote(bundle.version)
    context.log.info(f"production model: {previous} → {bundle.version}")
    return MaterializeResult(metadata={"version": bundle.version, "previous_version": previous or "",
                                       "bundle": MetadataValue.path(store.uri(bundle.version))})


ASSETS = [ctr_model, production_model]
