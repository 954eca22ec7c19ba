"""The scoring job's insight outputs (pipelines.insight_outputs) through the real local runner:
the rows it writes are score_pool's, to the bit, on the tiny world (history effects included) and
on a generated pool larger than an RSA; the plain job is unchanged when none are asked for."""

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from models.bundle import load_bundle
from models.insight_rows import asset_values_table, explanations_table, selections_table
from models.scoring import PoolInput, ScoringModel, pool_inputs, score_pool
from pipelines import score
from pipelines.insight_outputs import bigquery_table_schema, insight_options
from transforms.features import feature_spec
from transforms.text import normalize

K = 4
MIN_DIFF = 2
LOCAL = ["--runner=FnApiRunner"]
TOP_COLUMNS = ["h1_asset_id", "h2_asset_id", "h3_asset_id", "d1_asset_id", "d2_asset_id"]


@pytest.fixture(scope="module")
def model(tiny_bundle):
    return ScoringModel.from_bundle(load_bundle(tiny_bundle, feature_spec()))


def _pools(pool_rows, ad_rows):
    """The pipeline's PoolInputs: assets in its order (score._assemble), the shared keyword rule."""
    return [PoolInput(p.ad_group_id, p.keyword, tuple(sorted(p.assets, key=lambda a: (a["asset_type"], a["asset_id"]))),
                      p.industry) for p in pool_inputs(pool_rows, ad_rows)]


def _run(tmp_path, pools_path, ads_path, bundle, *extra):
    out = tmp_path / "out"
    flags = LOCAL + [f"--pools={pools_path}", f"--ads={ads_path}", f"--bundle={bundle}", f"--top_k={K}",
                     f"--output={out / 'top' / 'part'}", f"--min_diff={MIN_DIFF}",
                     f"--asset_values_output={out / 'asset_values' / 'part'}",
                     f"--explanations_output={out / 'explanations' / 'part'}",
                     f"--selections_output={out / 'selections' / 'part'}", *extra]
    from pipelines.options import metrics_summary

    metrics = metrics_summary(score.run(flags))

    def read(name):
        files = sorted((out / name).glob("*.parquet"))
        return pd.concat([pq.read_table(f).to_pandas() for f in files], ignore_index=True) if files else pd.DataFrame()

    return {name: read(name) for name in ("top", "asset_values", "explanations", "selections")}, metrics


def _expected(model, pools, opts):
    want = {"top": [], "asset_values": [], "explanations": [], "selections": []}
    for pool in pools:
        out = score_pool(model, pool, K, insights=opts)
        if not out.ok:
            continue
        g = out.group
        for rank, (c, raw) in enumerate(zip(g.rows(out.scored.top_rows), out.scored.top_raw), start=1):
            ids = [g.headline_ids[c[0]], g.headline_ids[c[1]], g.headline_ids[c[2]], g.description_ids[c[3]],
                   g.description_ids[c[4]]]
            want["top"].append({"ad_group_id": pool.ad_group_id, "rank": rank, **dict(zip(TOP_COLUMNS, ids)),
                                "raw_score": float(raw)})
        ins = out.insights
        want["asset_values"].append(asset_values_table(pool.ad_group_id, ins.asset_values, model.version))
        if ins.explanations:
            want["explanations"].append(explanations_table(ins.explanations, model.version))
        if ins.selection is not None and ins.selection.method != "whole pool":
            want["selections"].append(selections_table(pool.ad_group_id, ins.selection, model.version))
    frames = {"top": pd.DataFrame(want["top"])}
    for name in ("asset_values", "explanations", "selections"):
        frames[name] = pa.concat_tables(want[name]).to_pandas() if want[name] else pd.DataFrame()
    return frames


def _same(got, want, keys):
    assert len(got) == len(want)
    if not len(want):
        return
    got = got.sort_values(keys).reset_index(drop=True)[list(want.columns)]
    want = want.sort_values(keys).reset_index(drop=True)
    pd.testing.assert_frame_equal(got, want, check_exact=True, check_dtype=False)


def test_the_jobs_insight_rows_are_score_pools_on_the_tiny_world(tiny_world, tiny_snapshot, tiny_bundle, model,
                                                                 tmp_path):
    got, metrics = _run(tmp_path, tiny_snapshot["raw.asset_pools"], tiny_snapshot["raw.ads"], tiny_bundle,
                        "--explain_every=1")
    pools = _pools(tiny_world.asset_pools(), tiny_world.ads())
    opts = insight_options(MIN_DIFF, asset_values=True, explain_every=1, select=True)
    want = _expected(model, pools, opts)
    # diverse top-K: the same combinations in the same order, the same published raw scores
    _same(got["top"][["ad_group_id", "rank", *TOP_COLUMNS, "raw_score"]], want["top"], ["ad_group_id", "rank"])
    for _, t in got["top"].groupby("ad_group_id"):
        combos = t.sort_values("rank")[TOP_COLUMNS].to_numpy()
        for i in range(len(combos)):
            for j in range(i):
                assert (combos[i] != combos[j]).sum() >= MIN_DIFF
    _same(got["asset_values"], want["asset_values"], ["ad_group_id", "asset_id"])
    _same(got["explanations"], want["explanations"], ["ad_group_id", "rank", "term"])
    n_groups = len(want["top"]["ad_group_id"].unique())
    assert got["explanations"].groupby("ad_group_id").ngroups == n_groups  # every one: --explain_every=1
    sums = got["explanations"].groupby("ad_group_id").agg(total=("value", "sum"), raw=("raw_score", "first"))
    published = got["top"][got["top"]["rank"] == 1].set_index("ad_group_id")["raw_score"]
    assert (sums["raw"] == published.reindex(sums.index)).all()
    assert (sums["total"] - sums["raw"]).abs().max() <= 1e-6
    # the tiny world's pools fit an RSA: submitted whole, no selection rows, counted
    assert got["selections"].empty and metrics["ad_groups_fit_an_rsa"] == n_groups
    assert metrics["ad_groups_explained"] == n_groups and metrics["asset_value_rows"] == len(got["asset_values"])


def test_served_impressions_come_from_the_history_the_model_was_fitted_on(tiny_world, tiny_snapshot, model):
    """served_impressions of an asset = impressions of the served ads of its ad group that showed its
    (normalised) text in any slot, summed over every day of the history; null without history."""
    perf = pd.read_parquet(tiny_snapshot["raw.ad_daily_performance"]).groupby("ad_id")["impressions"].sum()
    ads = pd.DataFrame(tiny_world.ads())
    ads["impressions"] = ads["ad_id"].map(perf).fillna(0)
    shown = {}
    for ad in ads[ads.impressions > 0].itertuples():
        texts = {("HEADLINE", normalize(t or "")) for t in (ad.headline_1, ad.headline_2, ad.headline_3)}
        texts |= {("DESCRIPTION", normalize(t or "")) for t in (ad.description_1, ad.description_2)}
        for kind, text in texts:
            if text:
                shown[ad.ad_group_id, kind, text] = shown.get((ad.ad_group_id, kind, text), 0) + int(ad.impressions)
    opts = insight_options(asset_values=True)
    checked = served = 0
    for pool in _pools(tiny_world.asset_pools(), tiny_world.ads()):
        out = score_pool(model, pool, K, insights=opts)
        if not out.ok:
            continue
        for row in out.insights.asset_values:
            want = shown.get((pool.ad_group_id, row["asset_type"], normalize(row["text"] or "")), 0)
            assert row["served_impressions"] == want, row
            checked += 1
            served += want > 0
    assert checked > 50 and served > 10
    # no history for this ad group: unknown, not zero
    pool = _pools(tiny_world.asset_pools(), tiny_world.ads())[0]
    unknown = score_pool(model, PoolInput("no-such-group", pool.keyword, pool.assets, pool.industry), K,
                         insights=opts)
    assert {r["served_impressions"] for r in unknown.insights.asset_values} == {None}
    assert {r["history_effect"] for r in unknown.insights.asset_values} == {None}


def test_insight_tables_buffer_rows_over_ad_groups(model, tiny_world, monkeypatch):
    """The DoFn gathers rows over ad groups and emits a table whenever FLUSH_ROWS are held, the rest
    at the end of the bundle: every row exactly once, in order, each table one chunk per column
    (a table that crosses a stage boundary is pickled chunk by chunk)."""
    from apache_beam.ml.inference.base import PredictionResult
    from apache_beam.utils.windowed_value import WindowedValue

    from pipelines.insight_outputs import InsightTables

    opts = insight_options(MIN_DIFF, asset_values=True, explain_every=1)
    outs = [(p.ad_group_id, PredictionResult(p, score_pool(model, p, K, insights=opts), "v1"))
            for p in _pools(tiny_world.asset_pools(), tiny_world.ads())[:6]]
    outs = [(ag, r) for ag, r in outs if r.inference.ok]
    want = pa.concat_tables([asset_values_table(ag, r.inference.insights.asset_values, "v1") for ag, r in outs])
    monkeypatch.setattr(InsightTables, "FLUSH_ROWS", 25)
    dofn = InsightTables()
    dofn.start_bundle()
    emitted = [o for element in outs for o in dofn.process(element)] + list(dofn.finish_bundle())

    def tables_of(tag):  # finish_bundle's outputs carry their window
        return [o.value.value if isinstance(o.value, WindowedValue) else o.value for o in emitted if o.tag == tag]

    tables = tables_of("asset_values")
    assert len(tables) > 1 and all(t.num_rows >= 25 for t in tables[:-1])
    assert all(c.num_chunks == 1 for t in tables for c in t.columns)
    assert pa.concat_tables(tables).equals(want)
    assert pa.concat_tables(tables_of("explanations")).equals(
        pa.concat_tables([explanations_table(r.inference.insights.explanations, "v1") for _, r in outs]))


def _big_pool_files(tmp_path, n_headlines=17, n_descriptions=5, seed=3):
    """One generated pool larger than an RSA, and a plain one, as Parquet inputs."""
    from admedia import textgen

    rng = np.random.default_rng(seed)
    ind = textgen.INDUSTRIES[0]
    brand, keyword = ind.brands[0], ind.keywords[0]
    rows, ads = [], []
    for gid, nh, nd in (("big", n_headlines, n_descriptions), ("rsa", 6, 3)):
        heads = textgen.asset_texts(rng, ind, brand, keyword, nh, "HEADLINE", overlong_rate=0.0)
        descs = textgen.asset_texts(rng, ind, brand, keyword, nd, "DESCRIPTION", overlong_rate=0.0)
        for kind, texts in (("HEADLINE", heads), ("DESCRIPTION", descs)):
            rows += [{"ad_group_id": gid, "asset_id": f"{gid}-{kind[0].lower()}{i:02d}", "asset_type": kind,
                      "text": t, "pinned_field": ""} for i, t in enumerate(texts)]
        ads.append({"ad_id": f"ad-{gid}", "ad_group_id": gid, "campaign_id": "c", "industry": ind.name,
                    "keyword": keyword, "headline_1": heads[0], "headline_2": heads[1], "headline_3": heads[2],
                    "description_1": descs[0], "description_2": descs[1]})
    pq.write_table(pa.Table.from_pylist(rows), tmp_path / "pools.parquet")
    pq.write_table(pa.Table.from_pylist(ads), tmp_path / "ads.parquet")
    return str(tmp_path / "pools.parquet"), str(tmp_path / "ads.parquet"), rows, ads


def test_a_pool_larger_than_an_rsa_gets_its_15_plus_4_selection(tiny_bundle, model, tmp_path):
    pools_path, ads_path, rows, ads = _big_pool_files(tmp_path)
    got, metrics = _run(tmp_path, pools_path, ads_path, tiny_bundle, "--explain_every=1")
    want = _expected(model, _pools(rows, ads), insight_options(MIN_DIFF, True, 1, True))
    assert list(got["selections"]["ad_group_id"]) == ["big"]  # the pool that fits gets no row
    sel = got["selections"].iloc[0]
    assert len(sel["headline_ids"]) == 15 and len(sel["description_ids"]) == 4
    assert sel["method"] == "exhaustive" and sel["selected_expected_ctr"] >= sel["pool_expected_ctr"] - 1e-12
    _same(got["selections"].drop(columns=["headline_ids", "description_ids"]),
          want["selections"].drop(columns=["headline_ids", "description_ids"]), ["ad_group_id"])
    assert list(sel["headline_ids"]) == list(want["selections"].iloc[0]["headline_ids"])
    _same(got["asset_values"], want["asset_values"], ["ad_group_id", "asset_id"])
    assert len(got["asset_values"]) == len(rows)
    assert metrics["ad_groups_selected"] == 1 and metrics["ad_groups_fit_an_rsa"] == 1


def test_without_insight_flags_the_job_is_the_plain_top_k(tiny_world, tiny_snapshot, tiny_bundle, model, tmp_path):
    assert insight_options() is None and insight_options(min_diff=1) is None
    out = tmp_path / "plain"
    score.run(LOCAL + [f"--pools={tiny_snapshot['raw.asset_pools']}", f"--ads={tiny_snapshot['raw.ads']}",
                       f"--bundle={tiny_bundle}", f"--top_k={K}", f"--output={out / 'part'}"])
    got = pd.read_parquet(out)
    want = []
    for pool in _pools(tiny_world.asset_pools(), tiny_world.ads()):
        res = score_pool(model, pool, K)
        if res.ok:
            g = res.group
            want += [{"ad_group_id": pool.ad_group_id, "rank": r, "raw_score": float(s),
                      "h1_asset_id": g.headline_ids[c[0]]} for r, (c, s) in enumerate(res.top(), start=1)]
    _same(got[["ad_group_id", "rank", "raw_score", "h1_asset_id"]], pd.DataFrame(want), ["ad_group_id", "rank"])


def test_bad_insight_flags_are_one_line_errors(tiny_snapshot, tiny_bundle, tmp_path):
    base = LOCAL + [f"--pools={tiny_snapshot['raw.asset_pools']}", f"--ads={tiny_snapshot['raw.ads']}",
                    f"--bundle={tiny_bundle}", f"--output={tmp_path / 'o'}"]
    with pytest.raises(SystemExit, match="--min_diff must be between 0 and 5"):
        score.build_pipeline(base + ["--min_diff=6"])
    with pytest.raises(SystemExit, match="--explain_every must be at least 1"):
        score.build_pipeline(base + ["--explain_every=0", f"--explanations_output={tmp_path / 'e'}"])


def test_bigquery_schemas_cover_every_insight_column():
    from models.insight_rows import SELECTIONS_SCHEMA

    fields = bigquery_table_schema(SELECTIONS_SCHEMA)["fields"]
    assert [f["name"] for f in fields] == SELECTIONS_SCHEMA.names
    modes = {f["name"]: (f["type"], f["mode"]) for f in fields}
    assert modes["headline_ids"] == ("STRING", "REPEATED") and modes["local_optimum"] == ("BOOLEAN", "NULLABLE")
    assert score._json_row({"a": float("nan"), "b": 1.5}) == {"a": None, "b": 1.5}


def test_a_selection_compares_with_the_set_that_was_served(tiny_world, model):
    """A tiny-world ad group with delivery history, its pool grown past an RSA with generated
    candidates: the selection reports the value of the assets its served ads showed (current)."""
    from admedia import textgen
    from models.selection import SetEvaluator

    pool = next(p for p in _pools(tiny_world.asset_pools(), tiny_world.ads())
                if model.effects.impressions_for_pool(p.ad_group_id, p.assets))
    rng = np.random.default_rng(5)
    ind = textgen.INDUSTRIES[0]
    extra = [{"ad_group_id": pool.ad_group_id, "asset_id": f"zz-{kind[0]}{i}", "asset_type": kind, "text": t,
              "pinned_field": ""}
             for kind, n in (("HEADLINE", 6), ("DESCRIPTION", 2))
             for i, t in enumerate(textgen.asset_texts(rng, ind, ind.brands[0], ind.keywords[0], n, kind,
                                                       overlong_rate=0.0))]
    big = PoolInput(pool.ad_group_id, pool.keyword, tuple(sorted([*pool.assets, *extra],
                                                                 key=lambda a: (a["asset_type"], a["asset_id"]))),
                    pool.industry)
    out = score_pool(model, big, K, insights=insight_options(asset_values=True, select=True))
    served = {r["asset_id"] for r in out.insights.asset_values if r["served_impressions"]}
    assert served and not any(a.startswith("zz-") for a in served)
    sel = out.insights.selection
    assert sel is not None and sel.current is not None
    g = out.group
    ev = SetEvaluator(g, out.scored.tables)
    want = ev.value([i for i, a in enumerate(g.headline_ids) if a in served],
                    [i for i, a in enumerate(g.description_ids) if a in served])
    assert sel.current.expected_ctr == pytest.approx(want.expected_ctr, rel=1e-12)
    assert sel.selected.expected_ctr >= sel.random.expected_ctr
