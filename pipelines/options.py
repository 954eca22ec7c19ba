"""Runner selection shared by the pipelines.

Beam's `DirectRunner` first tries Prism, which downloads a binary; offline that fails (or waits).
Locally we therefore name the FnApiRunner explicitly; production passes `--runner=DataflowRunner`.
"""

from __future__ import annotations

import logging
import os
import sys
from typing import Mapping, Sequence

from apache_beam.options.pipeline_options import PipelineOptions, StandardOptions

LOCAL_RUNNER = "FnApiRunner"
PROFILE_ENV = "ADCOMBO_RUNNER_PROFILE"
PROFILES = ("local", "dataflow")
REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# Dataflow defaults; each can be overridden by the environment variable named next to it or by
# passing the flag itself after the profile.
DATAFLOW_DEFAULTS = {
    "region": ("ADCOMBO_GCP_REGION", "asia-northeast1"),
    # Scoring is CPU-bound with a small, flat memory footprint: high-CPU machines, one SDK
    # process per vCPU (the runner v2 default), no hyper-threaded oversubscription.
    "machine_type": ("ADCOMBO_DATAFLOW_MACHINE_TYPE", "n2-highcpu-8"),
    "num_workers": ("ADCOMBO_DATAFLOW_NUM_WORKERS", "2"),
    "max_num_workers": ("ADCOMBO_DATAFLOW_MAX_WORKERS", "20"),
}


def profile_flags(profile: str | None = None, workers: int = 2,
                  env: Mapping[str, str] | None = None) -> list[str]:
    """Runner flags of a profile: "local" (FnApiRunner) or "dataflow" (DataflowRunner).

    One setting picks the profile: the argument, else $ADCOMBO_RUNNER_PROFILE, else "local".
    Dataflow reads ADCOMBO_GCP_PROJECT, ADCOMBO_GCS_TEMP (gs://bucket/tmp), optionally
    ADCOMBO_GCP_REGION, ADCOMBO_DATAFLOW_MACHINE_TYPE, ADCOMBO_DATAFLOW_NUM_WORKERS,
    ADCOMBO_DATAFLOW_MAX_WORKERS, ADCOMBO_SDK_CONTAINER_IMAGE (a custom SDK image with the
    project preinstalled; without it workers install the project with --setup_file) and
    ADCOMBO_DATAFLOW_SERVICE_ACCOUNT. Credentials come from the environment (ADC), never flags.
    """
    env = os.environ if env is None else env
    profile = (profile or env.get(PROFILE_ENV) or "local").strip().lower()
    if profile not in PROFILES:
        raise ValueError(f"unknown runner profile {profile!r}: set {PROFILE_ENV} to one of {list(PROFILES)}")
    if profile == "local":
        return local_runner_flags(workers)
    flags = ["--runner=DataflowRunner"]
    for name, (var, default) in DATAFLOW_DEFAULTS.items():
        flags.append(f"--{name}={env.get(var) or default}")
    project, temp = env.get("ADCOMBO_GCP_PROJECT", ""), env.get("ADCOMBO_GCS_TEMP", "")
    if project:
        flags.append(f"--project={project}")
    if temp:
        flags += [f"--temp_location={temp}", f"--staging_location={temp.rstrip('/')}/staging"]
    image = env.get("ADCOMBO_SDK_CONTAINER_IMAGE", "")
    if image:
        flags += [f"--sdk_container_image={image}", "--sdk_location=container"]
    else:
        # Workers build and install this project (and its pinned dependencies) from setup.py.
        flags.append(f"--setup_file={os.path.join(REPO_ROOT, 'setup.py')}")
    if env.get("ADCOMBO_DATAFLOW_SERVICE_ACCOUNT"):
        flags.append(f"--service_account_email={env['ADCOMBO_DATAFLOW_SERVICE_ACCOUNT']}")
    flags += [
        "--autoscaling_algorithm=THROUGHPUT_BASED",
        "--experiments=use_runner_v2",
        # Ad groups are independent and small before scoring: no need to keep shuffle on workers.
        "--experiments=shuffle_mode=service",
    ]
    return flags


def _expand_profile(argv: list[str]) -> list[str]:
    """`--runner_profile=NAME` (or NAME as the next argument) becomes the profile's flags, placed
    first so that flags given explicitly still win."""
    out, profile = [], None
    i = 0
    while i < len(argv):
        arg = argv[i]
        if arg.startswith("--runner_profile="):
            profile = arg.split("=", 1)[1]
        elif arg == "--runner_profile" and i + 1 < len(argv):
            profile, i = argv[i + 1], i + 1
        else:
            out.append(arg)
        i += 1
    return (profile_flags(profile) + out) if profile else out


def pipeline_options(argv: Sequence[str] | None) -> PipelineOptions:
    # Local multi-process workers forward every worker log line as WARNING, including start-up
    # notices that do not apply here; keep real errors, drop the noise.
    logging.getLogger("apache_beam.runners.portability.local_job_service").setLevel(logging.ERROR)
    options = PipelineOptions(_expand_profile(list(argv) if argv is not None else sys.argv[1:]))
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


__all__ = ["pipeline_options", "local_runner_flags", "profile_flags", "metrics_summary", "LOCAL_RUNNER"]
