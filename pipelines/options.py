"""Pipeline options shared by the pipelines: runner choice, snapshot flags, metrics.

Beam's `DirectRunner` first tries Prism, which downloads a binary; offline that fails (or waits).
Locally we therefore name the FnApiRunner explicitly; production passes `--runner=DataflowRunner`
(or `--runner_profile=dataflow`, see pipelines.profiles).
"""

from __future__ import annotations

import logging
import re
import sys
from contextlib import contextmanager
from typing import Callable, Sequence

from apache_beam.options.pipeline_options import PipelineOptions, StandardOptions

from pipelines.profiles import LOCAL_RUNNER, local_runner_flags, profile_flags


def _expand_profile(argv: list[str]) -> list[str]:
    """`--runner_profile=NAME` (or NAME as the next argument) becomes the profile's flags with
    their defaults (pipelines.profiles), placed first so that flags given explicitly (--project,
    --temp_location, ...) still win."""
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


JOB_SERVICE_LOGGER = "apache_beam.runners.portability.local_job_service"
PROGRESS_LOGGER = "adcombo.progress"
_PROGRESS = re.compile(r"adcombo progress: ([^\"\\]*)")


_relays: list[Callable[[str], None]] = []


def _worker_lines(record: logging.LogRecord) -> bool:
    """Filter on the workers' loggers: progress lines go to whoever relays them, start-up noise of
    local multi-process workers is dropped, errors pass."""
    match = _PROGRESS.search(record.getMessage())
    if match:
        for emit in list(_relays):
            emit(match.group(1).strip())
        return False
    return record.levelno >= logging.ERROR


def quiet_workers() -> None:
    """Install the filter once per process (idempotent)."""
    for name in (JOB_SERVICE_LOGGER, PROGRESS_LOGGER):
        logger = logging.getLogger(name)
        if _worker_lines not in logger.filters:
            logger.addFilter(_worker_lines)
            logger.setLevel(logging.INFO)


@contextmanager
def relay_progress(emit: Callable[[str], None]):
    """Progress lines the workers log (models.handler, logger `adcombo.progress`) go to `emit` (e.g.
    a Dagster asset's context.log.info) while the block runs. In-process workers log directly;
    local multi-process workers' lines arrive through Beam's job service."""
    quiet_workers()
    _relays.append(emit)
    try:
        yield
    finally:
        _relays.remove(emit)


def pipeline_options(argv: Sequence[str] | None) -> PipelineOptions:
    # Local multi-process workers forward every worker log line, including start-up notices that
    # do not apply here; keep real errors and progress lines, drop the noise.
    quiet_workers()
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
