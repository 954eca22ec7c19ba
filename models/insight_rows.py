"""Warehouse rows of the insights as Arrow tables, so a Beam job writes them batched
(WriteToParquetBatched / BigQuery file loads) without one element per row. Rows are gathered as
columns over many ad groups (`ColumnBuffer`, the `add_*` functions) and made into one table per
flush: an Arrow table per ad group (~0.1-0.3 ms) would cost more than computing the values.

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


class ColumnBuffer:
    """Rows of one schema gathered as Python lists, column by column; `take()` makes them one table."""

    def __init__(self, schema: pa.Schema):
        self.schema = schema
        self.num_rows = 0
        self._columns: dict[str, list] = {f.name: [] for f in schema}

    def extend(self, columns: dict, n: int, **constants) -> None:
        """Append n rows: each schema column from `columns` (a list of n values) or a constant."""
        for name, values in self._columns.items():
            values.extend(columns[name] if name in columns else [constants.get(name)] * n)
        self.num_rows += n

    def take(self) -> pa.Table:
        table = pa.Table.from_pydict(self._columns, schema=self.schema)
        self._columns = {f.name: [] for f in self.schema}
        self.num_rows = 0
        return table


def add_asset_values(buffer: ColumnBuffer, ad_group_id: str, values, model_version: str = "") -> None:
    """One ad group's asset values (models.asset_values.AssetValues): a row per asset."""
    buffer.extend(values.columns, len(values), ad_group_id=ad_group_id, model_version=model_version)


def add_explanations(buffer: ColumnBuffer, explanations: list[dict], model_version: str = "") -> None:
    """Explained combinations (models.explain.explain): a row per term, in term order."""
    for e in explanations:
        terms = e["terms"]
        n = len(terms)
        buffer.extend({"term": list(range(n)), "kind": [t["kind"] for t in terms],
                       "positions": [",".join(t["positions"]) for t in terms],
                       "asset_ids": [",".join(t["asset_ids"]) for t in terms],
                       "texts": [" / ".join(t["texts"]) for t in terms], "value": [t["value"] for t in terms]},
                      n, ad_group_id=e["ad_group_id"], rank=e["rank"], raw_score=e["raw_score"],
                      model_version=model_version)


def add_selection(buffer: ColumnBuffer, ad_group_id: str, selection, model_version: str = "") -> None:
    """One ad group's 15 + 4 selection (models.selection.Selection): one row."""
    d = selection.as_dict()
    row = {"headline_ids": d["headline_ids"], "description_ids": d["description_ids"], "method": d["method"],
           "local_optimum": d["local_optimum"], "evaluations": d["evaluations"],
           "serving_temperature": d["serving_temperature"], "notes": "; ".join(d["notes"])}
    for who in ("selected", "pool", "random", "current"):
        for name, _ in _VALUE:
            row[f"{who}_{name}"] = d[who][name] if d[who] else None
    buffer.extend({k: [v] for k, v in row.items()}, 1, ad_group_id=ad_group_id, model_version=model_version)


def _table(schema: pa.Schema, add, *args) -> pa.Table:
    buffer = ColumnBuffer(schema)
    add(buffer, *args)
    return buffer.take()


def asset_values_table(ad_group_id: str, values, model_version: str = "") -> pa.Table:
    return _table(ASSET_VALUES_SCHEMA, add_asset_values, ad_group_id, values, model_version)


def explanations_table(explanations: list[dict], model_version: str = "") -> pa.Table:
    return _table(EXPLANATIONS_SCHEMA, add_explanations, explanations, model_version)


def selections_table(ad_group_id: str, selection, model_version: str = "") -> pa.Table:
    return _table(SELECTIONS_SCHEMA, add_selection, ad_group_id, selection, model_version)
