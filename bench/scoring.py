"""Scoring benchmark: the shipped pipeline vs the model alone vs one element per combination.

    .venv/bin/python -m bench.scoring --ad-groups 64            # the comparison table (~3 min)
    .venv/bin/python -m bench.scoring --ad-groups 10000 --check-ad-groups 50 \
        --baseline-ad-groups 16 --sizes 1000,2500,5000          # full scale + growth table

Measured in one run, on the same ad groups (15 headlines x 4 descriptions, unpinned, all within
the width limits: 32,760 combinations each) and the same model (models.train DEFAULT_PARAMS read at
run time, trained on the simulator world's served ads; see bench/data.py):

1. pipeline  - pipelines.score on the local runner (FnApiRunner, multi-processing, --workers
               processes), wall clock from submission to the written top-K;
2. model     - lightgbm.Booster.predict (one thread) on each ad group's feature matrix, built
               beforehand outside the timed region: the cost of the model itself;
3. baseline  - the common approach: one Beam element per combination through RunInference with
               the same handler (batched rows), top-K with Top.PerKey; local runner, same workers.
4. insights  - the same pipeline with the insight flags the product uses by default (bench/insights.py:
               diverse top-K with --min-diff, every asset's value, the top-1 explained in one ad
               group of --explain-every, the 15 + 4 selection), same ad groups: throughput ratio to
               (1), peak RSS of the tree and
               of the largest process; its outputs against brute force on the checked ad groups;
               score_pool CPU per ad group plain vs insights, alternating in one process;
5. generated pools larger than an RSA (--big-ad-groups of --big-size, default 4 of 60 x 10) with
               the insights and the 15 + 4 selection: per-ad-group seconds, largest worker RSS.

Rates are combinations per second per core: combinations / (wall seconds x cores used). The
pipeline's top-K is checked against brute force (the model-alone scores, top_k_indices) on the
checked ad groups: same combinations in the same order, raw scores within 1e-9. Peak RSS is the
sum over this process and its children (the worker processes), sampled every 0.2 s. The table is
printed and written as JSON (--json).
"""

from __future__ import annotations

import argparse
import glob
import json
import os
import platform
import shutil
import sys
import threading
import time

import numpy as np

K = 5


# ---- memory ---------------------------------------------------------------------------------


_TICKS = os.sysconf("SC_CLK_TCK")


def _tree_rss_bytes(root: int, cpu: dict | None = None, each: dict | None = None) -> int:
    """RSS of root and all its descendants; records each one's CPU seconds in `cpu` and its
    largest RSS so far in `each` (by pid)."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as f:
                stat = f.read().rsplit(b")", 1)[1].split()
            children.setdefault(int(stat[1]), []).append(int(entry))
        except (OSError, IndexError, ValueError):
            continue
    total, stack = 0, [root]
    while stack:
        pid = stack.pop()
        stack.extend(children.get(pid, []))
        try:
            with open(f"/proc/{pid}/statm") as f:
                rss = int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
            total += rss
            if each is not None:
                each[pid] = max(each.get(pid, 0), rss)
            if cpu is not None:
                with open(f"/proc/{pid}/stat", "rb") as f:
                    fields = f.read().rsplit(b")", 1)[1].split()
                cpu[pid] = (int(fields[11]) + int(fields[12])) / _TICKS  # utime + stime
        except (OSError, IndexError, ValueError):
            pass
    return total


class PeakRss:
    """Peak RSS of this process tree while the block runs, and the CPU seconds its processes used
    (worker processes are grandchildren, often killed rather than reaped: rusage misses them)."""

    def __init__(self, interval: float = 0.2):
        self.interval, self.peak, self._stop = interval, 0, threading.Event()
        self._cpu0: dict = {}
        self._cpu: dict = {}
        self.each: dict = {}  # pid -> its largest RSS seen

    def _run(self):
        while not self._stop.is_set():
            self.peak = max(self.peak, _tree_rss_bytes(os.getpid(), self._cpu, self.each))
            self._stop.wait(self.interval)

    @property
    def cpu_s(self) -> float:
        return sum(v - self._cpu0.get(pid, 0.0) for pid, v in self._cpu.items())

    def __enter__(self):
        self.peak = _tree_rss_bytes(os.getpid(), self._cpu0)
        self._cpu = dict(self._cpu0)
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()
        _tree_rss_bytes(os.getpid(), self._cpu)

    @property
    def gib(self) -> float:
        return self.peak / 2**30

    @property
    def process_gib(self) -> float:
        """The largest RSS of any single process of the tree (a worker, or this process)."""
        return max(self.each.values(), default=0) / 2**30


# ---- the three measurements -------------------------------------------------------------------


def run_pipeline(paths: dict, bundle: str, workers: int, out_dir: str) -> dict:
    import pandas as pd

    from pipelines import score
    from pipelines.options import local_runner_flags, metrics_summary

    shutil.rmtree(out_dir, ignore_errors=True)
    with PeakRss() as rss:
        start = time.perf_counter()
        result = score.run(local_runner_flags(workers) + [
            f"--pools={paths['pools']}", f"--ads={paths['ads']}", f"--bundle={bundle}",
            f"--output={os.path.join(out_dir, 'part')}", f"--top_k={K}"])
        wall = time.perf_counter() - start
    metrics = metrics_summary(result)
    files = sorted(glob.glob(os.path.join(out_dir, "*.parquet")))
    top = pd.concat([pd.read_parquet(f) for f in files], ignore_index=True)
    return {"wall_s": wall, "cpu_s": rss.cpu_s, "peak_rss_gib": rss.gib,
            "combinations": int(metrics.get("combinations_scored", 0)), "metrics": metrics, "top": top}


def run_model_alone(groups, bundle_path: str) -> dict:
    """Booster.predict on prebuilt feature matrices (build untimed); returns brute-force top-K."""
    from models.bundle import load_bundle
    from models.topk import top_k_indices
    from transforms.combinations import build_ad_group_combinations
    from transforms.features import feature_spec
    from transforms.tokenizer import load_processor

    bundle = load_bundle(bundle_path, feature_spec())
    sp = load_processor(bundle.tokenizer_path)
    predict_s, rows, expected = 0.0, 0, {}
    with PeakRss() as rss:
        for gid, keyword, industry, assets in groups:
            g = build_ad_group_combinations(keyword, assets, sp, industry=industry, term_weights=bundle.term_weights)
            X = np.ascontiguousarray(g.X)  # built beforehand: not timed
            start = time.perf_counter()
            raw = bundle.booster.predict(X, raw_score=True, num_threads=1)
            predict_s += time.perf_counter() - start
            rows += len(X)
            top = top_k_indices(raw, K)
            expected[gid] = [(g.row_asset_ids(int(i)), float(raw[i])) for i in top]
            del X, raw
    return {"predict_s": predict_s, "combinations": rows, "expected": expected, "peak_rss_gib": rss.gib}


def run_baseline(paths: dict, bundle: str, workers: int, out_dir: str) -> dict:
    """One element per combination through RunInference (the common approach)."""
    import apache_beam as beam
    from apache_beam.ml.inference.base import KeyedModelHandler, RunInference

    from models.bundle import TOKENIZER_FILE, load_bundle
    from models.handler import LightGBMBundleHandler
    from pipelines import score
    from pipelines.options import local_runner_flags, metrics_summary, pipeline_options
    from transforms.dofns import EnumerateAndFeaturize

    def explode(kv):
        gid, g = kv
        for i, row in enumerate(g.X):
            yield (gid, i, g.row_asset_ids(i)), row

    def rekey(kv):
        (gid, i, ids), pred = kv
        return gid, (float(pred.inference), -i, ids)

    def fmt(kv):
        gid, best = kv
        return json.dumps({"ad_group_id": gid, "top": [[list(ids), s] for s, _, ids in best]})

    shutil.rmtree(out_dir, ignore_errors=True)
    options = pipeline_options(local_runner_flags(workers))
    p = beam.Pipeline(options=options)
    assets = (p | "ReadPools" >> beam.io.ReadFromParquet(paths["pools"])
                | "KeyAssets" >> beam.Map(lambda a: (a["ad_group_id"], a)))
    meta = p | "ReadAds" >> beam.io.ReadFromParquet(paths["ads"]) | beam.Map(score._ad_group_meta)
    def as_dict(kv):  # score._assemble gives a models.scoring.PoolInput; the DoFn takes a dict
        gid, pool = kv
        return gid, {"keyword": pool.keyword, "industry": pool.industry, "assets": list(pool.assets)}

    _ = ({"assets": assets, "meta": meta}
         | beam.CoGroupByKey() | beam.Map(score._assemble) | beam.Map(as_dict) | beam.Reshuffle()
         | beam.ParDo(EnumerateAndFeaturize(f"{bundle}/{TOKENIZER_FILE}",
                                           term_weights=load_bundle(bundle).term_weights))
         | "OneElementPerCombination" >> beam.FlatMap(explode)
         | RunInference(KeyedModelHandler(LightGBMBundleHandler(bundle)))
         | beam.Map(rekey)
         | beam.combiners.Top.PerKey(K)
         | beam.Map(fmt)
         | beam.io.WriteToText(os.path.join(out_dir, "part")))
    with PeakRss() as rss:
        start = time.perf_counter()
        result = p.run()
        result.wait_until_finish()
        wall = time.perf_counter() - start
    got = {}
    for f in glob.glob(os.path.join(out_dir, "part*")):
        with open(f, encoding="utf-8") as fh:
            for line in fh:
                r = json.loads(line)
                got[r["ad_group_id"]] = [(tuple(ids), s) for ids, s in r["top"]]
    return {"wall_s": wall, "cpu_s": rss.cpu_s, "peak_rss_gib": rss.gib,
            "combinations": int(metrics_summary(result).get("combinations_scored", 0)), "top": got}


# ---- checks and report ------------------------------------------------------------------------


def compare_top(got: dict, expected: dict) -> dict:
    """Same combinations in the same order and raw scores within 1e-9, per checked ad group."""
    bad, max_err = [], 0.0
    for gid, want in expected.items():
        have = got.get(gid, [])
        if [ids for ids, _ in have] != [ids for ids, _ in want]:
            bad.append(gid)
            continue
        if want:
            err = max(abs(a - b) for (_, a), (_, b) in zip(have, want))
            max_err = max(max_err, err)
            if err > 1e-9:
                bad.append(gid)
    return {"checked": len(expected), "mismatched": bad[:20], "n_mismatched": len(bad),
            "max_abs_raw_error": max_err, "ok": not bad}


def pipeline_top(df) -> dict:
    out = {}
    for r in df.sort_values(["ad_group_id", "rank"]).itertuples():
        ids = (r.h1_asset_id, r.h2_asset_id, r.h3_asset_id, r.d1_asset_id, r.d2_asset_id)
        out.setdefault(r.ad_group_id, []).append((ids, float(r.raw_score)))
    return out


def _fmt_rate(x: float) -> str:
    return f"{x:,.0f}"


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--ad-groups", type=int, default=64, help="ad groups scored by the pipeline")
    ap.add_argument("--check-ad-groups", type=int, default=None,
                    help="first N ad groups for the model-alone figure and the brute-force check "
                         "(default: all, up to 200)")
    ap.add_argument("--baseline-ad-groups", type=int, default=None,
                    help="first N ad groups for the one-element-per-combination baseline "
                         "(default: min(ad groups, 16); 0 skips it)")
    ap.add_argument("--sizes", default="", help="comma-separated ad-group counts for the growth table")
    ap.add_argument("--workers", type=int, default=2, help="local runner worker processes")
    ap.add_argument("--world", default="default", help="simulator preset the model is trained on")
    ap.add_argument("--workdir", default=os.path.join(os.getcwd(), ".adcombo", "bench"),
                    help="cache (pools, bundle) and outputs")
    ap.add_argument("--json", default=None, help="where to write the results (default: workdir)")
    ap.add_argument("--no-insights", action="store_true",
                    help="skip the pipeline with insights (diverse top-K, asset values, explanations)")
    from bench.insights import product_defaults

    defaults = product_defaults()
    ap.add_argument("--min-diff", type=int, default=defaults["min_diff"],
                    help="diverse top-K: positions two kept combinations differ in (default: the product's)")
    ap.add_argument("--explain-every", type=int, default=defaults["explain_every"],
                    help="explain the top combination of one ad group in N (default: the product's; 1: every ad group)")
    ap.add_argument("--no-select", action="store_true",
                    help="leave the 15 + 4 selection off in the insights run (the product has it on)")
    ap.add_argument("--big-ad-groups", type=int, default=4,
                    help="generated pools larger than an RSA scored with insights and the 15 + 4 selection (0 skips)")
    ap.add_argument("--big-size", default="60x10", help="headlines x descriptions of those pools")
    args = ap.parse_args(argv)

    import logging

    logging.basicConfig(level=logging.WARNING)
    from bench.data import default_bundle, read_groups, write_pools
    from models.bundle import load_bundle
    from models.pairwise import check_decomposable
    from transforms.features import feature_spec

    n = args.ad_groups
    n_check = min(n, args.check_ad_groups if args.check_ad_groups is not None else 200)
    n_base = min(n, args.baseline_ad_groups if args.baseline_ad_groups is not None else 16)
    cores = min(args.workers, os.cpu_count() or 1)
    t0 = time.perf_counter()
    bundle = default_bundle(args.workdir, world=args.world)
    b = load_bundle(bundle, feature_spec())
    dec = check_decomposable(b.booster, b.feature_names)
    model_info = {"bundle": bundle, "trees": b.booster.num_trees(), "features": b.booster.num_feature(),
                  "num_leaves": b.manifest.get("params", {}).get("num_leaves"), "leaves_total": dec.n_leaves,
                  "decomposable": dec.ok, "decomposable_reason": dec.reason,
                  "position_pairs_read": len(dec.pairs_read)}
    print(f"model: {model_info['trees']} trees, num_leaves {model_info['num_leaves']}, "
          f"{model_info['features']} features; {dec.reason} ({bundle}, ready in {time.perf_counter() - t0:.0f}s)",
          flush=True)

    paths = write_pools(args.workdir, n)
    out_root = os.path.join(args.workdir, "out")
    print(f"pipeline: {n} ad groups x 32,760 ...", flush=True)
    pipe = run_pipeline(paths, bundle, args.workers, os.path.join(out_root, f"top-{n}"))
    pipe_rate = pipe["combinations"] / (pipe["wall_s"] * cores)
    print(f"  {pipe['combinations']:,} combinations in {pipe['wall_s']:.1f}s, peak RSS {pipe['peak_rss_gib']:.2f} GiB",
          flush=True)

    print(f"model alone + brute force: {n_check} ad groups ...", flush=True)
    groups = read_groups(paths, n_check)
    model = run_model_alone(groups, bundle)
    model_rate = model["combinations"] / model["predict_s"]
    check = compare_top(pipeline_top(pipe["top"]), model["expected"])
    print(f"  {model['combinations']:,} rows in {model['predict_s']:.1f}s of Booster.predict; "
          f"top-{K} vs brute force: {'identical' if check['ok'] else 'MISMATCH'} "
          f"({check['checked']} ad groups, max |raw error| {check['max_abs_raw_error']:.2g})", flush=True)

    base = None
    if n_base > 0:
        print(f"baseline (one element per combination): {n_base} ad groups ...", flush=True)
        base_paths = write_pools(args.workdir, n_base)
        base = run_baseline(base_paths, bundle, args.workers, os.path.join(out_root, f"baseline-{n_base}"))
        base["rate"] = base["combinations"] / (base["wall_s"] * cores)
        base_check = compare_top(base.pop("top"), {g: v for g, v in model["expected"].items()
                                                   if g in {x[0] for x in read_groups(base_paths)}})
        base["check"] = base_check
        print(f"  {base['combinations']:,} combinations in {base['wall_s']:.1f}s", flush=True)

    ins = ins_check = None
    if not args.no_insights:
        from bench.insights import check_insights, core_cost, insight_options, run_insights_pipeline

        select = not args.no_select
        opts = insight_options(args.min_diff, args.explain_every, select)
        print(f"pipeline with insights (min_diff {args.min_diff}, asset values, top-1 explained in 1 of "
              f"{args.explain_every} ad groups, selection {'on' if select else 'off'}): {n} ad groups ...", flush=True)
        ins = run_insights_pipeline(paths, bundle, args.workers, os.path.join(out_root, f"insights-{n}"),
                                    args.min_diff, args.explain_every, select)
        ins["rate_per_core"] = ins["combinations"] / (ins["wall_s"] * cores)
        # Other load on a shared machine drifts: a second plain run right after brackets the
        # insights run, and the ratios are taken against the mean of the two plain runs.
        print(f"pipeline again (plain, bracketing the insights run): {n} ad groups ...", flush=True)
        again = run_pipeline(paths, bundle, args.workers, os.path.join(out_root, f"top-{n}-again"))
        ins["plain_again"] = {k: v for k, v in again.items() if k not in ("top", "metrics")}
        plain_wall = (pipe["wall_s"] + again["wall_s"]) / 2
        plain_cpu = (pipe["cpu_s"] + again["cpu_s"]) / 2
        ins["vs_plain"] = {"plain_wall_s": [pipe["wall_s"], again["wall_s"]], "plain_cpu_s": [pipe["cpu_s"], again["cpu_s"]],
                           "throughput_ratio_wall": plain_wall / ins["wall_s"], "cpu_ratio": ins["cpu_s"] / plain_cpu}
        print(f"  plain again: {again['wall_s']:.1f}s, CPU {again['cpu_s']:.1f}s, peak RSS {again['peak_rss_gib']:.2f} GiB",
              flush=True)
        print(f"  {ins['combinations']:,} combinations in {ins['wall_s']:.1f}s, peak RSS {ins['peak_rss_gib']:.2f} GiB "
              f"(largest process {ins['peak_process_rss_gib']:.2f} GiB); {len(ins['asset_values']):,} asset rows, "
              f"{ins['explanations'].groupby(['ad_group_id', 'rank']).ngroups if len(ins['explanations']) else 0:,} "
              "explanations", flush=True)
        ins_check = check_insights(ins, groups, bundle, args.min_diff, opts.top_n)
        ins["core"] = core_cost(groups, bundle, opts)
        ins["core_explain_every_ad_group"] = core_cost(groups, bundle, insight_options(args.min_diff, 1, select))
        for key, what in (("core", f"explaining 1 in {args.explain_every}"),
                          ("core_explain_every_ad_group", "explaining every ad group")):
            c = ins[key]
            print(f"  score_pool CPU per ad group, alternating on the {len(groups)} checked ad groups ({what}): "
                  f"{c['plain_ms']:.2f} ms plain, {c['insights_ms']:.2f} ms with insights ({c['ratio']:.3f}x)",
                  flush=True)
        print(f"  vs brute force on {ins_check['checked']} ad groups: "
              f"{'identical' if ins_check['ok'] else 'MISMATCH ' + str(ins_check['mismatched'])} (diverse top-{K}, "
              f"asset values max |error| {ins_check['max_abs_value_error']:.2g}, explanation sums max |error| "
              f"{ins_check['max_abs_explanation_sum_error']:.2g})", flush=True)

    big = None
    if args.big_ad_groups > 0 and not args.no_insights:
        from bench.insights import check_big_pool

        nh, nd = (int(x) for x in args.big_size.lower().split("x"))
        big_paths = write_pools(args.workdir, args.big_ad_groups, n_headlines=nh, n_descriptions=nd)
        print(f"generated pools: {args.big_ad_groups} ad groups of {nh} x {nd} with insights and the 15 + 4 "
              "selection ...", flush=True)
        big = run_insights_pipeline(big_paths, bundle, args.workers, os.path.join(out_root, f"big-{args.big_size}"),
                                    args.min_diff, 1, select=True)
        big["check"] = check_big_pool(big_paths, bundle, args.min_diff)
        sel = big.pop("selections")
        big["selections"] = sel.drop(columns=["headline_ids", "description_ids"]).to_dict("records")
        print(f"  {big['combinations']:,} combinations in {big['wall_s']:.1f}s; largest process RSS "
              f"{big['peak_process_rss_gib']:.2f} GiB (tree {big['peak_rss_gib']:.2f}); one pool in process: "
              f"{'exact' if big['check']['ok'] else 'MISMATCH'} ({big['check']})", flush=True)

    growth = []
    for size in [int(s) for s in args.sizes.split(",") if s.strip()]:
        print(f"growth: {size} ad groups ...", flush=True)
        r = run_pipeline(write_pools(args.workdir, size), bundle, args.workers,
                         os.path.join(out_root, f"growth-{size}"))
        growth.append({"ad_groups": size, "combinations": r["combinations"], "wall_s": r["wall_s"],
                       "cpu_s": r["cpu_s"], "rate_per_core": r["combinations"] / (r["wall_s"] * cores),
                       "peak_rss_gib": r["peak_rss_gib"]})
    growth.append({"ad_groups": n, "combinations": pipe["combinations"], "wall_s": pipe["wall_s"],
                   "cpu_s": pipe["cpu_s"], "rate_per_core": pipe_rate, "peak_rss_gib": pipe["peak_rss_gib"]})
    growth.sort(key=lambda g: g["ad_groups"])

    rows = [("pipeline (shipped, local runner)", n, pipe["combinations"], pipe["wall_s"], pipe_rate, pipe["peak_rss_gib"]),
            ("model alone (Booster.predict, 1 thread)", n_check, model["combinations"], model["predict_s"], model_rate,
             model["peak_rss_gib"])]
    if base:
        rows.append(("one element per combination (RunInference)", n_base, base["combinations"], base["wall_s"],
                     base["rate"], base["peak_rss_gib"]))
    print()
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores; runner FnApiRunner x {args.workers} workers; "
          f"rates are combinations / s / core")
    print("| approach | ad groups | combinations | seconds | per core / s | peak RSS GiB |")
    print("| --- | ---: | ---: | ---: | ---: | ---: |")
    for name, g, c, s, r, m in rows:
        print(f"| {name} | {g:,} | {c:,} | {s:.1f} | {_fmt_rate(r)} | {m:.2f} |")
    print(f"pipeline CPU time (all processes): {pipe['cpu_s']:.1f} s = "
          f"{_fmt_rate(pipe['combinations'] / max(pipe['cpu_s'], 1e-9))} combinations per CPU-second")
    ratios = {"pipeline_vs_model_alone": pipe_rate / model_rate}
    if base:
        ratios["pipeline_vs_one_element_per_combination"] = pipe_rate / base["rate"]
    print()
    for k, v in ratios.items():
        print(f"{k}: {v:,.1f}x")
    if ins:
        v = ins["vs_plain"]
        ratios["pipeline_with_insights_vs_plain"] = v["throughput_ratio_wall"]
        print(f"pipeline with insights: {ins['wall_s']:.1f}s vs plain {v['plain_wall_s'][0]:.1f}s / "
              f"{v['plain_wall_s'][1]:.1f}s (before / after) = {v['throughput_ratio_wall']:.1%} of plain throughput; "
              f"CPU {ins['cpu_s']:.1f}s vs {v['plain_cpu_s'][0]:.1f}s / {v['plain_cpu_s'][1]:.1f}s = "
              f"{v['cpu_ratio']:.3f}x; peak RSS {ins['peak_rss_gib']:.2f} GiB (plain {pipe['peak_rss_gib']:.2f}), "
              f"largest process {ins['peak_process_rss_gib']:.2f} GiB")
    if big:
        per = big["wall_s"] / max(args.big_ad_groups, 1)
        print(f"generated {args.big_size} pools: {args.big_ad_groups} ad groups, {big['combinations']:,} combinations "
              f"in {big['wall_s']:.1f}s ({per:.1f}s per ad group with the selection, 2 workers); largest worker RSS "
              f"{big['peak_process_rss_gib']:.2f} GiB")
        for r in big["selections"]:
            print(f"  {r['ad_group_id']}: selected 15+4 expected CTR {r['selected_expected_ctr']:.4f} "
                  f"(uniform {r['selected_expected_ctr_uniform']:.4f}), random 15+4 {r['random_expected_ctr']:.4f} "
                  f"(uniform {r['random_expected_ctr_uniform']:.4f}), whole pool {r['pool_expected_ctr']:.4f} "
                  f"(uniform {r['pool_expected_ctr_uniform']:.4f}); best raw selected {r['selected_best_raw']:.4f} "
                  f"vs pool {r['pool_best_raw']:.4f}; {r['method']}, {r['evaluations']} evaluations")
    print(f"top-{K} vs brute force on {check['checked']} ad groups: {'identical' if check['ok'] else 'MISMATCH'}"
          f" (max |raw error| {check['max_abs_raw_error']:.2g})"
          + (f"; baseline top-{K}: {'identical' if base['check']['ok'] else 'MISMATCH'}" if base else ""))
    if len(growth) > 1:
        print()
        print("| ad groups | combinations | wall s | CPU s | per core / s | wall s per 1,000 ad groups "
              "| peak RSS GiB |")
        print("| ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
        for g in growth:
            print(f"| {g['ad_groups']:,} | {g['combinations']:,} | {g['wall_s']:.1f} | {g['cpu_s']:.1f} "
                  f"| {_fmt_rate(g['rate_per_core'])} | {1000 * g['wall_s'] / g['ad_groups']:.2f} "
                  f"| {g['peak_rss_gib']:.2f} |")
        if len(growth) >= 2:  # least-squares line: fixed start-up + seconds per ad group
            x = np.array([g["ad_groups"] for g in growth], float)
            y = np.array([g["wall_s"] for g in growth], float)
            slope, intercept = np.polyfit(x, y, 1)
            print(f"linear fit: wall = {intercept:.1f} s + {1000 * slope:.2f} s per 1,000 ad groups")
    report = {
        "machine": {"cores": os.cpu_count(), "python": sys.version.split()[0], "workers": args.workers},
        "model": model_info,
        "pipeline": {k: v for k, v in pipe.items() if k != "top"} | {"ad_groups": n, "rate_per_core": pipe_rate},
        "model_alone": {"ad_groups": n_check, "combinations": model["combinations"], "predict_s": model["predict_s"],
                        "rate_per_core": model_rate},
        "baseline": ({k: v for k, v in base.items()} | {"ad_groups": n_base}) if base else None,
        "ratios": ratios,
        "top_k_check": check,
        "growth": growth,
        "insights": ({k: v for k, v in ins.items() if k not in ("top", "asset_values", "explanations", "selections")}
                     | {"check": ins_check, "min_diff": args.min_diff, "explain_every": args.explain_every,
                        "select": not args.no_select,
                        "labels": ins["asset_values"]["label"].value_counts().to_dict()}) if ins else None,
        "big_pools": ({k: v for k, v in big.items() if k not in ("top", "asset_values", "explanations")}
                      | {"size": args.big_size, "ad_groups": args.big_ad_groups}) if big else None,
    }
    path = args.json or os.path.join(args.workdir, f"scoring-{n}.json")
    os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
    with open(path, "w", encoding="utf-8") as f:
        json.dump(report, f, indent=2, default=float)
    print(f"\nwritten {path}")
    if ins_check is not None and not ins_check["ok"]:
        raise SystemExit("insights differ from brute force")
    if big is not None and not big["check"]["ok"]:
        raise SystemExit("big-pool insights differ from the all-at-once computation")
    if not check["ok"]:
        raise SystemExit("pipeline top-K differs from brute force")
    return report


if __name__ == "__main__":
    main()
