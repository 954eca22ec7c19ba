"""Warehouse rows of an ad group's insights: one Arrow table per ad group and output, so a Beam job
writes them batched (WriteToParquetBatched / BigQuery file loads) without one element per row.

- ASSET_VALUES_SCHEMA:  one row per asset (models.asset_values);
- EXPLANATIONS_SCHEMA:  one row per term of each explained combination (models.explain), long
  format: a waterfall plot is the rows of one (ad_group_id, rank) in term order;
- SELECTIONS_SCHEMA:    one row per ad group with a "submit these 15 + 4" selection (models.selection).
"""

from __future__ import annotations

import pyarrow as pa

ASSET_VALUES_SCHEMA = pa.schema([
    ("ad_group_id", pa.string()),
    ("asset_id", pa.string()),
    ("asset_type", pa.string()),
    ("text", pa.string()),
    ("best_with_raw", pa.float64()),  # null: the asset is in no valid combination
    ("best_slot", pa.string()),  # h1..d2: its slot in that best combination
    ("regret", pa.float64()),
    ("loss_if_removed", pa.float64()),  # null: no valid combination is left without it
    ("top_n_share", pa.float64()),
    ("top_n", pa.int64()),
    ("history_effect", pa.float64()),  # null: the ad group has no delivery history
    ("served_impressions", pa.int64()),  # null: not known to the scorer
    ("label", pa.string()),  # keep | weak | never useful
    ("reason", pa.string()),
    ("model_version", pa.string()),
])

EXPLANATIONS_SCHEMA = pa.schema([
    ("ad_group_id", pa.string()),
    ("rank", pa.int64()),
    ("raw_score", pa.float64()),  # the published score; the terms of the rank add up to it
    ("term", pa.int64()),  # order: constant, positions h1..d2, pairs, history
    ("kind", pa.string()),  # constant | position | pair | history
    ("positions", pa.string()),  # "h1" or "h1,d2"; "" for the constant
    ("asset_ids", pa.string()),  # comma-separated, as positions
    ("texts", pa.string()),  # " / "-separated, as positions
    ("value", pa.float64()),
    ("model_version", pa.string()),
])

_VALUE = [("expected_ctr", pa.float64()), ("expected_ctr_uniform", pa.float64()), ("best_raw", pa.float64()),
          ("n_combinations", pa.int64())]
SELECTIONS_SCHEMA = pa.schema(
    [("ad_group_id", pa.string()), ("headline_ids", pa.list_(pa.string())),
     ("description_ids", pa.list_(pa.string())), ("method", pa.string()), ("local_optimum", pa.bool_()),
     ("evaluations", pa.int64()), ("serving_temperature", pa.float64())]
    + [(f"{who}_{name}", t) for who in ("selected", "pool", "random", "current") for name, t in _VALUE]
    + [("notes", pa.string()), ("model_version", pa.string())])


def asset_values_table(ad_group_id: str, rows: list[dict], model_version: str = "") -> pa.Table:
    cols = {f.name: [] for f in ASSET_VALUES_SCHEMA}
    for r in rows:
        for name in cols:
            cols[name].append(ad_group_id if name == "ad_group_id" else model_version if name == "model_version"
                              else r.get(name))
    return pa.Table.from_pydict(cols, schema=ASSET_VALUES_SCHEMA)


def explanations_table(explanations: list[dict], model_version: str = "") -> pa.Table:
    cols = {f.name: [] for f in EXPLANATIONS_SCHEMA}
    for e in explanations:
        for i, t in enumerate(e["terms"]):
            cols["ad_group_id"].append(e["ad_group_id"])
            cols["rank"].append(e["rank"])
            cols["raw_score"].append(e["raw_score"])
            cols["term"].append(i)
            cols["kind"].append(t["kind"])
            cols["positions"].append(",".join(t["positions"]))
            cols["asset_ids"].append(",".join(t["asset_ids"]))
            cols["texts"].append(" / ".join(t["texts"]))
            cols["value"].append(t["value"])
            cols["model_version"].append(model_version)
    return pa.Table.from_pydict(cols, schema=EXPLANATIONS_SCHEMA)


def selections_table(ad_group_id: str, selection, model_version: str = "") -> pa.Table:
    d = selection.as_dict()
    row = {"ad_group_id": ad_group_id, "headline_ids": d["headline_ids"], "description_ids": d["description_ids"],
           "method": d["method"], "local_optimum": d["local_optimum"], "evaluations": d["evaluations"],
           "serving_temperature": d["serving_temperature"], "notes": "; ".join(d["notes"]),
           "model_version": model_version}
    for who in ("selected", "pool", "random", "current"):
        for name, _ in _VALUE:
            row[f"{who}_{name}"] = d[who][name] if d[who] else None
    return pa.Table.from_pylist([row], schema=SELECTIONS_SCHEMA)
