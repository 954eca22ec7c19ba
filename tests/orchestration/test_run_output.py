"""What a CLI run prints: one line per asset as it finishes (status, seconds, key count), the
assets' own progress lines, failed checks, a failed step in one line without its stack trace,
what was not run; Dagster's event lines only with --verbose."""

import re

import pytest
from dagster import AssetCheckResult, AssetCheckSeverity, AssetKey, Definitions, asset, asset_check

from adcombo.instance import open_instance
from adcombo.lock import FolderLock
from adcombo.runs import _execute


@asset
def raw_rows(context):
    context.log.info("loaded 1,234 rows from the API")
    return None


@asset(deps=[raw_rows])
def model(context):
    context.log.debug("a debug line nobody needs")
    context.log.info("round 50/100, valid logloss 0.1234")


@asset_check(asset=raw_rows)
def rows_look_fine():
    return AssetCheckResult(passed=False, severity=AssetCheckSeverity.WARN, description="3 rows rejected (0.2%)")


@asset(deps=[model])
def scores():
    raise RuntimeError("warehouse unreachable: check ADCOMBO_WAREHOUSE\nsecond line of detail")


@asset(deps=[scores])
def report():
    return None


@asset(name="raw_rows_counted")
def raw_rows_counted():
    from dagster import MaterializeResult

    return MaterializeResult(metadata={"rows": 1234, "seconds": 0.5})


DEFS = Definitions(assets=[raw_rows, model, scores, report, raw_rows_counted], asset_checks=[rows_look_fine])


def _run(tmp_path, verbose):
    job = DEFS.resolve_implicit_global_asset_job_def()
    selection = [AssetKey(k) for k in ("raw_rows", "model", "scores", "report", "raw_rows_counted")]
    with open_instance(tmp_path / "home") as instance, FolderLock(tmp_path / "home") as lock:
        return _execute(job, instance, lock, selection, {}, verbose)


def test_a_run_prints_one_line_per_asset_and_no_dagster_event_lines(tmp_path, capsys):
    assert _run(tmp_path, verbose=False) is False
    out, err = capsys.readouterr()
    lines = (out + err).splitlines()
    assert re.search(r"^  ok\s+raw_rows_counted\s+\d+\.\d s  1,234 rows$", out, re.M)
    assert re.search(r"^  ok\s+raw_rows\s+\d+\.\d s$", out, re.M)
    assert "raw_rows: loaded 1,234 rows from the API" in out and "model: round 50/100, valid logloss 0.1234" in out
    assert "a debug line nobody needs" not in out + err
    assert "  WARN    check rows_look_fine on raw_rows: 3 rows rejected (0.2%)" in err
    failed = [line for line in lines if line.startswith("  FAILED")]
    assert len(failed) == 1 and "scores" in failed[0]
    assert failed[0].endswith("RuntimeError: warehouse unreachable: check ADCOMBO_WAREHOUSE")
    assert "not run (a step before them failed, or a blocking check): report" in err
    assert "its events and stack traces are in the UI" in err
    # Dagster's own lines (STEP_START, ASSET_MATERIALIZATION, ...) and stack traces stay in the event log.
    assert not any(w in out + err for w in ("STEP_START", "ASSET_MATERIALIZATION", " - DEBUG - ", "Traceback",
                                            "Stack Trace", "second line of detail"))
    assert len(lines) < 15


def test_verbose_adds_dagsters_event_lines(tmp_path, capsys):
    _run(tmp_path, verbose=True)
    out, err = capsys.readouterr()
    assert "STEP_START" in out + err and re.search(r"^  ok\s+raw_rows_counted", out, re.M)
