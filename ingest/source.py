"""Which source the warehouse's data came from, and what is emptied when it changes.

The monitoring, experiment and serving tables describe the data of one source: its ads, its days,
the models trained on it and their scores. Mixed with another source's they mislead: the
live-accuracy history and `adcombo monitor` would show the old days and model, the change day found
in that history would cut the new training set, an old experiment could stay the "latest", and
`adcombo top` would show the old ad groups' winners until the next scoring run. So whoever brings
another source's data (an import, `adcombo source api`) empties them in the same transaction that
writes the new data and records the new source in `raw.source`: nothing is ever half switched.

A warehouse without a record holds the API's data (API loads write none) or predates the record.
Dead letters are not touched: every load replaces its own (ingest/load.py, ingest/importer.py).
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from monitoring.live_history import HISTORY_TABLE as LIVE_ACCURACY_TABLE
from monitoring.prediction_log import PREDICTION_LOG_TABLE
from warehouse.schemas import (ASSIGNMENTS_TABLE, DELIVERY_TABLE, DRIFT_RUNS_TABLE, RAW_SCHEMAS, RESULTS_TABLE,
                               SERVING_TABLES, TOP_COMBINATIONS_TABLE, UNSCORED_TABLE)
from warehouse.sql import Load, Scope

SOURCE_TABLE = "raw.source"
SOURCE_SCHEMA = (("source", "STRING"), ("path", "STRING"), ("recorded_at", "TIMESTAMP"))
# What the pipeline learnt about one source's data: emptied whenever the source changes.
STATE_TABLES = (PREDICTION_LOG_TABLE, LIVE_ACCURACY_TABLE, DRIFT_RUNS_TABLE, ASSIGNMENTS_TABLE, RESULTS_TABLE,
                DELIVERY_TABLE, *SERVING_TABLES)
RAW_TABLES = tuple(RAW_SCHEMAS)  # an import replaces them itself; a switch to the API empties them
# How the one-line summary counts a table: (SQL, one, many); tables absent here go unmentioned.
UNITS = {PREDICTION_LOG_TABLE: ("COUNT(*)", "prediction", "predictions"),
         LIVE_ACCURACY_TABLE: ("COUNT(DISTINCT date)", "day of live accuracy", "days of live accuracy"),
         DRIFT_RUNS_TABLE: ("COUNT(*)", "drift check", "drift checks"),
         ASSIGNMENTS_TABLE: ("COUNT(DISTINCT experiment_id)", "experiment", "experiments"),
         TOP_COMBINATIONS_TABLE: ("COUNT(DISTINCT ad_group_id)", "scored ad group", "scored ad groups"),
         UNSCORED_TABLE: ("COUNT(DISTINCT ad_group_id)", "unscored ad group", "unscored ad groups"),
         "raw.ads": ("COUNT(*)", "ad", "ads"),
         "raw.ad_daily_performance": ("COUNT(*)", "performance row", "performance rows"),
         "raw.asset_pools": ("COUNT(*)", "pool asset", "pool assets")}


@dataclass(frozen=True)
class Source:
    kind: str       # "api" or "files"
    path: str = ""  # the imported folder

    def __str__(self) -> str:
        return f"{self.kind} {self.path}" if self.path else self.kind


def recorded_source(wh) -> Source | None:
    """The source recorded with the warehouse's data, or None before any record."""
    if not wh.table_exists(SOURCE_TABLE):
        return None
    rows = wh.query(f"SELECT source, path FROM `{SOURCE_TABLE}` ORDER BY recorded_at DESC LIMIT 1")
    return Source(str(rows["source"].iloc[0]), str(rows["path"].iloc[0] or "")) if len(rows) else None


def record_load(source: Source) -> Load:
    """The record's part of the switching transaction: the table then holds this one row."""
    frame = pd.DataFrame({"source": [source.kind], "path": [source.path],
                          "recorded_at": [pd.Timestamp.now(tz="UTC")]})
    return Load(SOURCE_TABLE, frame, (), Scope.everything(), SOURCE_SCHEMA)


def present(wh, tables) -> list[str]:
    return [t for t in tables if wh.table_exists(t)]


def counts(wh, tables) -> dict[str, int]:
    """What each table holds, in the unit the summary names (rows, days, experiments)."""
    out = {}
    for t in tables:
        sql = UNITS.get(t, ("COUNT(*)",))[0]
        out[t] = int(wh.query(f"SELECT {sql} AS n FROM `{t}`")["n"].iloc[0])
    return out


def empty_loads(wh, tables) -> list[Load]:
    """Loads that empty each table inside a transaction (Warehouse.merge_all): no rows, whole scope.
    The columns are read from the table itself (some tables are created from frames)."""
    return [Load(t, wh.query(f"SELECT * FROM `{t}` LIMIT 0"), (), Scope.everything(), ()) for t in tables]


def switch_loads(wh, previous: Source | None, new: Source, tables) -> tuple[list[Load], dict[str, int] | None]:
    """(loads, what they empty) for the switching transaction. The same kind of source keeps the
    tables: the same folder read again, or another folder of files (next week's export of the same
    account; another account belongs in another data folder), whose record is updated. Another
    kind (files after the API, the API after files) empties `tables` and records `new`, and says
    what they held."""
    if previous is not None and previous.kind == new.kind:
        return ([] if previous == new else [record_load(new)]), None
    found = present(wh, tables)
    return [*empty_loads(wh, found), record_load(new)], counts(wh, found)


def retire_after_switch(store, previous: Source | None, cleared: dict[str, int] | None) -> str | None:
    """After a switch (`cleared` is not None): clear the model store's production and candidate
    pointers (models.store.ModelStore.retire: a model of the other data is no baseline) and return
    the one line on what went; None when the source did not change."""
    if cleared is None:
        return None
    return reset_line(previous, cleared, store.retire())


def reset_line(previous: Source | None, cleared: dict[str, int] | None, retired: str | None) -> str | None:
    """One line on what the switch emptied and which model stopped being production; None when
    nothing was there (a first import, an unchanged source)."""
    if cleared is None:
        return None
    parts = [f"{n:,} {UNITS[t][1 if n == 1 else 2]}" for t, n in cleared.items() if n and t in UNITS]
    if not parts and not retired:
        return None
    what = f"previous source ({previous})" if previous else "previous data"
    line = f"{what} cleared: " + (", ".join(parts) or "no monitoring history")
    if retired:
        line += f"; model {retired} is no longer production (the next run's model is promoted without comparison)"
    return line
