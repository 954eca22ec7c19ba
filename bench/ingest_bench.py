"""Ingestion benchmark: the whole simulated world, 60 daily partitions, with and without faults.

    .venv/bin/python bench/ingest_bench.py [--world default] [--failure-rate 0.2] [--out bench/results/ingest_bench.json]

Each scenario starts a fresh DuckDB warehouse and the simulator on loopback, ingests every day as
its own partition (report job per day, as the daily assets do) plus the ads and pools snapshots,
then compares row counts and a content checksum of every table with the simulator's own rows.
Prints a table and writes JSON. Same machine, same run, so the two rates compare as a ratio.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import logging
import os
import platform
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from admedia.client import AdMediaClient  # noqa: E402
from admedia.server import FaultConfig, serve_in_background  # noqa: E402
from admedia.world import World, WorldConfig  # noqa: E402
from ingest.checksum import rows_checksum, table_checksum  # noqa: E402
from ingest.run import ingest_performance, ingest_snapshot  # noqa: E402
from warehouse import DuckDBWarehouse  # noqa: E402

TOKEN = "bench-token"


class _Counter(logging.Handler):
    def __init__(self):
        super().__init__()
        self.retries = 0

    def emit(self, record):
        self.retries += 1


def run_scenario(world: World, name: str, faults: FaultConfig | None, page_size: int) -> dict:
    counter = _Counter()
    logging.getLogger("admedia.client").addHandler(counter)
    logging.getLogger("admedia.client").propagate = False
    with tempfile.TemporaryDirectory() as tmp, DuckDBWarehouse(os.path.join(tmp, "w.duckdb")) as wh:
        with serve_in_background(world, TOKEN, faults=faults) as url:
            client = AdMediaClient(url, TOKEN, page_size=page_size, max_attempts=12, backoff_initial=0.05,
                                   backoff_max=2.0, poll_interval=0.01, timeout=30)
            started = time.perf_counter()
            received = 0
            day = world.start_date
            while day <= world.end_date:
                received += ingest_performance(client, wh, day, day).received
                day += dt.timedelta(days=1)
            for table in ("raw.ads", "raw.asset_pools"):
                received += ingest_snapshot(client, wh, table, world.start_date, world.end_date).received
            seconds = time.perf_counter() - started
        expected = {"raw.ad_daily_performance": world.daily_performance(world.start_date, world.end_date),
                    "raw.ads": world.ads(), "raw.asset_pools": world.asset_pools()}
        tables = {}
        for table, rows in expected.items():
            got = wh.query(f"SELECT * FROM `{table}`")
            tables[table] = {"expected_rows": len(rows), "rows": len(got),
                             "checksum_equal": table_checksum(table, got) == rows_checksum(table, rows)}
        dead = wh.row_count("raw.dead_letters")
    logging.getLogger("admedia.client").removeHandler(counter)
    return {"scenario": name, "failure_rate": faults.request_fault_rate if faults else 0.0,
            "rows": received, "seconds": round(seconds, 2), "rows_per_second": round(received / seconds),
            "retries": counter.retries, "dead_letters": dead, "tables": tables,
            "exact": all(t["checksum_equal"] and t["rows"] == t["expected_rows"] for t in tables.values())}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--world", default="default", choices=["tiny", "demo", "default"])
    p.add_argument("--days", type=int, default=60)
    p.add_argument("--failure-rate", type=float, default=0.2)
    p.add_argument("--retry-after", type=float, default=1.0)
    p.add_argument("--page-size", type=int, default=5000)
    p.add_argument("--out", default=os.path.join(os.path.dirname(os.path.abspath(__file__)), "results", "ingest_bench.json"))
    args = p.parse_args(argv)
    t = time.perf_counter()
    world = World.generate(WorldConfig.preset(args.world, days=args.days))
    print(f"world {args.world}: {len(world.ad_group_ids()):,} ad groups, {len(world.ads()):,} ads, "
          f"{args.days} days (generated in {time.perf_counter() - t:.1f}s)")
    results = [
        run_scenario(world, "no faults", None, args.page_size),
        run_scenario(world, f"{args.failure_rate:.0%} of calls fail",
                     FaultConfig.mixed(args.failure_rate, seed=1, retry_after=args.retry_after), args.page_size),
    ]
    print(f"\n{'scenario':<22}{'rows':>10}{'seconds':>10}{'rows/s':>10}{'retries':>9}{'dead':>6}  exact (counts + checksum)")
    for r in results:
        print(f"{r['scenario']:<22}{r['rows']:>10,}{r['seconds']:>10.1f}{r['rows_per_second']:>10,}"
              f"{r['retries']:>9}{r['dead_letters']:>6}  {r['exact']}")
    ratio = results[1]["rows_per_second"] / results[0]["rows_per_second"]
    print(f"\nwith faults / without: {ratio:.2f}x throughput")
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    with open(args.out, "w", encoding="utf-8") as f:
        json.dump({"world": args.world, "days": args.days, "page_size": args.page_size,
                   "retry_after": args.retry_after, "machine": platform.platform(),
                   "cpus": os.cpu_count(), "results": results, "throughput_ratio": round(ratio, 3)}, f, indent=2)
    print(f"wrote {args.out}")
    return 0 if all(r["exact"] for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
