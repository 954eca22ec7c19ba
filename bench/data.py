"""Benchmark inputs: full pools (15 headlines x 4 descriptions, all valid, unpinned by default)
and a model bundle trained with the shipped default configuration on the simulator's served ads.

Everything is seeded and cached under the work directory, so reruns measure the same ad groups
with the same model.
"""

from __future__ import annotations

import inspect
import json
import os

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

POOL_COLUMNS = ("ad_group_id", "asset_id", "asset_type", "text", "pinned_field")
ADS_COLUMNS = ("ad_id", "ad_group_id", "campaign_id", "industry", "keyword", "headline_1", "headline_2",
               "headline_3", "description_1", "description_2")


def make_pools(n_ad_groups: int, n_headlines: int = 15, n_descriptions: int = 4, seed: int = 11,
               pin_rate: float = 0.0):
    """(pool rows, ad rows): n_ad_groups pools of distinct within-limit texts from admedia.textgen.

    Each ad group gets one served-ad row (its keyword and industry are what scoring reads).
    Ad group g depends only on (seed, g): a larger benchmark extends a smaller one.
    """
    from admedia import textgen

    pools = {c: [] for c in POOL_COLUMNS}
    ads = {c: [] for c in ADS_COLUMNS}
    for g in range(n_ad_groups):
        rng = np.random.default_rng(np.random.SeedSequence([seed, g]))
        ind = textgen.INDUSTRIES[int(rng.integers(len(textgen.INDUSTRIES)))]
        brand = ind.brands[int(rng.integers(len(ind.brands)))]
        keyword = ind.keywords[int(rng.integers(len(ind.keywords)))]
        heads = textgen.asset_texts(rng, ind, brand, keyword, n_headlines, "HEADLINE", overlong_rate=0.0)
        descs = textgen.asset_texts(rng, ind, brand, keyword, n_descriptions, "DESCRIPTION", overlong_rate=0.0)
        gid = f"bg{g:06d}"
        pins_h = [""] * n_headlines
        if pin_rate and rng.random() < pin_rate:
            pins_h[0] = "HEADLINE_1"
        for kind, texts, pins in (("HEADLINE", heads, pins_h), ("DESCRIPTION", descs, [""] * n_descriptions)):
            for i, (t, pin) in enumerate(zip(texts, pins)):
                pools["ad_group_id"].append(gid)
                pools["asset_id"].append(f"{gid}-{kind[0].lower()}{i:02d}")
                pools["asset_type"].append(kind)
                pools["text"].append(t)
                pools["pinned_field"].append(pin)
        for c, v in zip(ADS_COLUMNS, (f"ad-{gid}", gid, "cmp", ind.name, keyword, heads[0], heads[1],
                                      heads[2], descs[0], descs[1])):
            ads[c].append(v)
    return pools, ads


def write_pools(workdir: str, n_ad_groups: int, **kwargs) -> dict:
    """Parquet files of the pools and ads (cached by size); {"pools": path, "ads": path}."""
    tag = f"{n_ad_groups}" + "".join(f"-{k}{v}" for k, v in sorted(kwargs.items()))
    out = {"pools": os.path.join(workdir, f"pools-{tag}.parquet"), "ads": os.path.join(workdir, f"ads-{tag}.parquet")}
    if all(os.path.exists(p) for p in out.values()):
        return out
    os.makedirs(workdir, exist_ok=True)
    pools, ads = make_pools(n_ad_groups, **kwargs)
    for key, cols in (("pools", pools), ("ads", ads)):
        table = pa.table({c: pa.array(v, pa.string()) for c, v in cols.items()})
        # Several row groups so the local runner can split the read.
        pq.write_table(table, out[key] + ".tmp", row_group_size=20_000)
        os.replace(out[key] + ".tmp", out[key])
    return out


def read_groups(paths: dict, limit: int | None = None) -> list[tuple[str, str, str, list[dict]]]:
    """[(ad_group_id, keyword, industry, assets)] in ad group order (first `limit`)."""
    import pandas as pd

    pools = pd.read_parquet(paths["pools"])
    ads = pd.read_parquet(paths["ads"]).drop_duplicates("ad_group_id").set_index("ad_group_id")
    ids = sorted(pools["ad_group_id"].unique())[:limit]
    pools = pools[pools["ad_group_id"].isin(set(ids))]
    by = {g: df.to_dict("records") for g, df in pools.groupby("ad_group_id")}
    return [(g, ads.at[g, "keyword"] if g in ads.index else "", ads.at[g, "industry"] if g in ads.index else "",
             by[g]) for g in ids]


def default_bundle(workdir: str, world: str = "default", seed: int = 7) -> str:
    """A bundle trained with models.train's shipped defaults (DEFAULT_PARAMS, read at run time)
    on the served ads of the simulator world preset `world`; cached per feature spec."""
    import pandas as pd

    from admedia.world import World, WorldConfig
    from models.bundle import save_bundle
    from models.term_weights import learn_term_weights
    from models.train import DEFAULT_PARAMS, train_ctr_model
    from transforms.features import COMBINATION_FEATURE_NAMES, feature_spec, featurize_served_ads
    from transforms.tokenizer import load_processor, train_sentencepiece

    import hashlib

    from models import bundle as bundle_mod
    from models import linear_base
    from transforms import tokenizer as tokenizer_mod

    spec = feature_spec()
    # The training recipe's knobs are in the key, so a changed model is never measured from cache.
    base = [linear_base.SHAPE_MIN_BINS, linear_base.SHAPE_SMOOTHING, linear_base.SHAPE_RIDGE,
            "between-ad weights", linear_base.TAU_ROUNDS, "slot scales over five slots", "term weights",
            "term prior learnt"]
    key = json.dumps([spec["fingerprint"], DEFAULT_PARAMS, world, seed, bundle_mod.BUNDLE_FORMAT, "ads-backfit",
                      getattr(tokenizer_mod, "TOKENIZER_VERSION", ""), base], sort_keys=True, default=str)
    tag = hashlib.sha256(key.encode()).hexdigest()[:12]
    root = os.path.join(workdir, "bundles")
    final = os.path.join(root, f"bench-{world}-{tag}")
    if os.path.exists(os.path.join(final, "manifest.json")):
        try:
            bundle_mod.check_bundle(final, spec)
            return final
        except bundle_mod.BundleError:
            import shutil

            shutil.rmtree(final)
    os.makedirs(root, exist_ok=True)
    w = World.generate(WorldConfig.preset(world, seed=seed))
    ads = w.ads()
    texts = [a["text"] for a in w.asset_pools()] + [
        ad[c] for ad in ads for c in ("headline_1", "headline_2", "headline_3", "description_1", "description_2")]
    tok = train_sentencepiece(texts, os.path.join(workdir, f"tokenizer-{world}-{seed}.model"))
    sp = load_processor(tok)
    perf = pd.DataFrame(w.daily_performance(w.start_date, w.end_date))
    perf["valid"] = pd.to_datetime(perf["date"]) > pd.Timestamp(w.end_date) - pd.Timedelta(days=7)
    sums = perf.groupby(["ad_id", "valid"], as_index=False)[["impressions", "clicks"]].sum()
    by_id = {ad["ad_id"]: ad for ad in ads}
    sums = sums[sums.ad_id.isin(by_id) & (sums.impressions > 0)].reset_index(drop=True)
    groups = np.array([by_id[a]["ad_group_id"] for a in sums.ad_id])
    tr, va = ~sums.valid.to_numpy(), sums.valid.to_numpy()
    # the lexicon's term weights from the training rows, as ctr_model learns them (models.fit)
    weights = learn_term_weights(by_id, sums[tr].assign(ad_group_id=groups[tr]))
    X = featurize_served_ads([by_id[a] for a in sums.ad_id], sp, weights)
    kwargs = {}
    if "groups_train" in inspect.signature(train_ctr_model).parameters:
        kwargs = {"groups_train": groups[tr], "groups_valid": groups[va]}
    if "ads_train" in inspect.signature(train_ctr_model).parameters:  # as the product trains (models.fit)
        kwargs["ads_train"] = [by_id[a] for a in sums.ad_id[tr]]
    imp, clk = sums.impressions.to_numpy(), sums.clicks.to_numpy()
    result = train_ctr_model(X[tr], imp[tr], clk[tr], X[va], imp[va], clk[va], COMBINATION_FEATURE_NAMES,
                             **kwargs)
    return save_bundle(root, result.booster.model_to_string(), tok, spec, result.metrics,
                       {k: v for k, v in result.params.items() if k != "interaction_constraints"},
                       tag, version=f"bench-{world}-{tag}", term_weights=weights)
