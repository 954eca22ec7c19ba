"""`adcombo explain` and `adcombo assets` as a user types them, after `adcombo demo` on the tiny world
and after importing an advertiser's export (examples/byod_ja: CP932 and UTF-16, customizers) and
`adcombo run`; the scoring asset's insight metadata; the A/B/n production arm is rank 1 of the
diverse list. Outputs are checked against brute force over Booster.predict on the ad group."""

import csv
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from adcombo.cli import app

ADCOMBO = str(Path(sys.executable).with_name("adcombo"))
ROOT = Path(__file__).resolve().parents[2]
POSITIONS = ("h1", "h2", "h3", "d1", "d2")
IDS = [f"{p}_asset_id" for p in POSITIONS]


def _adcombo(*args, env=None, timeout=600):
    """The command as a user types it (a process of its own)."""
    return subprocess.run([ADCOMBO, *args], env=env, capture_output=True, text=True, timeout=timeout)


def _cli(home, *args):
    """The same command in this process (faster: no start-up), on that data folder."""
    result = CliRunner().invoke(app, [args[0], "--home", str(home), *args[1:]])
    result.returncode = result.exit_code
    return result


@pytest.fixture(scope="module")
def demo_home(tmp_path_factory):
    home = tmp_path_factory.mktemp("insights-demo")
    env = {**os.environ, "ADCOMBO_HOME": str(home), "DAGSTER_HOME": str(home / "dagster")}
    out = _adcombo("demo", "--world", "tiny", env=env)
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    return home, env


@pytest.fixture(scope="module")
def imported_home(tmp_path_factory):
    """examples/byod_ja imported, with one ad group's pool cut to a single headline (unscorable)."""
    root = tmp_path_factory.mktemp("insights-byod")
    data, home = root / "byod_ja", root / "home"
    shutil.copytree(ROOT / "examples" / "byod_ja", data)
    pools = data / "アセット.csv"
    with open(pools, encoding="cp932", newline="") as f:
        rows = list(csv.reader(f))
    header, body = rows[0], rows[1:]
    group_col, type_col = 0, next(i for i, h in enumerate(header) if "タイプ" in h or "種類" in h)
    victim = body[0][group_col]
    heads = [r for r in body if r[group_col] == victim and r[type_col] == body[0][type_col]]
    body = [r for r in body if not (r[group_col] == victim and r[type_col] == body[0][type_col])] + heads[:1]
    with open(pools, "w", encoding="cp932", newline="") as f:
        csv.writer(f).writerows([header] + body)
    env = {**os.environ, "ADCOMBO_HOME": str(home), "DAGSTER_HOME": str(home / "dagster")}
    out = _adcombo("import", str(data), "--encoding", "cp932", env=env, timeout=300)
    assert out.returncode == 0, out.stdout + out.stderr
    out = _adcombo("run", env=env, timeout=900)
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    return home, env, victim


def _query(home, sql):
    con = duckdb.connect(str(home / "warehouse.duckdb"), read_only=True)
    try:
        return con.execute(sql).df()
    finally:
        con.close()


def _brute_force(home, ad_group_id):
    """Every valid combination of the ad group, featurised with the bundle's term weights, scored by
    Booster.predict plus the bundle's history effects: (AdGroupCombinations, raw scores)."""
    from models.asset_effects import combination_effects
    from models.bundle import load_bundle
    from transforms.combinations import build_ad_group_combinations, pick_keyword
    from transforms.features import feature_spec
    from transforms.tokenizer import load_processor

    version = _query(home, "SELECT MAX(model_version) AS v FROM serving.top_combinations")["v"].iloc[0]
    bundle = load_bundle(str(home / "models" / "bundles" / version), feature_spec())
    pool = _query(home, f"SELECT * FROM raw.asset_pools WHERE ad_group_id = '{ad_group_id}'")
    ads = _query(home, f"SELECT keyword, industry FROM raw.ads WHERE ad_group_id = '{ad_group_id}'")
    keyword, industry = pick_keyword(zip(ads["keyword"], ads["industry"]))
    assets = sorted(pool.astype(object).where(pool.notna(), None).to_dict("records"),
                    key=lambda a: (a["asset_type"], a["asset_id"]))
    g = build_ad_group_combinations(keyword, assets, load_processor(bundle.tokenizer_path), industry=industry,
                                    term_weights=bundle.term_weights)
    raw = bundle.booster.predict(g.X, raw_score=True)
    effects = bundle.effects.for_pool(ad_group_id, g.headline_texts, g.description_texts)
    if effects is not None:
        raw = raw + combination_effects(effects, g.combos)
    return g, raw


def _check_explanation(home, e, published):
    """The JSON a user gets: shape, texts, terms adding up to the published raw score, which is
    the brute-force score of that combination."""
    assert {"ad_group_id", "rank", "raw_score", "terms"} <= set(e)
    row = published[(published.ad_group_id == e["ad_group_id"]) & (published["rank"] == e["rank"])].iloc[0]
    assert e["raw_score"] == row.raw_score  # the published score, to the bit
    assert abs(sum(t["value"] for t in e["terms"]) - row.raw_score) <= 1e-6
    kinds = [t["kind"] for t in e["terms"]]
    assert kinds[0] == "constant" and kinds.count("position") == 5 and kinds.count("pair") == 10
    for t in e["terms"]:
        assert set(t) >= {"kind", "positions", "asset_ids", "value", "texts"}
        assert len(t["positions"]) == len(t["asset_ids"]) == len(t["texts"])
    by_slot = {t["positions"][0]: t["asset_ids"][0] for t in e["terms"] if t["kind"] == "position"}
    assert [by_slot[p] for p in POSITIONS] == [row[c] for c in IDS]
    g, raw = _brute_force(home, e["ad_group_id"])
    ids = [g.row_asset_ids(i) for i in range(len(g))]
    assert raw[ids.index(tuple(row[c] for c in IDS))] == pytest.approx(row.raw_score, abs=1e-9)


def test_explain_terms_add_up_to_the_published_raw_score(demo_home):
    home, env = demo_home
    published = _query(home, "SELECT * FROM serving.top_combinations")
    group = sorted(published.ad_group_id.unique())[0]
    out = _adcombo("explain", "--ad-group", group, "--rank", "1", "--json", env=env)
    assert out.returncode == 0, out.stderr
    _check_explanation(home, json.loads(out.stdout), published)
    text = _adcombo("explain", "--ad-group", group, env=env)
    assert text.returncode == 0 and f"ad group {group}, rank 1" in text.stdout
    top = published[(published.ad_group_id == group) & (published["rank"] == 1)].iloc[0]
    assert top.headline_1 in text.stdout and "published raw score" in text.stdout
    # every other ad group, at the last rank kept (in process: the same command, faster)
    for group in sorted(published.ad_group_id.unique())[1:]:
        rank = int(published[published.ad_group_id == group]["rank"].max())
        result = _cli(home, "explain", "--ad-group", group, "--rank", str(rank), "--json")
        assert result.exit_code == 0, result.output
        _check_explanation(home, json.loads(result.stdout), published)


def test_explain_refuses_what_it_cannot_explain(demo_home):
    home, env = demo_home
    group = _query(home, "SELECT MIN(ad_group_id) AS g FROM serving.top_combinations")["g"].iloc[0]
    out = _adcombo("explain", "--ad-group", group[:-1] + "x", env=env)
    assert out.returncode == 1 and "no ad group" in out.stderr and "did you mean" in out.stderr
    assert "Traceback" not in out.stderr
    out = _cli(home, "explain", "--ad-group", group, "--rank", "6")
    assert out.returncode == 1
    assert f"rank 6 is beyond the 5 combinations kept for ad group '{group}'" in out.stderr
    empty = _cli(home / "nothing", "explain", "--ad-group", group)
    assert empty.exit_code == 1 and "no results in" in empty.stderr


def _read_csv(path):
    with open(path, encoding="utf-8-sig", newline="") as f:  # written with a BOM, for Excel
        return list(csv.DictReader(f))


def _check_assets_csv(home, env, group, tmp_path):
    """Every asset of the ad group, values >= 0 and equal to brute force, labels by the thresholds
    (env: as a user types it; None: in process)."""
    from models.asset_values import KEEP_REGRET, WEAK_REGRET

    path = tmp_path / f"{group}.csv"
    args = ("assets", "--ad-group", group, "--out", str(path))
    out = _adcombo(*args, env=env) if env else _cli(home, *args)
    assert out.returncode == 0, out.stderr
    rows = _read_csv(path)
    pool = _query(home, f"SELECT asset_id FROM raw.asset_pools WHERE ad_group_id = '{group}'")
    assert sorted(r["asset_id"] for r in rows) == sorted(pool["asset_id"])
    g, raw = _brute_force(home, group)
    best = raw.max()
    for r in rows:
        assert r["ad_group_id"] == group and r["label"] in ("keep", "weak", "never useful")
        assert float(r["loss_if_removed"]) >= 0
        kind = slice(0, 3) if r["asset_type"] == "HEADLINE" else slice(3, 5)
        index = (g.headline_ids if r["asset_type"] == "HEADLINE" else g.description_ids).index(r["asset_id"])
        has = (g.combos[:, kind] == index).any(axis=1)
        if not has.any():  # cannot be shown: no regret, and the reason says why
            assert r["regret"] == "" and r["label"] == "never useful" and "never shown" in r["reason"]
            continue
        regret = float(r["regret"])
        assert regret >= 0 and float(r["best_with_raw"]) == pytest.approx(raw[has].max(), abs=1e-9)
        assert regret == pytest.approx(best - raw[has].max(), abs=1e-9)
        assert float(r["loss_if_removed"]) == pytest.approx(best - raw[~has].max(), abs=1e-9)
        want = "keep" if regret <= KEEP_REGRET or float(r["loss_if_removed"]) > 0 else \
            "weak" if regret <= WEAK_REGRET else "never useful"
        assert r["label"] == want
    return rows


def test_assets_csv_has_every_asset_with_its_values(demo_home, tmp_path):
    home, env = demo_home
    group = _query(home, "SELECT MIN(ad_group_id) AS g FROM serving.top_combinations")["g"].iloc[0]
    rows = _check_assets_csv(home, env, group, tmp_path)
    assert any(r["served_impressions"] not in ("", "0") for r in rows)  # the tiny world has history
    everything = tmp_path / "all.csv"
    out = _cli(home, "assets", "--out", str(everything))
    assert out.returncode == 0 and len(_read_csv(everything)) == len(_query(home, "SELECT * FROM raw.asset_pools"))


def test_assets_without_out_prints_the_weakest(demo_home):
    home, env = demo_home
    out = _adcombo("assets", "--limit", "5", env=env)
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert "never useful" in lines[0] and "weak" in lines[0] and "keep" in lines[0]
    shown = [line for line in lines if line.startswith("  never useful") or line.startswith("  weak")]
    assert len(shown) == 5 and not any(line.startswith("  keep") for line in lines)
    weakest = _query(home, "SELECT text FROM serving.asset_values WHERE label = 'never useful' "
                           "ORDER BY regret DESC NULLS FIRST, ad_group_id, asset_id LIMIT 1")["text"].iloc[0]
    assert weakest in shown[0]
    unknown = _cli(home, "assets", "--ad-group", "no-such-group")
    assert unknown.returncode == 1 and "no ad group 'no-such-group' in the asset values" in unknown.stderr


def test_assets_csv_neutralises_formula_texts(tmp_path):
    """Imports refuse formula-like texts; a CSV for people neutralises any that came another way."""
    from warehouse.duckdb_warehouse import DuckDBWarehouse
    from warehouse.schemas import ASSET_VALUES_TABLE

    payloads = ["=cmd|' /C calc'!A0", "@SUM(1,2)", "+1+2", "-3+4"]
    rows = [{"ad_group_id": "ag1", "asset_id": f"a{i}", "asset_type": "HEADLINE", "text": t, "best_with_raw": -3.0,
             "best_slot": "h1", "regret": 0.2 + i, "loss_if_removed": 0.0, "top_n_share": 0.0, "top_n": 100,
             "history_effect": None, "served_impressions": None, "label": "never useful", "reason": t,
             "model_version": "v1"} for i, t in enumerate(payloads)]
    home = tmp_path / "home"
    wh = DuckDBWarehouse(str(home / "warehouse.duckdb"))
    wh.replace_table(ASSET_VALUES_TABLE, pd.DataFrame(rows))
    wh.close()
    out = tmp_path / "assets.csv"
    result = CliRunner().invoke(app, ["assets", "--home", str(home), "--out", str(out)])
    assert result.exit_code == 0, result.output
    written = _read_csv(out)
    assert sorted(r["text"] for r in written) == sorted("'" + p for p in payloads)
    assert sorted(r["reason"] for r in written) == sorted("'" + p for p in payloads)
    assert {float(r["regret"]) for r in written} == {0.2, 1.2, 2.2, 3.2}


def test_the_ui_shows_explanations_and_the_weakest_assets(demo_home):
    from dagster import AssetKey

    from adcombo.instance import open_instance

    home, _ = demo_home
    with open_instance(home) as inst:
        meta = inst.get_latest_materialization_event(AssetKey("top_combinations")).asset_materialization.metadata
    groups = _query(home, "SELECT COUNT(DISTINCT ad_group_id) AS n FROM serving.top_combinations")["n"].iloc[0]
    assert meta["ad_groups_explained"].value == groups  # fewer than 20 ad groups: every one explained
    explanation = meta["explanation"].value
    assert {c.name for c in explanation.schema.columns} >= {"ad_group_id", "kind", "positions", "texts", "value"}
    records = [r.data for r in explanation.records]
    first = records[0]["ad_group_id"]
    terms = [r for r in records if r["ad_group_id"] == first]
    published = _query(home, f"SELECT raw_score FROM serving.top_combinations WHERE ad_group_id = '{first}' "
                             "AND rank = 1")["raw_score"].iloc[0]
    assert abs(sum(r["value"] for r in terms) - published) < 1e-3  # rounded to 4 significant digits
    assert any(r["kind"] == "position" and r["texts"] for r in terms)
    assert meta["explanation_waterfall"].value.startswith("![Explanation waterfall](data:image/png;base64,")
    weakest = [r.data for r in meta["weakest_assets"].value.records]
    assert weakest and all(r["label"] in ("weak", "never useful") for r in weakest)
    labels = {r.data["label"]: r.data["assets"] for r in meta["asset_labels"].value.records}
    assert sum(labels.values()) == len(_query(home, "SELECT * FROM raw.asset_pools"))
    assert meta["min_diff"].value == 2


def test_the_production_arm_is_rank_1_of_the_diverse_list(demo_home):
    home, _ = demo_home
    top = _query(home, "SELECT * FROM serving.top_combinations ORDER BY ad_group_id, rank")
    for _, rows in top.groupby("ad_group_id"):
        combos = rows[IDS].to_numpy()
        for i in range(len(combos)):
            for j in range(i):
                assert (combos[i] != combos[j]).sum() >= 2  # ADCOMBO_TOP_MIN_DIFF's default
    arms = _query(home, "SELECT * FROM experiments.assignments WHERE arm = 'production' ORDER BY ad_group_id")
    first = top[top["rank"] == 1].set_index("ad_group_id")
    assert len(arms) == len(first)
    for r in arms.itertuples():
        assert [getattr(r, c) for c in IDS] == list(first.loc[r.ad_group_id, IDS])


def test_explain_and_assets_on_imported_files(imported_home, tmp_path):
    home, env, victim = imported_home
    out = _adcombo("explain", "--ad-group", victim, env=env)
    assert out.returncode == 1
    assert f"ad group '{victim}' was not scored: too few valid headlines" in out.stderr
    published = _query(home, "SELECT * FROM serving.top_combinations")
    groups = sorted(published.ad_group_id.unique())
    for group in groups[:2]:
        args = ("explain", "--ad-group", group, "--rank", "2", "--json")
        out = _adcombo(*args, env=env) if group == groups[0] else _cli(home, *args)
        assert out.returncode == 0, out.stderr
        _check_explanation(home, json.loads(out.stdout), published)
    customizer = _query(home, "SELECT DISTINCT ad_group_id FROM raw.asset_pools WHERE text LIKE '%{%' "
                              "ORDER BY ad_group_id")["ad_group_id"]
    group = next(g for g in customizer if g in set(groups))
    rows = _check_assets_csv(home, None, group, tmp_path)
    assert any("{" in r["text"] for r in rows)
    assert victim not in set(_query(home, "SELECT ad_group_id FROM serving.asset_values")["ad_group_id"])
