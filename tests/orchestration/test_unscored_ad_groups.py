"""An ad group that cannot be scored is listed by id and reason: in serving.unscored_ad_groups, the
scoring asset's metadata, the completeness check and the CLI's output."""

import csv
import shutil
import subprocess
import sys
from pathlib import Path

import duckdb

ADCOMBO = str(Path(sys.executable).with_name("adcombo"))
ROOT = Path(__file__).resolve().parents[2]


def test_unscorable_ad_groups_are_named_with_their_reason(tmp_path):
    data = tmp_path / "byod"
    shutil.copytree(ROOT / "examples" / "byod", data)
    with open(data / "asset_pools.csv", encoding="utf-8", newline="") as f:
        rows = list(csv.DictReader(f))
    victim = rows[0]["ad_group_id"]
    headlines = [r for r in rows if r["ad_group_id"] == victim and r["asset_type"] == "HEADLINE"]
    keep = [r for r in rows if not (r["ad_group_id"] == victim and r["asset_type"] == "HEADLINE")] + headlines[:1]
    with open(data / "asset_pools.csv", "w", encoding="utf-8", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(keep)
    home = tmp_path / "home"
    out = subprocess.run([ADCOMBO, "import", str(data), "--home", str(home)], capture_output=True, text=True,
                         timeout=300)
    assert out.returncode == 0, out.stdout + out.stderr
    out = subprocess.run([ADCOMBO, "run", "--home", str(home)], capture_output=True, text=True, timeout=900)
    text = out.stdout + out.stderr
    reason = "too few valid headlines: 1 of 1 usable, 3 needed"
    assert f"ad group {victim} not scored: {reason}" in text  # the scoring step's own line
    assert f"check every_ad_group_ranked on top_combinations: 1 ad groups without results: {victim}: {reason}" in text
    con = duckdb.connect(str(home / "warehouse.duckdb"), read_only=True)
    assert con.execute("SELECT ad_group_id, reason FROM serving.unscored_ad_groups").fetchall() == [(victim, reason)]
    assert victim not in {r[0] for r in con.execute("SELECT DISTINCT ad_group_id FROM serving.top_combinations").fetchall()}
    con.close()
    from dagster import AssetKey

    from adcombo.instance import open_instance

    with open_instance(home) as inst:
        meta = inst.get_latest_materialization_event(AssetKey("top_combinations")).asset_materialization.metadata
    assert meta["ad_groups_unscored"].value == 1
    records = meta["unscored_ad_groups"].value.records
    assert [(r.data["ad_group_id"], r.data["reason"]) for r in records] == [(victim, reason)]
