"""Bring your own data: the example folder, malformed files, Parquet, and the CLI without a simulator."""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from ingest.checksum import table_checksum
from ingest.files import ImportFormatError
from ingest.run import import_folder
from warehouse.schemas import DEAD_LETTERS_TABLE

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "byod"
ADCOMBO = str(Path(sys.executable).with_name("adcombo"))
TABLES = {"ads": "raw.ads", "ad_daily_performance": "raw.ad_daily_performance", "asset_pools": "raw.asset_pools"}


def _csv_rows(name):
    return len(pd.read_csv(EXAMPLE / f"{name}.csv", dtype=str))


def test_example_folder_imports_every_row(duck):
    reports = import_folder(duck, str(EXAMPLE))
    for name, table in TABLES.items():
        assert reports[table].loaded == _csv_rows(name) == duck.row_count(table)
        assert reports[table].rejected == 0


def test_malformed_rows_go_to_dead_letters_and_good_rows_load(duck, tmp_path):
    folder = tmp_path / "byod"
    shutil.copytree(EXAMPLE, folder)
    perf_bad = [
        "2025-06-30,ad00001-01,10,11,0,0",       # clicks > impressions
        "2025-06-30,ad00001-02,-5,0,0,0",        # negative count
        "2025-02-30,ad00001-03,10,1,0,0",        # not a calendar date
        "06/30/2025,ad00001-04,10,1,0,0",        # not YYYY-MM-DD
        "2025-06-29,,10,1,0,0",                  # missing ad_id
        "2025-06-29,ad00002-01,ten,1,0,0",       # not a number
        "2025-06-21,ad00001-01,200,9,1,679967105",  # duplicate of the first row
    ]
    with open(folder / "ad_daily_performance.csv", "a", encoding="utf-8") as f:
        f.write("\n".join(perf_bad) + "\n")
    ads = pd.read_csv(folder / "ads.csv", dtype=str, keep_default_na=False)
    bad_ads = ads.head(2).copy()
    bad_ads["ad_id"] = ["bad-1", "bad-2"]
    bad_ads.loc[bad_ads.index[0], "headline_1"] = "美容".encode("utf-8").decode("latin-1")  # mojibake
    bad_ads.loc[bad_ads.index[1], "description_1"] = "長い説明" * 100                      # over-long
    pd.concat([ads, bad_ads]).to_csv(folder / "ads.csv", index=False)
    with open(folder / "asset_pools.csv", "ab") as f:  # text read back as Latin-1 (mojibake), and a bad type
        f.write("ag00001,ag00001-x1,HEADLINE,".encode() + "写真".encode("utf-8").decode("latin-1").encode() + b",\n")
        f.write("ag00001,ag00001-x2,IMAGE,写真,\n".encode())

    reports = import_folder(duck, str(folder))
    assert reports["raw.ad_daily_performance"].loaded == _csv_rows("ad_daily_performance")
    assert reports["raw.ads"].loaded == _csv_rows("ads")
    assert reports["raw.asset_pools"].loaded == _csv_rows("asset_pools")
    dead = duck.query(f"SELECT table_name, reason, payload FROM `{DEAD_LETTERS_TABLE}`")
    assert len(dead) == len(perf_bad) + 2 + 2
    reasons = " | ".join(dead["reason"])
    for fragment in ("clicks > impressions", "negative count", "bad date", "missing field: ad_id",
                     "not a whole number", "duplicate key", "broken encoding", "over-long text", "bad asset_type"):
        assert fragment in reasons, fragment
    assert (dead["payload"].str.len() > 2).all()
    # The same import again: the same tables and the same dead letters.
    import_folder(duck, str(folder))
    assert duck.row_count(DEAD_LETTERS_TABLE) == len(dead)
    assert duck.row_count("raw.ad_daily_performance") == _csv_rows("ad_daily_performance")


def test_parquet_files_import_the_same_rows(duck, tmp_path):
    import_folder(duck, str(EXAMPLE))
    from_csv = {t: table_checksum(t, duck.query(f"SELECT * FROM `{t}`")) for t in TABLES.values()}
    folder = tmp_path / "pq"
    folder.mkdir()
    for name in TABLES:
        frame = pd.read_csv(EXAMPLE / f"{name}.csv", dtype=str, keep_default_na=False)
        if name == "ad_daily_performance":
            frame["date"] = pd.to_datetime(frame["date"]).dt.date
            for c in ("impressions", "clicks", "conversions", "cost_micros"):
                frame[c] = frame[c].astype("int64")
        frame.to_parquet(folder / f"{name}.parquet", index=False)
    import_folder(duck, str(folder))
    assert {t: table_checksum(t, duck.query(f"SELECT * FROM `{t}`")) for t in TABLES.values()} == from_csv


def test_wrong_columns_refuse_the_file(duck, tmp_path):
    folder = tmp_path / "bad"
    shutil.copytree(EXAMPLE, folder)
    frame = pd.read_csv(folder / "ads.csv", dtype=str).rename(columns={"headline_1": "Headline 1"})
    frame.to_csv(folder / "ads.csv", index=False)
    with pytest.raises(ImportFormatError, match="ads.csv: line 1, column Headline 1: unknown column 'Headline 1'"):
        import_folder(duck, str(folder))
    os.remove(folder / "asset_pools.csv")
    with pytest.raises(ImportFormatError, match="asset_pools"):
        import_folder(duck, str(folder))


def test_cli_import_then_run_and_top_without_any_simulator(tmp_path):
    home = tmp_path / "home"
    env = {**os.environ, "ADCOMBO_HOME": str(home), "DAGSTER_HOME": str(home / "dagster"),
           # Nothing listens here: any use of the API would fail the run.
           "ADCOMBO_API_URL": "http://127.0.0.1:9", "ADCOMBO_WORLD": "tiny"}
    env.pop("ADCOMBO_SOURCE", None)
    out = subprocess.run([ADCOMBO, "import", str(EXAMPLE)], env=env, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    assert (f"raw.ad_daily_performance ← ad_daily_performance.csv (utf-8, comma-separated): "
            f"{_csv_rows('ad_daily_performance'):,} rows loaded, 0 rejected") in out.stdout
    out = subprocess.run([ADCOMBO, "run"], env=env, capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-5000:]
    assert "importing files from" in out.stdout
    top = tmp_path / "top.csv"
    out = subprocess.run([ADCOMBO, "top", "--k", "1", "--out", str(top)], env=env, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    ranked = pd.read_csv(top)
    pools = pd.read_csv(EXAMPLE / "asset_pools.csv")
    assert set(ranked["ad_group_id"]) == set(pools["ad_group_id"])
    assert set(ranked["h1_asset_id"]) <= set(pools["asset_id"])
    out = subprocess.run([ADCOMBO, "source"], env=env, capture_output=True, text=True)
    assert out.stdout.startswith("source: files")
