"""`adcombo import` as a user runs it: refused at each step or failing while writing, the
warehouse and the source stay as they were, one line per problem, no trace unless --verbose."""

import json
import os
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

from _files_testlib import BYOD, BYOD_JA, segmented_folder, state, write_folder

ADCOMBO = str(Path(sys.executable).with_name("adcombo"))


@pytest.fixture
def home(tmp_path):
    """A data folder holding a first import of examples/byod; its state and source.json."""
    home = tmp_path / "home"
    out = _run(home, str(BYOD))
    assert out.returncode == 0, out.stderr
    return home


def _run(home, *args):
    env = {**os.environ, "ADCOMBO_HOME": str(home), "ADCOMBO_WORLD": "tiny"}
    env.pop("ADCOMBO_SOURCE", None)
    return subprocess.run([ADCOMBO, "import", *args], env=env, capture_output=True, text=True, timeout=300)


def _snapshot(home):
    from warehouse import DuckDBWarehouse

    with DuckDBWarehouse(str(home / "warehouse.duckdb"), read_only=True) as wh:
        tables = state(wh)
    return tables, (home / "source.json").read_text(encoding="utf-8")


def test_import_records_the_source_and_how_to_read_it_again(home):
    out = _run(home, str(BYOD_JA), "--encoding", "cp932")
    assert out.returncode == 0, out.stderr
    assert "raw.ads ← 広告.csv (cp932, comma-separated): 96 rows loaded, 0 rejected" in out.stdout
    assert ("    1 × totals line on line 445: '合計: アカウント' is the export's sum of the rows above, not a day's row"
            in out.stdout)
    recorded = json.loads((home / "source.json").read_text(encoding="utf-8"))
    assert recorded == {"source": "files", "path": str(BYOD_JA),
                        "options": {"encoding": "cp932", "columns": "", "as_of": "", "allow_empty": False,
                                    "sum_segments": False}}


def _bad_yaml(folder):
    (folder / "columns.yaml").write_text("ads: {columns: [\n", encoding="utf-8")


@pytest.mark.parametrize("step,args,prepare,expected", [
    ("encoding", [], None, "refused: ads.csv: line 2, column 4 (industry): bytes 8b b3 are not UTF-8"),
    ("codec that is no text encoding", ["--encoding", "hex"], None,
     "refused: --encoding: 'hex' is not a text encoding; give the files' text encoding, e.g. --encoding cp932 or utf-16"),
    ("mapping", ["--encoding", "cp932"], _bad_yaml, "refused: columns.yaml: line 2: not valid YAML"),
    ("empty file", ["--encoding", "cp932"], lambda f: (f / "asset_pools.csv").write_bytes(b""),
     "refused: asset_pools.csv: is empty (0 bytes); export it again; or pass --allow-empty to empty raw.asset_pools"),
    ("every row rejected", ["--encoding", "cp932"],
     lambda f: (f / "ads.csv").write_bytes((f / "ads.csv").read_bytes().replace(b"\nad0", b"\n=ad0")),
     "refused: ads.csv: every one of its 48 rows was rejected (48 formula-like text)"),
    ("future as-of", ["--encoding", "cp932", "--as-of", "2999-01-01"], None,
     "refused: --as-of: 2999-01-01 is after the import day"),
])
def test_refused_at_each_step_changes_nothing(home, tmp_path, step, args, prepare, expected):
    before = _snapshot(home)
    folder = write_folder(tmp_path / "in", "cp932")
    if prepare:
        prepare(folder)
    out = _run(home, str(folder), *args)
    assert out.returncode == 2, out.stdout + out.stderr
    assert any(line.startswith(expected) for line in out.stderr.splitlines()), out.stderr
    assert out.stderr.splitlines()[-1] == "nothing was imported: the warehouse and the source are as they were."
    assert "Traceback" not in out.stdout + out.stderr
    assert _snapshot(home) == before


def test_a_refused_import_says_which_column_and_value_each_reason_is_about(tmp_path):
    """Nothing is written when every row is rejected (no dead letters to look in): the report names
    the first row's column and value for each reason."""
    def fractional_clicks(name, text):
        if name != "ad_daily_performance":
            return text
        head, *rows = text.rstrip("\n").split("\n")
        return "\n".join([head] + [",".join(c[:3] + [c[3] + ".5"] + c[4:]) for c in (r.split(",") for r in rows)]) + "\n"

    out = _run(tmp_path / "h", str(write_folder(tmp_path / "in", transform=fractional_clicks)))
    assert out.returncode == 2, out.stdout + out.stderr
    assert ("    423 × wrong type, first on line 2: clicks='9.5' is not a whole number (lines 2, 3, 4, ...)"
            in out.stdout.splitlines()), out.stdout
    assert ("refused: ad_daily_performance.csv: every one of its 423 rows was rejected (423 wrong type)"
            in out.stderr), out.stderr


def test_failure_while_writing_changes_nothing_and_shows_the_trace_only_when_asked(home, tmp_path):
    before = _snapshot(home)
    lock = duckdb.connect(str(home / "warehouse.duckdb"))  # another process holds the warehouse
    try:
        out = _run(home, str(BYOD_JA), "--encoding", "cp932")
        verbose = _run(home, str(BYOD_JA), "--encoding", "cp932", "--verbose")
    finally:
        lock.close()
    assert out.returncode == 1
    assert out.stderr.splitlines()[0].startswith("import failed while writing to the warehouse: IOException: ")
    assert out.stderr.splitlines()[-1] == ("nothing was imported: the warehouse and the source are as they were "
                                           "(--verbose shows the trace)")
    assert "Traceback" not in out.stderr and "Traceback" in verbose.stderr and verbose.returncode == 1
    assert _snapshot(home) == before


def test_as_of_and_allow_empty_reach_the_import(home, tmp_path):
    folder = write_folder(tmp_path / "period", transform=lambda n, t: "ad_id,impressions,clicks\nad00001-01,100,3\n"
                          if n == "ad_daily_performance" else t)
    out = _run(home, str(folder), "--as-of", "2025-06-30")
    assert out.returncode == 0, out.stderr
    assert "raw.ad_daily_performance ← ad_daily_performance.csv (utf-8, comma-separated): 1 rows loaded" in out.stdout
    (folder / "asset_pools.csv").write_bytes(b"")
    assert _run(home, str(folder), "--as-of", "2025-06-30").returncode == 2
    out = _run(home, str(folder), "--as-of", "2025-06-30", "--allow-empty")
    assert out.returncode == 0, out.stderr
    assert json.loads((home / "source.json").read_text())["options"]["allow_empty"] is True
    bad = _run(home, str(folder), "--as-of", "30/06/2025")
    assert bad.returncode == 2 and "is not a date YYYY-MM-DD" in bad.stderr


def test_a_segmented_report_is_refused_in_one_line_and_sum_segments_adds_it_up(home, tmp_path):
    before = _snapshot(home)
    folder = segmented_folder(tmp_path / "seg")
    out = _run(home, str(folder))
    assert out.returncode == 2, out.stdout + out.stderr
    assert [line for line in out.stderr.splitlines() if line.startswith("refused:")] == [
        "refused: ad_daily_performance.csv: 529 of its 952 rows (56%) repeat the date and ad_id of an earlier row: the "
        "report looks segmented (by device, network, ...); export it without segments, or pass --sum-segments to add "
        "up the rows of each date and ad"]
    assert "Traceback" not in out.stdout + out.stderr and _snapshot(home) == before
    out = _run(home, str(folder), "--sum-segments")
    assert out.returncode == 0, out.stderr
    assert "raw.ad_daily_performance ← ad_daily_performance.csv (utf-16, tab-separated): 423 rows loaded, 0 rejected" \
        in out.stdout
    assert json.loads((home / "source.json").read_text())["options"]["sum_segments"] is True  # `run` reads it so
