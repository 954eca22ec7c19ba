"""`adcombo top`, through the real command on a DuckDB warehouse in a data folder: says what it
shows and what it leaves out, refuses an unknown ad group, says when --k asks for more than was
kept, and writes a CSV for people (formula-like ad texts neutralised, OWASP)."""

import csv
import os

import pandas as pd
import pytest
from typer.testing import CliRunner

from adcombo.cli import app
from adcombo.hints import command
from warehouse.duckdb_warehouse import DuckDBWarehouse
from warehouse.schemas import TOP_COMBINATIONS_TABLE, UNSCORED_TABLE

PAYLOADS = ["=cmd|' /C calc'!A0", "@SUM(1,2)", "+1+2", "-3+4"]


def _row(group, rank, headline_1="【公式】A", score=0.0425):
    return {"ad_group_id": group, "rank": rank, "h1_asset_id": "h1", "h2_asset_id": "h2", "h3_asset_id": "h3",
            "d1_asset_id": "d1", "d2_asset_id": "d2", "headline_1": headline_1, "headline_2": "【公式】B",
            "headline_3": "", "description_1": 'say "hi", ok', "description_2": "E", "score": score,
            "model_version": "v20261129"}


@pytest.fixture
def home(tmp_path):
    """Results of a scoring run that kept 5 combinations for each of 12 ad groups."""
    rows = [_row(f"ag_{g:04d}", r, score=0.05 - r / 1000) for g in range(12) for r in range(1, 6)]
    wh = DuckDBWarehouse(str(tmp_path / "home" / "warehouse.duckdb"))
    wh.replace_table(TOP_COMBINATIONS_TABLE, pd.DataFrame(rows))
    wh.close()
    return tmp_path / "home"


def _top(home, *args):
    return CliRunner().invoke(app, ["top", "--home", str(home), *args])


def test_top_says_what_the_score_is_and_how_many_ad_groups_it_shows(home):
    result = _top(home)
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0].startswith("best 3 combinations per ad group (model v20261129). Score: the predicted CTR")
    assert lines[1].startswith("showing 10 of 12 ad groups: --groups 12 for all, --ad-group ID for one")
    assert sum(line.strip().startswith("#1 ") for line in lines) == 10
    assert "#1  4.90%  【公式】A" in result.stdout
    everything = _top(home, "--groups", "12")
    assert "showing" not in everything.stdout and everything.stdout.count("#1 ") == 12


def test_an_unknown_ad_group_is_an_error_with_a_suggestion(home):
    result = _top(home, "--ad-group", "ag_00011")
    assert result.exit_code == 1
    assert "no ad group 'ag_00011' in the results (12 ad groups; did you mean ag_0011" in result.stderr
    assert "top --out top.csv` lists them all" in result.stderr


def test_asking_for_more_than_was_kept_says_how_many_and_how_to_keep_more(home):
    result = _top(home, "--k", "50", "--ad-group", "ag_0003")
    assert result.exit_code == 0
    assert "only 5 combinations per ad group were kept (ADCOMBO_TOP_K=5): showing 5. " \
           "To keep 50: `ADCOMBO_TOP_K=50 " in result.stderr
    assert result.stdout.count("#") == 5 and "#5 " in result.stdout


def test_top_out_neutralises_formula_texts(tmp_path):
    home = tmp_path / "home"
    wh = DuckDBWarehouse(str(home / "warehouse.duckdb"))
    wh.replace_table(TOP_COMBINATIONS_TABLE, pd.DataFrame([_row(f"ag{i}", 1, t) for i, t in enumerate(PAYLOADS)]))
    wh.close()
    out = tmp_path / "top.csv"
    result = _top(home, "--k", "1", "--out", str(out))
    assert result.exit_code == 0, result.output
    with out.open(encoding="utf-8-sig") as f:
        written = list(csv.DictReader(f))
    assert [r["headline_1"] for r in written] == ["'" + p for p in PAYLOADS]
    assert written[0]["headline_2"] == "【公式】B" and written[0]["description_1"] == 'say "hi", ok'
    assert float(written[0]["score"]) == 0.0425 and written[0]["rank"] == "1"


def test_hints_name_a_command_that_works_from_here(tmp_path, monkeypatch):
    script = tmp_path / ".venv" / "bin" / "adcombo"
    script.parent.mkdir(parents=True)
    script.write_text("#!/bin/sh\n")
    script.chmod(0o755)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("PATH", "/usr/bin:/bin")  # adcombo is not on PATH: the path that was used
    assert command(str(script)) == os.path.join(".venv", "bin", "adcombo")
    monkeypatch.setenv("PATH", f"{script.parent}:/usr/bin:/bin")  # on PATH (an activated venv)
    assert command(str(script)) == "adcombo"
    assert command("/somewhere/else/cli.py", python=str(tmp_path / ".venv" / "bin" / "python")) == \
        os.path.join(".venv", "bin", "python") + " -m adcombo.cli"


def test_a_run_that_scored_no_ad_group_says_why_instead_of_asking_for_a_run(tmp_path):
    home = tmp_path / "home"
    wh = DuckDBWarehouse(str(home / "warehouse.duckdb"))
    wh.replace_table(TOP_COMBINATIONS_TABLE, pd.DataFrame([_row("ag_0001", 1)]).iloc[:0])  # what such a run writes
    wh.replace_table(UNSCORED_TABLE, pd.DataFrame({"ad_group_id": ["ag_0002", "ag_0001"],
                                                   "reason": ["no descriptions in the pool", "only 2 headlines"],
                                                   "model_version": "v1"}))
    wh.close()
    top = _top(home)
    assert top.exit_code == 1 and top.stdout == ""
    assert top.stderr == ("adcombo: the last run scored none of its 2 ad groups (e.g. ag_0001: only 2 headlines); "
                          "each one's reason is in serving.unscored_ad_groups\n")
    explain = CliRunner().invoke(app, ["explain", "--home", str(home), "--ad-group", "ag_0002"])
    assert explain.exit_code == 1
    assert explain.stderr == "adcombo: ad group 'ag_0002' was not scored: no descriptions in the pool\n"


def test_top_for_an_ad_group_that_could_not_be_scored_says_why(home):
    wh = DuckDBWarehouse(str(home / "warehouse.duckdb"))
    wh.replace_table(UNSCORED_TABLE, pd.DataFrame({"ad_group_id": ["ag_0099"], "model_version": "v1",
                                                   "reason": ["pins cannot be satisfied: no usable headline can fill HEADLINE_1"]}))
    wh.close()
    result = _top(home, "--ad-group", "ag_0099")
    assert result.exit_code == 1 and result.stdout == ""
    assert result.stderr == ("adcombo: ad group 'ag_0099' was not scored: pins cannot be satisfied: "
                             "no usable headline can fill HEADLINE_1\n")
