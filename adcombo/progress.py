"""What a CLI run prints for people: one line per asset as it finishes (status, seconds, its key
count), the assets' own progress lines, failed checks, and a failed step's error in one line.
Dagster's event lines (a few hundred per run, mostly DEBUG) are printed only with --verbose;
they stay in the event log and the UI, with the stack traces.

`RunPrinter` listens to the events a run stores in its instance (`instance.add_event_listener`),
so each line appears when its step ends.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Callable

from dagster import DagsterEventType

# The count that says the most about an asset, first match wins: (metadata key, format).
KEY_COUNTS = (
    ("combinations_scored", "{:,} combinations"), ("rows", "{:,} rows"), ("examples", "{:,} examples"),
    ("num_trees", "{:,} trees"), ("creatives", "{:,} creatives"), ("production_lift_%", "lift {:+.1f}%"),
    ("status", "{}"), ("version", "version {}"),
)

# Dagster's console logger only at --verbose; the lines below replace it otherwise.
QUIET = {"loggers": {"console": {"config": {"log_level": "CRITICAL"}}}}
VERBOSE = {"loggers": {"console": {"config": {"log_level": "DEBUG"}}}}


def key_count(metadata: dict) -> str:
    for key, fmt in KEY_COUNTS:
        value = metadata.get(key)
        if value is not None:
            try:
                return fmt.format(value)
            except (TypeError, ValueError):
                return f"{key} {value}"
    rows = {k[5:]: v for k, v in metadata.items() if k.startswith("rows ") and isinstance(v, (int, float))}
    if rows:  # snapshots: one count per table
        return f"{sum(rows.values()):,} rows in {len(rows)} tables"
    return ""


def partitions_count(partitions: list[dict]) -> str:
    """One asset materialised once per partition (a backfill range in one run): one summary."""
    if len(partitions) == 1:
        return key_count(partitions[0])
    if all(p == partitions[0] for p in partitions):  # one load for the whole range, reported per partition
        detail = key_count(partitions[0])
        return (f"{detail} in " if detail else "") + f"{len(partitions)} partitions"
    total = {}
    for key in ("rows", "rows_rejected"):
        values = [p.get(key) for p in partitions]
        if all(isinstance(v, (int, float)) for v in values):
            total[key] = sum(values)
    detail = key_count(total)
    return (f"{detail} in " if detail else "") + f"{len(partitions)} partitions"


def asset_line(asset: str, status: str, seconds: float | None, detail: str = "") -> str:
    took = f"{seconds:7.1f} s" if seconds is not None else " " * 9
    return f"  {status:<7} {asset:<28} {took}" + (f"  {detail}" if detail else "")


def _value(v):
    return getattr(v, "value", v)


def _first_line(text: str) -> str:
    return next((line.strip() for line in (text or "").splitlines() if line.strip()), "")


class RunPrinter:
    """Event listener for one run: prints as steps finish. `echo(text, err=False)`."""

    def __init__(self, echo: Callable[..., None], verbose: bool = False):
        self.echo, self.verbose = echo, verbose
        self._materialized: dict[str, list[tuple[str, dict]]] = defaultdict(list)
        self.finished: set[str] = set()  # asset keys materialised
        self.failed_steps: list[str] = []

    def __call__(self, entry) -> None:
        event = entry.dagster_event
        if event is None:
            # The assets' own log lines (progress, counts); Dagster's console shows them at --verbose.
            if not self.verbose and entry.level >= 20 and entry.user_message:
                where = f"{entry.step_key}: " if entry.step_key else ""
                self.echo(f"          {where}{_first_line(entry.user_message)}")
            return
        kind = event.event_type
        if kind == DagsterEventType.ASSET_MATERIALIZATION:
            m = event.event_specific_data.materialization
            self._materialized[event.step_key].append(
                (m.asset_key.to_user_string(), {k: _value(v) for k, v in m.metadata.items()}))
        elif kind == DagsterEventType.STEP_SUCCESS:
            seconds = event.event_specific_data.duration_ms / 1000
            by_asset: dict[str, list[dict]] = defaultdict(list)
            for asset, metadata in self._materialized.pop(event.step_key, []):
                by_asset[asset].append(metadata)
            for asset, partitions in by_asset.items():
                self.finished.add(asset)
                self.echo(asset_line(asset, "ok", seconds, partitions_count(partitions)))
        elif kind == DagsterEventType.STEP_FAILURE:
            self.failed_steps.append(event.step_key)
            error = event.event_specific_data.error
            cause = error
            while cause is not None and cause.cause is not None and "Error occurred while executing" in cause.message:
                cause = cause.cause  # Dagster's wrapper → the asset's own error
            message = _first_line(cause.message if cause else event.message)
            self.echo(asset_line(event.step_key, "FAILED", None, message), err=True)
        elif kind == DagsterEventType.ASSET_CHECK_EVALUATION:
            evaluation = event.event_specific_data
            if not evaluation.passed:
                severity = evaluation.severity.value
                blocked = " (blocking: the assets downstream are not run)" if severity == "ERROR" and \
                    getattr(evaluation, "blocking", False) else ""
                summary = evaluation.description or ", ".join(
                    f"{k}={_value(v)}" for k, v in list(evaluation.metadata.items())[:4])
                self.echo(f"  {severity:<7} check {evaluation.check_name} on {evaluation.asset_key.to_user_string()}"
                          f"{blocked}: {_first_line(summary)}", err=True)
