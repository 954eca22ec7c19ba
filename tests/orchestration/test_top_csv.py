"""`adcombo top --out`: a CSV for people, so ad texts that a spreadsheet would run as formulas
are neutralised (OWASP), through the real command on a DuckDB warehouse in a data folder."""

import csv

import pandas as pd
from typer.testing import CliRunner

from adcombo.cli import app
from warehouse.duckdb_warehouse import DuckDBWarehouse
from warehouse.schemas import TOP_COMBINATIONS_TABLE

PAYLOADS = ["=cmd|' /C calc'!A0", "@SUM(1,2)", "+1+2", "-3+4"]


def test_top_out_neutralises_formula_texts(tmp_path):
    home = tmp_path / "home"
    rows = [{"ad_group_id": f"ag{i}", "rank": 1, "h1_asset_id": "h1", "h2_asset_id": "h2", "h3_asset_id": "h3",
             "d1_asset_id": "d1", "d2_asset_id": "d2", "headline_1": text, "headline_2": "【公式】B",
             "headline_3": "", "description_1": 'say "hi", ok', "description_2": "E", "score": 0.0425,
             "model_version": "v1"} for i, text in enumerate(PAYLOADS)]
    wh = DuckDBWarehouse(str(home / "warehouse.duckdb"))
    wh.replace_table(TOP_COMBINATIONS_TABLE, pd.DataFrame(rows))
    wh.close()
    out = tmp_path / "top.csv"
    result = CliRunner().invoke(app, ["top", "--home", str(home), "--k", "1", "--out", str(out)])
    assert result.exit_code == 0, result.output
    with out.open(encoding="utf-8") as f:
        written = list(csv.DictReader(f))
    assert [r["headline_1"] for r in written] == ["'" + p for p in PAYLOADS]
    assert written[0]["headline_2"] == "【公式】B" and written[0]["description_1"] == 'say "hi", ok'
    assert float(written[0]["score"]) == 0.0425 and written[0]["rank"] == "1"
