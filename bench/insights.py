"""The insights part of the scoring benchmark (run by bench.scoring; docs/scoring.md).

1. The scoring pipeline with the insights the product turns on by default (diverse top-K, asset
   values for every asset, the top-1 explained in 1 ad group of --explain-every, the 15 + 4
   selection, which has nothing to do for pools that fit an RSA), on the same ad groups as
   the plain pipeline: throughput ratio and peak RSS (whole process tree and the largest single
   process). It is the shipped job, pipelines.score, with the product's insight flags (--min_diff,
   --asset_values_output, --explanations_output with --explain_every, --selections_output).
2. Brute force on the checked ad groups: the diverse top-K is the greedy definition over
   Booster.predict scores of every combination, asset values are maxima over every combination,
   explanation terms add up to the published score.
3. Generated pools larger than an RSA (default 60 x 10 = 18,478,800 combinations per ad group)
   through the same pipeline with the 15 + 4 selection on: seconds per ad group and peak RSS per
   worker process; on one of them, in this process, the blockwise outputs are compared with the
   same quantities computed from every score at once, and the assembled scores with
   Booster.predict on a sample of rows (brute force over 18.5 M rows would take ~10 minutes of
   LightGBM per ad group with the default model).
"""

from __future__ import annotations

import glob
import os
import shutil
import time

import numpy as np

K = 5
INSIGHT_OUTPUTS = ("asset_values", "explanations", "selections")


def product_defaults() -> dict:
    """The insight settings the product runs with by default (dagster_project.settings field
    defaults, not the environment): min_diff, explain_every, select."""
    from dagster_project.settings import Settings

    fields = Settings.model_fields
    return {"min_diff": fields["top_min_diff"].default, "explain_every": fields["explain_every"].default,
            "asset_values": fields["asset_values"].default, "select": fields["select_submission"].default}


def insight_options(min_diff: int, explain_every: int, select: bool = False):
    """What pipelines.score asks the handler for with the same flags (insight_flags)."""
    from pipelines.insight_outputs import insight_options as options

    return options(min_diff, asset_values=True, explain_every=explain_every, select=select)


def insight_flags(out_dir: str, min_diff: int, explain_every: int, select: bool = False) -> list[str]:
    """pipelines.score's flags for the insights, their outputs as Parquet under out_dir."""
    flags = [f"--min_diff={min_diff}", f"--asset_values_output={os.path.join(out_dir, 'asset_values', 'part')}"]
    if explain_every:
        flags += [f"--explain_every={explain_every}",
                  f"--explanations_output={os.path.join(out_dir, 'explanations', 'part')}"]
    if select:
        flags.append(f"--selections_output={os.path.join(out_dir, 'selections', 'part')}")
    return flags


def run_insights_pipeline(paths: dict, bundle: str, workers: int, out_dir: str, min_diff: int, explain_every: int,
                          select: bool = False) -> dict:
    """The shipped scoring job (pipelines.score) with the insight flags: its wall clock, CPU, peak
    RSS (tree and largest process) and its outputs read back."""
    import pandas as pd

    from bench.scoring import PeakRss
    from pipelines import score
    from pipelines.options import local_runner_flags, metrics_summary

    shutil.rmtree(out_dir, ignore_errors=True)
    flags = local_runner_flags(workers) + [
        f"--pools={paths['pools']}", f"--ads={paths['ads']}", f"--bundle={bundle}", f"--top_k={K}",
        f"--output={os.path.join(out_dir, 'top', 'part')}"] + insight_flags(out_dir, min_diff, explain_every, select)
    with PeakRss() as rss:
        start = time.perf_counter()
        result = score.run(flags)
        wall = time.perf_counter() - start

    def read(name):
        files = sorted(glob.glob(os.path.join(out_dir, name, "*.parquet")))
        return pd.concat([pd.read_parquet(f) for f in files], ignore_index=True) if files else pd.DataFrame()

    metrics = metrics_summary(result)
    return {"wall_s": wall, "cpu_s": rss.cpu_s, "peak_rss_gib": rss.gib, "peak_process_rss_gib": rss.process_gib,
            "combinations": int(metrics.get("combinations_scored", 0)), "metrics": metrics, "top": read("top"),
            **{name: read(name) for name in INSIGHT_OUTPUTS}}


# ---- brute force ------------------------------------------------------------------------------


def brute_diverse(raw: np.ndarray, combos: np.ndarray, k: int, min_diff: int) -> list[int]:
    """The greedy definition: best first (ties to the lower row), each next the best that differs
    from every kept one in >= min_diff positions."""
    order = np.lexsort((np.arange(len(raw)), -raw))
    feasible = np.ones(len(raw), dtype=bool)
    kept = []
    while len(kept) < k:
        idx = order[feasible[order]]
        if not len(idx):
            break
        i = int(idx[0])
        kept.append(i)
        feasible &= (combos != combos[i]).sum(axis=1) >= min_diff
        feasible[i] = False
    return kept


def brute_asset_values(raw: np.ndarray, group, top_n: int) -> dict:
    """{asset_id: (best_with, loss_if_removed or None, top_n_share)} over every combination."""
    combos = group.combos
    best = raw.max()
    top = combos[np.lexsort((np.arange(len(raw)), -raw))[:top_n]]
    out = {}
    for ids, cols in ((group.headline_ids, slice(0, 3)), (group.description_ids, slice(3, 5))):
        for a, asset_id in enumerate(ids):
            has = (combos[:, cols] == a).any(axis=1)
            out[asset_id] = (raw[has].max() if has.any() else None,
                             best - raw[~has].max() if (~has).any() else None,
                             float((top[:, cols] == a).any(axis=1).mean()))
    return out


def check_insights(run: dict, groups, bundle_path: str, min_diff: int, top_n: int) -> dict:
    """The pipeline's diverse top-K, asset values and explanation sums against brute force over
    Booster.predict on every combination of the given ad groups (bench pools have no history)."""
    from models.bundle import load_bundle
    from transforms.combinations import build_ad_group_combinations
    from transforms.features import feature_spec
    from transforms.tokenizer import load_processor

    bundle = load_bundle(bundle_path, feature_spec())
    sp = load_processor(bundle.tokenizer_path)
    top = run["top"].sort_values(["ad_group_id", "rank"])
    values = run["asset_values"].set_index("asset_id")
    bad, max_err, checked = [], 0.0, 0
    for gid, keyword, industry, assets in groups:
        g = build_ad_group_combinations(keyword, assets, sp, industry=industry, term_weights=bundle.term_weights)
        raw = bundle.booster.predict(g.X, raw_score=True, num_threads=1)
        want = [g.row_asset_ids(i) for i in brute_diverse(raw, g.combos, K, min_diff)]
        t = top[top.ad_group_id == gid]
        have = list(zip(t.h1_asset_id, t.h2_asset_id, t.h3_asset_id, t.d1_asset_id, t.d2_asset_id))
        if have != want:
            bad.append(f"{gid}: diverse top-{K}")
        for asset_id, (with_, loss, share) in brute_asset_values(raw, g, top_n).items():
            r = values.loc[asset_id]
            errs = [abs(r.best_with_raw - with_) if with_ is not None else (0.0 if np.isnan(r.best_with_raw) else 1.0),
                    abs(r.loss_if_removed - loss) if loss is not None else (0.0 if np.isnan(r.loss_if_removed) else 1.0),
                    abs(r.top_n_share - share)]
            max_err = max(max_err, *errs)
            if max(errs) > 1e-9:
                bad.append(f"{gid}: asset {asset_id}")
        checked += 1
    ex = run["explanations"]
    sums = ex.groupby(["ad_group_id", "rank"]).agg(total=("value", "sum"), raw=("raw_score", "first"))
    explain_err = float((sums.total - sums.raw).abs().max()) if len(sums) else float("nan")
    published = top[top["rank"] == 1].set_index("ad_group_id")["raw_score"]
    rank1 = sums.xs(1, level="rank")["raw"] if len(sums) else sums["raw"]
    explain_published = bool((rank1 == published.reindex(rank1.index)).all())
    explain_err = 0.0 if not len(sums) else explain_err
    return {"checked": checked, "mismatched": bad[:20], "n_mismatched": len(bad), "max_abs_value_error": max_err,
            "explained": int(len(sums)), "max_abs_explanation_sum_error": explain_err,
            "explanations_match_published": explain_published,
            "ok": not bad and explain_err <= 1e-6 and explain_published}


# ---- generated pools larger than an RSA -----------------------------------------------------------


def check_big_pool(paths: dict, bundle_path: str, min_diff: int, sample: int = 20000, seed: int = 0) -> dict:
    """One big ad group in this process: blockwise results vs every score at once, and the
    assembled scores vs Booster.predict on a sample of rows."""
    from bench.data import read_groups
    from models.asset_values import BestPerTripleAndPair, kind_values
    from models.bundle import load_bundle
    from models.insight_options import InsightOptions
    from models.scoring import PoolInput, ScoringModel, score_pool
    from models.topk import top_k_indices
    from transforms.features import feature_spec

    gid, keyword, industry, assets = read_groups(paths, 1)[0]
    model = ScoringModel.from_bundle(load_bundle(bundle_path, feature_spec()))
    opts = InsightOptions(min_diff=min_diff, asset_values=True)
    start = time.perf_counter()
    out = score_pool(model, PoolInput(gid, keyword, assets, industry), K, keep_all=True, insights=opts)
    seconds = time.perf_counter() - start
    g, s, raw = out.group, out.scored, out.scored.all_raw
    rng = np.random.default_rng(seed)
    rows = np.unique(np.concatenate([rng.integers(0, len(g), sample), s.top_rows]))
    exact = model.booster.predict(g.features(g.rows(rows)), raw_score=True)
    err = float(np.abs(exact - raw[rows]).max())
    plain = score_pool(model, PoolInput(gid, keyword, assets, industry), K)
    same_top = bool(np.array_equal(plain.scored.top_rows, top_k_indices(raw, K)))
    same_diverse = s.top_rows.tolist() == brute_diverse(raw, g.combos, K, min_diff)
    whole = BestPerTripleAndPair(len(g.triples), len(g.pairs))
    whole.add(0, len(g.triples), raw.reshape(len(g.triples), len(g.pairs)))
    lead = np.lexsort((np.arange(len(raw)), -raw))[:opts.top_n]
    h0, d0 = kind_values(g, whole, lead)
    h1, d1 = kind_values(g, s.maxima, s.leading_rows)
    same_values = all(np.array_equal(getattr(a, f), getattr(b, f)) for a, b in ((h0, h1), (d0, d1))
                      for f in ("best_with", "best_with_row", "best_without", "top_share"))
    return {"ad_group_id": gid, "combinations": len(g), "seconds_in_process": seconds,
            "sampled_rows": int(len(rows)), "max_abs_error_vs_predict": err, "top_k_equals_all_at_once": same_top,
            "diverse_equals_all_at_once": same_diverse, "asset_values_equal_all_at_once": same_values,
            "ok": same_top and same_diverse and same_values and err < 1e-9}


def core_cost(groups, bundle_path: str, opts, repeats: int = 3) -> dict:
    """CPU milliseconds per ad group of score_pool, plain and with insights, alternating on the same
    ad groups in this process (robust to other load on a shared machine, unlike wall clocks)."""
    from models.bundle import load_bundle
    from models.scoring import PoolInput, ScoringModel, score_pool
    from transforms.features import feature_spec

    model = ScoringModel.from_bundle(load_bundle(bundle_path, feature_spec()))
    pools = [PoolInput(g, k, a, i) for g, k, i, a in groups]
    for p in pools[:5]:  # warm up
        score_pool(model, p, K)
        score_pool(model, p, K, insights=opts)
    plain, with_insights = [], []
    for _ in range(repeats):
        for p in pools:
            t = time.process_time()
            score_pool(model, p, K)
            plain.append(time.process_time() - t)
            t = time.process_time()
            score_pool(model, p, K, insights=opts)
            with_insights.append(time.process_time() - t)
    a, b = float(np.sum(plain)), float(np.sum(with_insights))
    return {"ad_groups": len(pools), "repeats": repeats, "plain_ms": 1000 * a / len(plain),
            "insights_ms": 1000 * b / len(with_insights), "ratio": b / a}
