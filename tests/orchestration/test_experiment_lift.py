"""Issue must-show: over a simulated period, the production arm beats random control with a
confidence interval that excludes zero, from creatives that went out to the ad-media API with
tracking ids and whose delivery came back through ingestion."""

import os
import subprocess
import sys
from pathlib import Path

import duckdb

ADCOMBO = str(Path(sys.executable).with_name("adcombo"))


def test_production_arm_lift_over_random_control_is_positive_and_significant(tmp_path):
    env = {**os.environ, "ADCOMBO_HOME": str(tmp_path), "ADCOMBO_WORLD": "small",
           "DAGSTER_HOME": str(tmp_path / "dagster")}
    out = subprocess.run([ADCOMBO, "demo", "--world", "small"], env=env, capture_output=True, text=True, timeout=900)
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-5000:]
    con = duckdb.connect(str(tmp_path / "warehouse.duckdb"), read_only=True)
    results = {r[0]: r[1:] for r in con.execute(
        "SELECT arm, impressions, clicks, lift, lift_low, lift_high, p_value FROM experiments.results").fetchall()}
    # Every delivered row joined an assignment by its tracking id.
    unjoined = con.execute(
        "SELECT COUNT(*) FROM raw.creative_daily_performance LEFT JOIN experiments.assignments USING (tracking_id) "
        "WHERE arm IS NULL").fetchone()[0]
    con.close()
    assert unjoined == 0
    impressions, clicks, lift, low, high, p = results["production"]
    assert impressions > 100_000 and results["control"][0] > 100_000
    assert low > 0 and lift > low and high > lift
    assert p < 0.01
