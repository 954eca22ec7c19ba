"""File import benchmark: a 1,000,000-row performance file, all or nothing into DuckDB.

    .venv/bin/python bench/import_bench.py [--rows 1000000] [--out bench/results/import_bench.json]

Writes a folder like a real export (ads, pools, and the performance file with 1M rows: 10,000
served ads x 100 days), once as UTF-8 CSV and once as UTF-16 TSV (Google Ads' Excel download),
then imports each in a fresh child process (so its peak RSS is the import's alone) into a fresh
DuckDB file: read + decode + validate every file, then one transaction. Prints a table and
writes JSON; the child's figures are measured in the same run on the same machine.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

END = dt.date(2025, 6, 30)


def write_folder(folder: str, rows: int, encoding: str, delimiter: str) -> dict:
    """ads (one per served ad), pools (4 headlines, 2 descriptions per ad group), performance."""
    os.makedirs(folder, exist_ok=True)
    days = 100
    n_ads = max(1, rows // days)
    groups = max(1, n_ads // 4)
    sep = delimiter
    with open(os.path.join(folder, "ads.csv"), "w", encoding=encoding, newline="") as f:
        f.write(sep.join(["ad_id", "ad_group_id", "campaign_id", "industry", "keyword", "headline_1", "headline_2",
                          "headline_3", "description_1", "description_2"]) + "\r\n")
        for a in range(n_ads):
            g = a % groups
            f.write(sep.join([f"ad{a:07d}", f"ag{g:06d}", f"cmp{g // 10:05d}", "教育", "学習塾", f"【公式】学習塾{a % 7}",
                              "今だけ半額", "" if a % 3 else "送料無料", "口コミ評価4.8の学習塾で始めよう。",
                              "" if a % 4 else "詳しくは公式サイトで。"]) + "\r\n")
    with open(os.path.join(folder, "asset_pools.csv"), "w", encoding=encoding, newline="") as f:
        f.write(sep.join(["ad_group_id", "asset_id", "asset_type", "text", "pinned_field"]) + "\r\n")
        for g in range(groups):
            for k in range(4):
                f.write(sep.join([f"ag{g:06d}", f"ag{g:06d}-h{k}", "HEADLINE", f"見出し{k}の{{KeyWord:学習塾}}", ""]) + "\r\n")
            for k in range(2):
                f.write(sep.join([f"ag{g:06d}", f"ag{g:06d}-d{k}", "DESCRIPTION", f"説明文{k}。今すぐチェック！", ""]) + "\r\n")
    with open(os.path.join(folder, "ad_daily_performance.csv"), "w", encoding=encoding, newline="") as f:
        f.write(sep.join(["date", "ad_id", "impressions", "clicks", "conversions", "cost_micros"]) + "\r\n")
        n = 0
        for d in range(days):
            day = (END - dt.timedelta(days=days - 1 - d)).isoformat()
            for a in range(n_ads):
                if n >= rows:
                    break
                imp = 50 + (a * 7919 + d * 104729) % 2000
                f.write(f"{day}{sep}ad{a:07d}{sep}{imp}{sep}{imp // 37}{sep}{imp // 500}{sep}{imp * 12345}\r\n")
                n += 1
    return {"rows": n, "ads": n_ads, "ad_groups": groups, "days": days,
            "bytes": sum(os.path.getsize(os.path.join(folder, x)) for x in os.listdir(folder))}


def child(folder: str, db: str) -> None:
    """Import one folder and print the result as JSON (run in its own process)."""
    from ingest.importer import ImportOptions, import_files
    from warehouse import DuckDBWarehouse

    rss_start = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    started = time.perf_counter()
    with DuckDBWarehouse(db) as wh:
        result = import_files(wh, folder, ImportOptions(today=dt.date(2025, 7, 1)))
        seconds = time.perf_counter() - started
        loaded = wh.row_count("raw.ad_daily_performance")
    perf = result.files["raw.ad_daily_performance"]
    print(json.dumps({"ok": result.ok, "seconds": seconds, "read_validate_seconds": perf.seconds,
                      "performance_rows": perf.rows_read, "loaded": loaded, "rejected": perf.rejected,
                      "encoding": perf.encoding, "format": perf.format,
                      "rss_after_imports_mib": rss_start / 1024,
                      "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--out", default=os.path.join(ROOT, "bench", "results", "import_bench.json"))
    parser.add_argument("--child", nargs=2, metavar=("FOLDER", "DB"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        child(*args.child)
        return 0
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        for name, encoding, delimiter in (("UTF-8 CSV", "utf-8", ","), ("UTF-16 TSV", "utf-16", "\t")):
            folder = os.path.join(tmp, name.replace(" ", "_"))
            t0 = time.perf_counter()
            shape = write_folder(folder, args.rows, encoding, delimiter)
            print(f"{name}: wrote {shape['rows']:,} performance rows ({shape['bytes'] / 2**20:.0f} MiB) in "
                  f"{time.perf_counter() - t0:.0f}s; importing ...", flush=True)
            out = subprocess.run([sys.executable, os.path.abspath(__file__), "--child", folder,
                                  os.path.join(tmp, f"{name.replace(' ', '_')}.duckdb")],
                                 capture_output=True, text=True, env={**os.environ, "PYTHONPATH": ROOT})
            if out.returncode:
                print(out.stderr[-3000:], file=sys.stderr)
                return 1
            r = {"case": name, **shape, **json.loads(out.stdout.strip().splitlines()[-1])}
            r["rows_per_second"] = r["performance_rows"] / r["seconds"]
            results.append(r)
    print(f"\n{'case':<12} {'rows':>10} {'MiB':>5} {'read+validate s':>16} {'total s':>8} {'rows/s':>9} "
          f"{'peak RSS MiB':>13} {'(modules)':>10}")
    for r in results:
        print(f"{r['case']:<12} {r['performance_rows']:>10,} {r['bytes'] / 2**20:>5.0f} {r['read_validate_seconds']:>16.1f} "
              f"{r['seconds']:>8.1f} {r['rows_per_second']:>9,.0f} {r['peak_rss_mib']:>13,.0f} "
              f"{r['rss_after_imports_mib']:>10,.0f}")
        assert r["ok"] and r["loaded"] == r["performance_rows"] and r["rejected"] == 0
    os.makedirs(os.path.dirname(args.out), exist_ok=True)
    with open(args.out, "w") as f:
        json.dump({"machine": {"python": platform.python_version(), "cpus": os.cpu_count(),
                               "platform": platform.platform()},
                   "load_average_1min": os.getloadavg()[0],
                   "date": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"), "results": results}, f, indent=2)
    print(f"\nload average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores; wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
