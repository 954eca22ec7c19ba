"""Running the job from the command line: the same definitions and the same Dagster instance as
the UI (under the data folder), so CLI runs show up in the UI."""

from __future__ import annotations

import os
import uuid
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator, Optional

import typer

from adcombo.common import HOME, load_settings
from adcombo.hints import command
from adcombo.lock import FolderLock, RunInProgress, in_progress_message
from dagster_project.settings import Settings


def instance(settings: Settings):
    """The data folder's Dagster instance (SQLite, run-sharded, run queue, run monitoring: the
    one the UI uses; see adcombo/instance.py)."""
    from adcombo.instance import open_instance

    return open_instance(settings.home)


def materialize_all(settings: Settings, ingest_only: bool = False, verbose: bool = False) -> bool:
    """Two runs, like a backfill then a refresh in the UI: first the raw assets (with the API
    source: every daily partition in one run), then everything downstream, unpartitioned.

    Holds the data folder throughout; exits at once (status 1) if another run works on it.
    Prints one line per asset as it finishes; Dagster's own event lines only with `verbose`."""
    with hold_data_folder(settings) as lock:
        return _materialize_all(settings, lock, ingest_only, verbose)


def _materialize_all(settings: Settings, lock: FolderLock, ingest_only: bool, verbose: bool) -> bool:
    from dagster import AssetKey
    from dagster._core.storage.tags import ASSET_PARTITION_RANGE_END_TAG, ASSET_PARTITION_RANGE_START_TAG

    from adcombo.run_launcher import fail_dead_runs
    from dagster_project.assets.ingestion import RAW_ASSETS, daily_partitions
    from dagster_project.definitions import build_definitions, run_asset_keys

    with instance(settings) as inst:
        for run_id in fail_dead_runs(inst):
            typer.echo(f"run {run_id} was left STARTED by a process that is gone: marked it failed", err=True)
        refuse_if_a_run_is_in_progress(inst)
        defs = build_definitions(settings)
        job = defs.resolve_implicit_global_asset_job_def()
        raw = [AssetKey(k) for k in RAW_ASSETS]
        rest = [k for k in run_asset_keys(defs) if k not in raw]
        tags = {}
        if settings.source == "api":
            keys = daily_partitions(settings).get_partition_keys()
            if not keys:
                typer.echo("no partitions to ingest: check ADCOMBO_PARTITION_START/END", err=True)
                return False
            tags = {ASSET_PARTITION_RANGE_START_TAG: keys[0], ASSET_PARTITION_RANGE_END_TAG: keys[-1]}
            typer.echo(f"ingesting {len(keys)} daily partitions {keys[0]} .. {keys[-1]} from the ad-media API")
        else:
            typer.echo(f"importing files from {settings.import_path}")
        ok = _execute(job, inst, lock, raw, tags, verbose)
        if not ok or ingest_only:
            return ok
        return _execute(job, inst, lock, rest, {}, verbose)


def _execute(job, inst, lock: FolderLock, selection: list, tags: dict, verbose: bool) -> bool:
    """One run of the selected assets, printed for people as it goes."""
    from adcombo.progress import QUIET, VERBOSE, RunPrinter

    lock.record(run_id := str(uuid.uuid4()))  # known before the run starts: a second command can name it
    printer = RunPrinter(typer.echo, verbose)
    inst.add_event_listener(run_id, printer)
    result = job.execute_in_process(instance=inst, asset_selection=selection, tags=tags, raise_on_error=False,
                                    run_id=run_id, run_config=VERBOSE if verbose else QUIET)
    if not result.success:
        not_run = sorted({k.to_user_string() for k in selection} - printer.finished - set(printer.failed_steps))
        if not_run:
            typer.echo(f"  not run (a step before them failed, or a blocking check): {', '.join(not_run)}", err=True)
        typer.echo(f"  run {run_id} failed: its events and stack traces are in the UI (`{command()} ui`, Runs)",
                   err=True)
    return result.success


@contextmanager
def hold_data_folder(settings: Settings) -> Iterator[FolderLock]:
    """Hold the data folder for this command, or exit at once (status 1) naming the run in progress.

    Re-entrant: a command that deletes files before its runs (`demo --fresh`) takes it first."""
    lock = FolderLock(settings.home)
    try:
        lock.acquire()
    except RunInProgress as exc:
        typer.echo(f"adcombo: {exc}", err=True)
        raise typer.Exit(1) from None
    try:
        yield lock
    finally:
        lock.release()


def refuse_if_a_run_is_in_progress(inst) -> None:
    """A run launched from the UI holds no file lock, but the instance knows it is running."""
    from dagster import RunsFilter
    from dagster._core.storage.dagster_run import IN_PROGRESS_RUN_STATUSES

    records = inst.get_run_records(RunsFilter(statuses=IN_PROGRESS_RUN_STATUSES), limit=1)
    if records:
        r = records[0]
        started = r.start_time or r.create_timestamp.timestamp()
        typer.echo(f"adcombo: {in_progress_message(r.dagster_run.run_id, started)}", err=True)
        raise typer.Exit(1)


def latest_metadata(settings: Settings, asset: str) -> dict:
    from dagster import AssetKey

    with instance(settings) as inst:
        event = inst.get_latest_materialization_event(AssetKey(asset))
    if event is None or event.asset_materialization is None:
        return {}
    return {k: getattr(v, "value", v) for k, v in event.asset_materialization.metadata.items()}


def child_env(settings: Settings) -> dict[str, str]:
    """The environment of a child process (the Dagster webserver) that must see these settings."""
    return {**os.environ, **settings.to_env(), "DAGSTER_HOME": str(settings.dagster_home)}


def run(
    home: Optional[Path] = HOME,
    verbose: bool = typer.Option(False, "--verbose", help="also Dagster's own event lines (they are always in the UI)"),
):
    """Materialise every asset on the current settings (same definitions as the UI)."""
    if not materialize_all(load_settings(home), verbose=verbose):
        typer.echo("run failed: see the lines above (or the run in the Dagster UI)", err=True)
        raise typer.Exit(1)
