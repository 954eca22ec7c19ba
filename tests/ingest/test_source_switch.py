"""Switching a data folder's source, as a user types it: what a run learnt about the previous
source's data (prediction log, live accuracy, drift checks, experiments, scores, the production
model) is cleared in the switching transaction, and kept while the source stays the same."""

import os
import sys
from pathlib import Path

import duckdb
import pytest

from _files_testlib import BYOD, add_run_state, copy, state_counts
from ingest.source import STATE_TABLES
from warehouse import DuckDBWarehouse

ADCOMBO = str(Path(sys.executable).with_name("adcombo"))
EMPTY = dict.fromkeys(STATE_TABLES, 0)
PROMOTED = "(the next run's model is promoted without comparison)"


def _adcombo(home, *args):
    import subprocess

    env = {**os.environ, "ADCOMBO_HOME": str(home), "ADCOMBO_WORLD": "tiny"}
    env.pop("ADCOMBO_SOURCE", None)
    return subprocess.run([ADCOMBO, *args], env=env, capture_output=True, text=True, timeout=300)


def _warehouse(home, read_only=False):
    return DuckDBWarehouse(str(home / "warehouse.duckdb"), read_only=read_only)


def _ran(home, model):
    """The folder after a run of `model`: its monitoring and experiment state, and it in production."""
    with _warehouse(home) as wh:
        add_run_state(wh, model)
        counts = state_counts(wh)
    (home / "models").mkdir(exist_ok=True)
    (home / "models" / "CURRENT").write_text(model + "\n")
    return counts


def _counts(home):
    with _warehouse(home, read_only=True) as wh:
        return state_counts(wh)


def _cleared(out):
    return [line for line in out.stdout.splitlines() if " cleared: " in line]


@pytest.fixture
def api_home(tmp_path):
    """A data folder after a run on the ad-media API (no source recorded: the API's default)."""
    home = tmp_path / "home"
    home.mkdir()
    _ran(home, "api-model")
    return home


def test_import_after_the_api_clears_its_history_and_retires_its_model(api_home):
    ran = _counts(api_home)
    kept = _adcombo(api_home, "source", "api")  # already the API: nothing to clear
    assert kept.returncode == 0 and kept.stdout == "source: api\n", kept.stdout + kept.stderr
    assert _counts(api_home) == ran

    top = _adcombo(api_home, "top")
    assert top.returncode == 0 and "ag-1" in top.stdout, top.stdout + top.stderr

    out = _adcombo(api_home, "import", str(BYOD))
    assert out.returncode == 0, out.stderr
    monitor = _adcombo(api_home, "monitor")  # was: the API's days and model
    assert monitor.returncode == 1 and "no live accuracy yet" in monitor.stderr, monitor.stdout
    for command in (["top"], ["explain", "--ad-group", "ag-1"]):  # were: the API's ad groups' winners
        shown = _adcombo(api_home, *command)
        assert (shown.returncode, shown.stdout) == (1, "") and len(shown.stderr.splitlines()) == 1, shown.stderr
        assert shown.stderr.startswith(f"adcombo: no results in {api_home}: run `")
        assert "adcombo run` (or" in shown.stderr
    assert _counts(api_home) == EMPTY
    assert not (api_home / "models" / "CURRENT").exists()
    assert _cleared(out) == ["previous data cleared: 12 predictions, 3 days of live accuracy, 2 drift checks, "
                             "1 experiment, 2 scored ad groups, 1 unscored ad group; "
                             f"model api-model is no longer production {PROMOTED}"]


def test_files_keep_their_history_from_the_same_folder_and_from_next_weeks_export(api_home, tmp_path):
    assert _adcombo(api_home, "import", str(BYOD)).returncode == 0
    ran = _ran(api_home, "files-model")  # a run on the imported files
    again = _adcombo(api_home, "import", str(BYOD))  # the same export, read again (as every run does)
    assert again.returncode == 0 and not _cleared(again), again.stdout
    assert _counts(api_home) == ran and (api_home / "models" / "CURRENT").exists()

    other = copy(BYOD, tmp_path / "export-next-week")  # a newer export of the same account
    out = _adcombo(api_home, "import", str(other))
    assert out.returncode == 0 and not _cleared(out), out.stdout
    assert _counts(api_home) == ran and (api_home / "models" / "CURRENT").read_text().strip() == "files-model"
    with _warehouse(api_home, read_only=True) as wh:  # the record follows the folder
        assert wh.query("SELECT path FROM raw.source")["path"].tolist() == [str(other)]


def test_switching_back_to_the_api_clears_the_files_rows_and_history_once(api_home):
    assert _adcombo(api_home, "import", str(BYOD) + "/").returncode == 0
    _ran(api_home, "files-model")
    with _warehouse(api_home, read_only=True) as wh:
        dead_letters = wh.row_count("raw.dead_letters")
        raw = {t: wh.row_count(t) for t in ("raw.ads", "raw.ad_daily_performance", "raw.asset_pools")}
    lock = duckdb.connect(str(api_home / "warehouse.duckdb"))  # another process holds the warehouse
    try:
        failed = _adcombo(api_home, "source", "api")
    finally:
        lock.close()
    assert failed.returncode == 1 and failed.stderr.splitlines()[-1] == "the warehouse and the source are as they were"
    assert f"source: files ({BYOD})" in _adcombo(api_home, "source").stdout

    out = _adcombo(api_home, "source", "api")
    assert out.returncode == 0, out.stderr
    with _warehouse(api_home, read_only=True) as wh:
        assert state_counts(wh) == EMPTY
        # the API's loads only add to raw.ads and replace their own days: the files' rows go now
        assert {t: wh.row_count(t) for t in raw} == dict.fromkeys(raw, 0)
        assert wh.row_count("raw.dead_letters") == dead_letters  # each load replaces its own
    assert out.stdout.splitlines() == [
        f"previous source (files {BYOD}) cleared: 12 predictions, 3 days of live accuracy, 2 drift checks, "
        f"1 experiment, 2 scored ad groups, 1 unscored ad group, {raw['raw.ads']} ads, "
        f"{raw['raw.ad_daily_performance']} performance rows, "
        f"{raw['raw.asset_pools']} pool assets; model files-model is no longer production {PROMOTED}",
        "source: api"]

    ran = _ran(api_home, "api-model-2")  # a run on the API again
    again = _adcombo(api_home, "source", "api")
    assert again.stdout == "source: api\n" and _counts(api_home) == ran
