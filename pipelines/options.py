"""Runner selection shared by the pipelines.

Beam's `DirectRunner` first tries Prism, which downloads a binary; offline that fails (or waits).
Locally we therefore name the FnApiRunner explicitly; production passes `--runner=DataflowRunner`.
"""

from __future__ import annotations

import logging
from typing import Sequence

from apache_beam.options.pipeline_options import DirectOptions, PipelineOptions, StandardOptions

LOCAL_RUNNER = "FnApiRunner"


def pipeline_options(argv: Sequence[str] | None) -> PipelineOptions:
    # Local multi-process workers forward every worker log line as WARNING, including start-up
    # notices that do not apply here; keep real errors, drop the noise.
    logging.getLogger("apache_beam.runners.portability.local_job_service").setLevel(logging.ERROR)
    options = PipelineOptions(list(argv) if argv is not None else None)
    standard = options.view_as(StandardOptions)
    if not standard.runner or standard.runner in ("DirectRunner", "SwitchingDirectRunner"):
        standard.runner = LOCAL_RUNNER
    return options


class SnapshotOptions(PipelineOptions):
    """Inputs and output shared by the pipelines (Beam needs each flag defined once per process)."""

    @classmethod
    def _add_argparse_args(cls, parser):
        parser.add_argument("--ads", help="Parquet file(s) of raw.ads")
        parser.add_argument("--performance", help="Parquet file(s) of raw.ad_daily_performance")
        parser.add_argument("--pools", help="Parquet file(s) of raw.asset_pools")
        parser.add_argument("--output", help="output prefix for Parquet shards")


def require(opts, names: Sequence[str]) -> None:
    """Pipeline-specific flags are optional to argparse (every options view parses every flag),
    so check them here with a message that names what is missing."""
    missing = [f"--{n}" for n in names if getattr(opts, n, None) in (None, "")]
    if missing:
        raise SystemExit(f"missing required flags: {' '.join(missing)}")


def local_runner_flags(workers: int = 1) -> list[str]:
    """Flags for the local runner; several workers run as separate processes."""
    if workers <= 1:
        return [f"--runner={LOCAL_RUNNER}", "--direct_running_mode=in_memory"]
    return [
        f"--runner={LOCAL_RUNNER}",
        "--direct_running_mode=multi_processing",
        f"--direct_num_workers={workers}",
    ]


def metrics_summary(result) -> dict:
    """Counters and distributions of a finished pipeline, by metric name (summed over steps)."""
    out: dict = {}
    query = result.metrics().query()
    for counter in query.get("counters", []):
        name = counter.key.metric.name
        out[name] = out.get(name, 0) + (counter.committed or counter.attempted or 0)
    for dist in query.get("distributions", []):
        value = dist.committed or dist.attempted
        if value is None or not value.count:
            continue
        name = dist.key.metric.name
        out[f"{name}_mean"] = value.sum / value.count
        out[f"{name}_max"] = value.max
    return out


__all__ = ["pipeline_options", "local_runner_flags", "metrics_summary", "DirectOptions", "LOCAL_RUNNER"]
