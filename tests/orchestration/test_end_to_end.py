"""The whole job through the `adcombo` command on a tiny world: what `make demo` does, smaller."""

import csv
import os
import re
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

ADCOMBO = str(Path(sys.executable).with_name("adcombo"))


@pytest.fixture(scope="module")
def demo_home(tmp_path_factory):
    home = tmp_path_factory.mktemp("home")
    env = {**os.environ, "ADCOMBO_HOME": str(home), "ADCOMBO_WORLD": "tiny", "DAGSTER_HOME": str(home / "dagster")}
    out = subprocess.run(
        [ADCOMBO, "demo", "--world", "tiny"], env=env, capture_output=True, text=True, timeout=600
    )
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-5000:]
    return home, env, out.stdout


def test_demo_materialises_everything_and_reports(demo_home, tiny_world):
    home, _, stdout = demo_home
    assert "== adcombo report ==" in stdout
    # trained and scored in one run: the bundle's reference sample is this run's sample
    assert re.search(r"drift: \w+ \(texts against the training set; scores against the model's sample of its "
                     r"pools, PSI 0\.000\)", stdout)
    assert "scored" in stdout and f"combinations of {len(tiny_world.ad_group_ids())} ad groups" in stdout
    con = duckdb.connect(str(home / "warehouse.duckdb"), read_only=True)
    pools = con.execute("SELECT COUNT(DISTINCT ad_group_id) FROM raw.asset_pools").fetchone()[0]
    ranked = con.execute("SELECT COUNT(DISTINCT ad_group_id) FROM serving.top_combinations").fetchone()[0]
    ranks = con.execute("SELECT MIN(rank), MAX(rank), COUNT(DISTINCT model_version) FROM serving.top_combinations").fetchone()
    con.close()
    assert ranked == pools == len(tiny_world.ad_group_ids())
    assert ranks == (1, 5, 1)
    bundles = list((home / "models" / "bundles").iterdir())
    assert len(bundles) == 1 and (bundles[0] / "manifest.json").exists()
    assert (home / "models" / "CURRENT").read_text().strip() == bundles[0].name


def test_the_experiment_loop_goes_out_and_comes_back_by_tracking_id(demo_home, tiny_world):
    home, _, stdout = demo_home
    n_groups = len(tiny_world.ad_group_ids())
    con = duckdb.connect(str(home / "warehouse.duckdb"), read_only=True)
    arms = dict(con.execute("SELECT arm, COUNT(DISTINCT ad_group_id) FROM experiments.assignments GROUP BY arm").fetchall())
    unjoined = con.execute(
        "SELECT COUNT(*) FROM raw.creative_daily_performance d LEFT JOIN experiments.assignments a "
        "USING (tracking_id) WHERE a.tracking_id IS NULL").fetchone()[0]
    delivered = con.execute("SELECT COUNT(DISTINCT tracking_id), SUM(impressions) FROM raw.creative_daily_performance").fetchone()
    results = dict(con.execute("SELECT arm, impressions FROM experiments.results").fetchall())
    con.close()
    assert arms == {"control": n_groups, "production": n_groups}
    assert unjoined == 0 and delivered[0] == 2 * n_groups and delivered[1] > 0
    assert set(results) == {"control", "production"}
    exported = list((home / "exports").glob("*/google_ads_editor.csv"))
    assert len(exported) == 1
    with exported[0].open(encoding="utf-8") as f:
        assert len(list(csv.DictReader(f))) == 2 * n_groups
    assert "production lift over random control" in stdout


def test_top_writes_csv(demo_home, tmp_path, tiny_world):
    home, env, _ = demo_home
    out_file = tmp_path / "top.csv"
    out = subprocess.run([ADCOMBO, "top", "--k", "2", "--out", str(out_file)], env=env, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    rows = list(csv.DictReader(out_file.open(encoding="utf-8-sig")))
    assert len(rows) == 2 * len(tiny_world.ad_group_ids())
    assert set(rows[0]) >= {
        "ad_group_id", "rank", "h1_asset_id", "h2_asset_id", "h3_asset_id", "d1_asset_id", "d2_asset_id",
        "headline_1", "headline_2", "headline_3", "description_1", "description_2", "score", "model_version",
    }
    # Ranked best first within each ad group.
    first = [r for r in rows if r["ad_group_id"] == rows[0]["ad_group_id"]]
    assert float(first[0]["score"]) >= float(first[1]["score"])


def test_run_again_reuses_the_same_definitions_and_replaces_results(demo_home, tiny_world):
    home, env, _ = demo_home
    con = duckdb.connect(str(home / "warehouse.duckdb"), read_only=True)
    before = con.execute("SELECT COUNT(*) FROM serving.top_combinations").fetchone()[0]
    con.close()
    out = subprocess.run([ADCOMBO, "run"], env=env, capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr[-5000:]
    con = duckdb.connect(str(home / "warehouse.duckdb"), read_only=True)
    # Re-ingesting replaces, never duplicates.
    assert con.execute("SELECT COUNT(*) FROM raw.ads").fetchone()[0] == len(tiny_world.ads())
    assert con.execute("SELECT COUNT(*) FROM serving.top_combinations").fetchone()[0] == before
    con.close()
    assert len(list((home / "models" / "bundles").iterdir())) == 2
