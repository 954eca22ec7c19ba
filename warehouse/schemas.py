"""Column schemas of the warehouse tables (BigQuery types), shared by every adapter.

The raw tables' columns are exactly the bring-your-own-data columns of DESIGN.md, so an export
from another tool loads as it is.
"""

from __future__ import annotations

import pandas as pd

RAW_SCHEMAS: dict[str, list[tuple[str, str]]] = {
    "raw.ads": [
        ("ad_id", "STRING"),
        ("ad_group_id", "STRING"),
        ("campaign_id", "STRING"),
        ("industry", "STRING"),
        ("keyword", "STRING"),
        ("headline_1", "STRING"),
        ("headline_2", "STRING"),
        ("headline_3", "STRING"),
        ("description_1", "STRING"),
        ("description_2", "STRING"),
    ],
    "raw.ad_daily_performance": [
        ("date", "DATE"),
        ("ad_id", "STRING"),
        ("impressions", "INT64"),
        ("clicks", "INT64"),
        ("conversions", "INT64"),
        ("cost_micros", "INT64"),
    ],
    "raw.asset_pools": [
        ("ad_group_id", "STRING"),
        ("asset_id", "STRING"),
        ("asset_type", "STRING"),
        ("text", "STRING"),
        ("pinned_field", "STRING"),
    ],
}

TOP_COMBINATIONS_TABLE = "serving.top_combinations"
UNSCORED_TABLE = "serving.unscored_ad_groups"
ALL_SCORES_TABLE = "serving.all_scores"

# ---- monitoring and experiments (written by the Dagster assets; named here so that the core can
# empty them when the source changes, ingest/source.py) ------------------------------------------
DRIFT_RUNS_TABLE = "monitoring.drift_runs"
ASSIGNMENTS_TABLE = "experiments.assignments"
RESULTS_TABLE = "experiments.results"
DELIVERY_TABLE = "raw.creative_daily_performance"  # the experiment's delivery by tracking id

# ---- creative insights (docs/insights.md): written by the scoring job from the same pass -------
# Columns as models.insight_rows writes them (a test keeps the two in step).
ASSET_VALUES_TABLE = "serving.asset_values"  # one row per asset of every scored ad group
EXPLANATIONS_TABLE = "serving.explanations"  # one row per term of each explained combination
SELECTIONS_TABLE = "serving.selections"  # one row per pool larger than an RSA: which 15 + 4 to submit
# Everything the scoring job writes: the scores of one source's ad groups (emptied with it, ingest/source.py)
SERVING_TABLES = (TOP_COMBINATIONS_TABLE, UNSCORED_TABLE, ALL_SCORES_TABLE, ASSET_VALUES_TABLE, EXPLANATIONS_TABLE,
                  SELECTIONS_TABLE)
_SET_VALUE = [("expected_ctr", "FLOAT64"), ("expected_ctr_uniform", "FLOAT64"), ("best_raw", "FLOAT64"),
              ("n_combinations", "INT64")]
INSIGHT_SCHEMAS: dict[str, list[tuple[str, str]]] = {
    ASSET_VALUES_TABLE: [
        ("ad_group_id", "STRING"), ("asset_id", "STRING"), ("asset_type", "STRING"), ("text", "STRING"),
        ("best_with_raw", "FLOAT64"), ("best_slot", "STRING"), ("regret", "FLOAT64"), ("loss_if_removed", "FLOAT64"),
        ("top_n_share", "FLOAT64"), ("top_n", "INT64"), ("history_effect", "FLOAT64"),
        ("served_impressions", "INT64"), ("label", "STRING"), ("reason", "STRING"), ("model_version", "STRING"),
    ],
    EXPLANATIONS_TABLE: [
        ("ad_group_id", "STRING"), ("rank", "INT64"), ("raw_score", "FLOAT64"), ("term", "INT64"), ("kind", "STRING"),
        ("positions", "STRING"), ("asset_ids", "STRING"), ("texts", "STRING"), ("value", "FLOAT64"),
        ("model_version", "STRING"),
    ],
    SELECTIONS_TABLE: [
        ("ad_group_id", "STRING"), ("headline_ids", "ARRAY<STRING>"), ("description_ids", "ARRAY<STRING>"),
        ("method", "STRING"), ("local_optimum", "BOOL"), ("evaluations", "INT64"), ("serving_temperature", "FLOAT64"),
        *[(f"{who}_{name}", kind) for who in ("selected", "pool", "random", "current") for name, kind in _SET_VALUE],
        ("notes", "STRING"), ("model_version", "STRING"),
    ],
}

_PANDAS_TYPES = {"STRING": "string", "INT64": "Int64", "FLOAT64": "float64"}


def to_frame(table: str, rows: list[dict]) -> pd.DataFrame:
    """Rows as a DataFrame with exactly the table's columns and types.

    Unknown keys are dropped, missing optional values become nulls; strings stay strings.
    """
    schema = RAW_SCHEMAS[table]
    frame = pd.DataFrame.from_records(rows, columns=[name for name, _ in schema])
    for name, kind in schema:
        if kind == "DATE":
            frame[name] = pd.to_datetime(frame[name], format="%Y-%m-%d").dt.date
        else:
            frame[name] = frame[name].astype(_PANDAS_TYPES[kind])
    return frame

# ---- load semantics of the raw tables (used by the idempotent loaders) ------------------------
# Key columns: a load never leaves two rows with the same key (MERGE matches on them).
RAW_KEYS: dict[str, list[str]] = {
    "raw.ads": ["ad_id"],
    "raw.ad_daily_performance": ["date", "ad_id"],
    "raw.asset_pools": ["ad_group_id", "asset_id"],
}
# BigQuery layout: performance is partitioned by day; every table clustered by its lookup keys.
RAW_PARTITION_FIELD: dict[str, str | None] = {
    "raw.ads": None, "raw.ad_daily_performance": "date", "raw.asset_pools": None,
}
RAW_CLUSTER_FIELDS: dict[str, list[str]] = {
    "raw.ads": ["ad_group_id", "ad_id"],
    "raw.ad_daily_performance": ["ad_id"],
    "raw.asset_pools": ["ad_group_id"],
}

# Rows that failed validation, with why and the raw payload as JSON text. Not in RAW_SCHEMAS on
# purpose: snapshots export RAW_SCHEMAS tables whole, and rejects are not training data.
DEAD_LETTERS_TABLE = "raw.dead_letters"
DEAD_LETTERS_SCHEMA: list[tuple[str, str]] = [
    ("source", "STRING"),          # "api" | "files"
    ("table_name", "STRING"),      # the raw table the row was meant for
    ("partition_key", "STRING"),   # YYYY-MM-DD of the partition, or "all" for a file import
    ("reason", "STRING"),
    ("payload", "STRING"),         # the row as received, JSON
    ("ingested_at", "TIMESTAMP"),
]

ALL_SCHEMAS: dict[str, list[tuple[str, str]]] = {**RAW_SCHEMAS, DEAD_LETTERS_TABLE: DEAD_LETTERS_SCHEMA}
