"""`adcombo explain` and `adcombo assets`: why a published combination wins, what each asset is worth.

`explain` re-scores the one ad group with the model that published its results, through the one
scoring path (models.scoring.score_pool), and checks that it reproduces the published list before
explaining it: the terms then add up to the published raw score. `assets` reads the asset values
the scoring job wrote (serving.asset_values). How to read both: docs/insights.md.
"""

from __future__ import annotations

import difflib
import json
import math
from pathlib import Path
from typing import Optional

import typer

from adcombo.common import HOME, load_settings
from adcombo.hints import command
from adcombo.results import no_results, unscored_reason
from dagster_project.settings import Settings
from experiments.csv_safety import write_people_csv
from warehouse.base import frame_rows

POSITIONS = ("h1", "h2", "h3", "d1", "d2")
ID_COLUMNS = tuple(f"{p}_asset_id" for p in POSITIONS)
TEXT_COLUMNS = ("headline_1", "headline_2", "headline_3", "description_1", "description_2")
LABEL_ORDER = {"never useful": 0, "weak": 1, "keep": 2}


def _fail(message: str) -> None:
    typer.echo(f"adcombo: {message}", err=True)
    raise typer.Exit(1)


def _unknown_ad_group(wh, ad_group: str, table: str, what: str, nothing: str | None = None) -> None:
    """Exit 1 naming why the ad group has no rows: not scored (with the reason), or unknown; or
    `nothing` when the table has no ad group at all."""
    reason = unscored_reason(wh, ad_group)
    if reason:
        _fail(f"ad group {ad_group!r} was not scored: {reason}")
    known = [str(g) for g in wh.query(f"SELECT DISTINCT ad_group_id FROM `{table}` ORDER BY ad_group_id")["ad_group_id"]]
    if not known and nothing:
        _fail(nothing)
    close = difflib.get_close_matches(ad_group, known, n=3)
    _fail(f"no ad group {ad_group!r} in the {what} ({len(known):,} ad groups"
          + (f"; did you mean {', '.join(close)}?" if close else f", e.g. {', '.join(known[:3])}") + ")")


# ---- explain ----------------------------------------------------------------------------------


def _published(settings: Settings, ad_group: str):
    """(published top rows of the ad group, best first; its pool rows; its served ads' rows; K)."""
    from dagster_project.resources import warehouse_resource
    from warehouse.schemas import TOP_COMBINATIONS_TABLE

    with warehouse_resource(settings).open() as wh:
        if not wh.table_exists(TOP_COMBINATIONS_TABLE):
            _fail(no_results(wh, settings.home))
        top = wh.query(f"SELECT * FROM `{TOP_COMBINATIONS_TABLE}` WHERE ad_group_id = @ag ORDER BY rank",
                       {"ag": ad_group})
        if top.empty:  # not scored (its reason), unknown, or nothing published at all
            _unknown_ad_group(wh, ad_group, TOP_COMBINATIONS_TABLE, "results", nothing=no_results(wh, settings.home))
        k = int(wh.query(f"SELECT MAX(rank) AS k FROM `{TOP_COMBINATIONS_TABLE}`")["k"].iloc[0])
        pool = wh.query("SELECT * FROM `raw.asset_pools` WHERE ad_group_id = @ag", {"ag": ad_group})
        ads = wh.query("SELECT ad_group_id, keyword, industry FROM `raw.ads` WHERE ad_group_id = @ag", {"ag": ad_group})
    return frame_rows(top), frame_rows(pool), frame_rows(ads), k


def _model(settings: Settings, version: str):
    from models.scoring import ScoringModel
    from models.store import ModelStore, ModelStoreError
    from transforms.features import feature_spec

    store = ModelStore(settings.model_store_root)
    try:
        return ScoringModel.from_bundle(store.load(version, feature_spec()))
    except ModelStoreError as exc:
        _fail(f"the model that published these results ({version}) cannot be loaded: {exc}")


def _reproduce(model, pool, k: int, rank: int, published: list[dict], min_diffs: list[int]):
    """score_pool on the pool with rank explained, for the first min_diff that reproduces the
    published list down to that rank (same combinations, the same raw score to the bit)."""
    from models.insight_options import InsightOptions
    from models.scoring import score_pool

    want = [tuple(r[c] for c in ID_COLUMNS) for r in published[:rank]]
    for min_diff in min_diffs:
        out = score_pool(model, pool, k, insights=InsightOptions(min_diff=min_diff, explain_ranks=(rank,)))
        if not out.ok:
            _fail(f"ad group {pool.ad_group_id!r} cannot be scored now: {out.reason} (its pool changed since "
                  f"the last run; `{command()} run` again)")
        g = out.group
        got = [(g.headline_ids[c[0]], g.headline_ids[c[1]], g.headline_ids[c[2]], g.description_ids[c[3]],
                g.description_ids[c[4]]) for c in g.rows(out.scored.top_rows[:rank])]
        if got == want and float(out.scored.top_raw[rank - 1]) == float(published[rank - 1]["raw_score"]):
            return out, min_diff
    _fail(f"re-scoring ad group {pool.ad_group_id!r} with model {model.version} does not give the published "
          f"combinations: its pool or served ads changed since the last run; `{command()} run` again")


def explanation(settings: Settings, ad_group: str, rank: int) -> dict:
    """The published combination of that rank, its raw score and its named terms (JSON-ready)."""
    from models.scoring import pool_inputs, sigmoid

    top, pool_rows, ad_rows, k = _published(settings, ad_group)
    if rank > len(top):
        more = (f"ADCOMBO_TOP_K={k}: `ADCOMBO_TOP_K={rank} {command()} run` keeps more" if len(top) == k else
                f"no more combinations differ from these in at least ADCOMBO_TOP_MIN_DIFF positions")
        _fail(f"rank {rank} is beyond the {len(top)} combinations kept for ad group {ad_group!r} ({more})")
    if not pool_rows:
        _fail(f"ad group {ad_group!r} has no asset pool in raw.asset_pools any more; `{command()} run` again")
    (pool,) = pool_inputs(pool_rows, ad_rows)
    # the job's order (pipelines.score._assemble): ties and the enumeration are the job's own
    pool = type(pool)(pool.ad_group_id, pool.keyword, tuple(sorted(pool.assets, key=lambda a: (a["asset_type"],
                                                                                            a["asset_id"]))),
                      pool.industry)
    version = str(top[0]["model_version"])
    model = _model(settings, version)
    min_diffs = [settings.top_min_diff] + [m for m in (0, 2, 3, 4, 5) if m != settings.top_min_diff]
    out, min_diff = _reproduce(model, pool, k, rank, top, min_diffs)
    if not out.insights.explanations:
        _fail(f"no explanation for ad group {ad_group!r}: " + "; ".join(out.insights.notes))
    e = out.insights.explanations[0]
    row = top[rank - 1]
    return {
        "ad_group_id": ad_group, "rank": rank, "raw_score": e["raw_score"],
        "terms": [{"kind": t["kind"], "positions": t["positions"], "asset_ids": t["asset_ids"], "value": t["value"],
                   "texts": t["texts"]} for t in e["terms"]],
        "terms_sum": e["terms_sum"], "score": float(sigmoid(e["raw_score"])), "model_version": version,
        "min_diff": min_diff, "combination": {p: {"asset_id": row[i], "text": row[t] or ""}
                                              for p, i, t in zip(POSITIONS, ID_COLUMNS, TEXT_COLUMNS)},
    }


def _short(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


def _print_explanation(e: dict) -> None:
    c = e["combination"]
    typer.echo(f"ad group {e['ad_group_id']}, rank {e['rank']} (model {e['model_version']}): raw score "
               f"{e['raw_score']:.4f}, predicted CTR {e['score']:.2%}")
    typer.echo("  " + " | ".join(f"{p.upper()} {c[p]['text']}" for p in POSITIONS[:3]))
    typer.echo("  " + " | ".join(f"{p.upper()} {c[p]['text']}" for p in POSITIONS[3:]))
    typer.echo("The raw score (log-odds of a click) is the sum of these terms; a term of +0.10 is about 10% more "
               "clicks, -0.10 about 10% fewer (docs/insights.md):")
    typer.echo(f"  {'term':<9} {'slots':<6} {'value':>8} {'running':>8}  asset(s)")
    running = 0.0
    for t in e["terms"]:
        running += t["value"]
        slots = "×".join(t["positions"])
        what = (" × ".join(_short(x, 20) for x in t["texts"]) if t["kind"] == "pair" else " ".join(t["texts"])) \
            or "the ad group's average ad"
        ids = f"  ({', '.join(t['asset_ids'])})" if t["asset_ids"] else ""
        typer.echo(f"  {t['kind']:<9} {slots:<6} {t['value']:>+8.4f} {running:>8.4f}  {what}{ids}")
    typer.echo(f"sum of the terms {e['terms_sum']:.10f} = published raw score {e['raw_score']:.10f} "
               f"(difference {abs(e['terms_sum'] - e['raw_score']):.1e})")


def explain(
    ad_group: str = typer.Option(..., "--ad-group", help="the ad group (as `top` lists them)"),
    rank: int = typer.Option(1, min=1, help="which published combination: 1 is the best"),
    as_json: bool = typer.Option(False, "--json", help="print JSON: ad_group_id, rank, raw_score, terms"),
    home: Optional[Path] = HOME,
):
    """Why a published combination scores what it does: its raw score as named terms that add up to it."""
    e = explanation(load_settings(home), ad_group, rank)
    if as_json:
        typer.echo(json.dumps(e, ensure_ascii=False, indent=2))
    else:
        _print_explanation(e)


# ---- assets -----------------------------------------------------------------------------------


def asset_frame(settings: Settings, ad_group: Optional[str]):
    """Rows of serving.asset_values (one ad group, or all), weakest first."""
    from dagster_project.resources import warehouse_resource
    from warehouse.schemas import ASSET_VALUES_TABLE, INSIGHT_SCHEMAS

    columns = ", ".join(name for name, _ in INSIGHT_SCHEMAS[ASSET_VALUES_TABLE])
    with warehouse_resource(settings).open() as wh:
        if not wh.table_exists(ASSET_VALUES_TABLE) or wh.row_count(ASSET_VALUES_TABLE) == 0:
            _fail(f"no asset values in {settings.home}: run `{command()} run` (or `{command()} demo`) with "
                  "ADCOMBO_ASSET_VALUES on (the default)")
        frame = wh.query(f"SELECT {columns} FROM `{ASSET_VALUES_TABLE}` WHERE (@ag = '' OR ad_group_id = @ag)",
                         {"ag": ad_group or ""})
        if ad_group is not None and frame.empty:
            _unknown_ad_group(wh, ad_group, ASSET_VALUES_TABLE, "asset values")
    order = frame["label"].map(LABEL_ORDER).fillna(3)
    regret = frame["regret"].fillna(math.inf)  # an asset that cannot be shown is the weakest
    return (frame.assign(_o=order, _r=-regret).sort_values(["_o", "_r", "ad_group_id", "asset_id"])
            .drop(columns=["_o", "_r"]).reset_index(drop=True))


def _number(value, fmt: str) -> str:
    return "" if value is None or (isinstance(value, float) and math.isnan(value)) else format(value, fmt)


def assets(
    ad_group: Optional[str] = typer.Option(None, "--ad-group", help="only this ad group (default: all)"),
    out: Optional[Path] = typer.Option(None, help="write every row as a CSV (safe to open in a spreadsheet)"),
    limit: int = typer.Option(20, min=1, help="assets to print (ignored with --out)"),
    home: Optional[Path] = HOME,
):
    """What each asset is worth: the best ad with it, what removing it costs, and a keep / weak /
    never useful label. Without --out: the weakest assets."""
    frame = asset_frame(load_settings(home), ad_group)
    groups = frame["ad_group_id"].nunique()
    if out is not None:
        write_people_csv(frame, out)  # formula-like ad texts neutralised for spreadsheets (OWASP)
        typer.echo(f"wrote {len(frame):,} assets of {groups:,} ad groups to {out}")
        return
    counts = frame["label"].value_counts()
    typer.echo(f"{len(frame):,} assets of {groups:,} ad group{'s' if groups != 1 else ''} (model "
               f"{frame['model_version'].iloc[0]}): " + ", ".join(f"{counts.get(k, 0):,} {k}" for k in LABEL_ORDER)
               + ". regret: how far the best ad using the asset is below the best ad; loss: what the best ad loses "
                 "without it (raw scores; 0.10 is about 10% of clicks). Labels: docs/insights.md.")
    shown = frame if ad_group is not None else frame[frame["label"] != "keep"]
    if shown.empty:
        typer.echo("every asset is labelled keep.")
        return
    if len(shown) > limit:
        typer.echo(f"the {limit} weakest of {len(shown):,}" + (" weak or never useful" if ad_group is None else "")
                   + f": --limit {len(shown)} for all, --out assets.csv for a spreadsheet.")
    typer.echo(f"  {'label':<12} {'regret':>7} {'loss':>6}  {'ad group':<10} {'asset':<14} text  (why)")
    for r in frame_rows(shown.head(limit)):
        typer.echo(f"  {r['label']:<12} {_number(r['regret'], '.3f'):>7} {_number(r['loss_if_removed'], '.3f'):>6}  "
                   f"{r['ad_group_id']:<10} {r['asset_id']:<14} {r['text']}  ({r['reason']})")
