"""Real files for the import tests: the example folders rewritten in other encodings and shapes."""

import datetime as dt
import os
import shutil
from pathlib import Path

from warehouse.schemas import RESULTS_TABLE, TOP_COMBINATIONS_TABLE, UNSCORED_TABLE

ROOT = Path(__file__).resolve().parents[2]
BYOD = ROOT / "examples" / "byod"
BYOD_JA = ROOT / "examples" / "byod_ja"
TODAY = dt.date(2025, 7, 1)  # the import day of the tests: the examples' data ends 2025-06-30
NAMES = ("ads", "ad_daily_performance", "asset_pools")
TABLES = {"ads": "raw.ads", "ad_daily_performance": "raw.ad_daily_performance", "asset_pools": "raw.asset_pools"}


def byod_text(name: str) -> str:
    """An example file's text as Japanese Excel would save it: ¥ as ￥ (CP932 has no U+00A5) and the
    wave dash 〜 (U+301C) as ～ (U+FF5E), which is what CP932 bytes 81 60 decode to."""
    return (BYOD / f"{name}.csv").read_text(encoding="utf-8").replace("¥", "￥").replace("〜", "～")


def write_folder(folder: Path, encoding: str = "utf-8", delimiter: str = ",", newline: str = "\n",
                 ext: str = ".csv", names=NAMES, transform=None) -> Path:
    """examples/byod as `encoding` (Python codec, "utf-16" writes a BOM), separator, line ends."""
    folder.mkdir(parents=True, exist_ok=True)
    for name in names:
        text = byod_text(name)
        if delimiter != ",":
            import csv
            import io

            rows = list(csv.reader(io.StringIO(text)))
            buf = io.StringIO()
            csv.writer(buf, delimiter=delimiter, lineterminator="\n").writerows(rows)
            text = buf.getvalue()
        if transform:
            text = transform(name, text)
        (folder / f"{name}{ext}").write_bytes(text.replace("\n", newline).encode(encoding))
    return folder


def _segmented(name, text, repeat=None, sep="\t"):
    """The performance report with a device segment: each (date, ad_id) on 2 or 3 rows whose counts
    add up to the row's (Google Ads' "Segment > Device"). repeat: only the first `repeat` rows
    appear twice, the second time as a copy (a small share of duplicates)."""
    if name != "ad_daily_performance":
        return text
    head, *rows = text.rstrip("\n").split("\n")
    out = [head + sep + "device"]
    for i, row in enumerate(rows):
        date, ad, imp, clk, conv, cost = row.split(sep)
        if repeat is not None:
            out += [row + sep + "すべて"] + ([row + sep + "すべて"] if i < repeat else [])
            continue
        parts = 3 if i % 4 == 0 else 2
        imps = [int(imp) // parts] * (parts - 1)
        imps.append(int(imp) - sum(imps))
        clks = [min(int(clk) // parts, imps[0])] * (parts - 1)
        clks.append(int(clk) - sum(clks))
        convs = [0] * (parts - 1) + [int(conv)]
        costs = [int(cost) // parts] * (parts - 1)
        costs.append(int(cost) - sum(costs))
        out += [sep.join(map(str, (date, ad, a, b, c, d, dev)))
                for a, b, c, d, dev in zip(imps, clks, convs, costs, ("携帯電話", "パソコン", "タブレット"))]
    return "\n".join(out) + "\n"


def segmented_folder(path, **kw):
    """A folder whose performance file is segmented (UTF-16 tabs, as Google Ads downloads it), the
    device column ignored by the mapping, as a user would have it before importing."""
    folder = write_folder(path, "utf-16", "\t", "\r\n", transform=lambda n, t: _segmented(n, t, **kw))
    (folder / "columns.yaml").write_text("ad_daily_performance: {ignore: [device]}\n", encoding="utf-8")
    return folder


def state(wh) -> dict:
    """Every table an import writes, exactly (sorted rows): equal means untouched. An import writes
    the raw tables, the dead letters and its source, and empties a previous source's run state."""
    out = {}
    for t in ("raw.ads", "raw.ad_daily_performance", "raw.asset_pools", "raw.dead_letters", "raw.source",
              *run_state_tables(), RESULTS_TABLE, *serving_tables()):
        if not wh.table_exists(t):
            out[t] = None
            continue
        frame = wh.query(f"SELECT * FROM `{t}`").astype(str)
        out[t] = sorted(map(tuple, frame.values.tolist()))
    return out


def without_source(tables: dict) -> dict:
    """A state() without the record of which folder the rows came from: what two imports of the
    same data from different folders (encodings, separators, header names) must load alike."""
    return {t: v for t, v in tables.items() if t != "raw.source"}


def rows(wh) -> dict:
    return without_source(state(wh))


def copy(src: Path, dst: Path) -> Path:
    shutil.copytree(src, dst)
    return dst


def files(folder: Path) -> list[str]:
    return sorted(os.listdir(folder))


# ---- what a run leaves behind: monitoring and experiment state of the data it ran on ----------

_VALUES = {"STRING": "x", "INT64": 1, "FLOAT64": 1.0, "BOOL": True, "ARRAY<STRING>": ["x"]}


def _frame(schema, n: int, **columns):
    """n rows with the table's columns: the given values, else one plain value per type (days and
    timestamps counting up, so each row is its own day)."""
    import pandas as pd

    now = pd.Timestamp("2026-01-01", tz="UTC")
    step = {"DATE": lambda i: dt.date(2026, 1, 1) + dt.timedelta(days=i),
            "TIMESTAMP": lambda i: now + pd.Timedelta(seconds=i)}
    return pd.DataFrame({c: columns[c] if c in columns else [step[k](i) if k in step else _VALUES[k] for i in range(n)]
                         for c, k in schema})


def run_state_tables():
    """table → schema of every table a run writes about its data, as the assets define them."""
    from dagster_project.assets.experiments import (ASSIGNMENTS_SCHEMA, ASSIGNMENTS_TABLE, DELIVERY_SCHEMA,
                                                    DELIVERY_TABLE)
    from dagster_project.assets.monitoring import HISTORY_SCHEMA as DRIFT_SCHEMA
    from dagster_project.assets.monitoring import HISTORY_TABLE as DRIFT_RUNS_TABLE
    from monitoring.live_history import HISTORY_SCHEMA, HISTORY_TABLE
    from monitoring.prediction_log import PREDICTION_LOG_SCHEMA, PREDICTION_LOG_TABLE

    return {PREDICTION_LOG_TABLE: PREDICTION_LOG_SCHEMA, HISTORY_TABLE: HISTORY_SCHEMA, DRIFT_RUNS_TABLE: DRIFT_SCHEMA,
            ASSIGNMENTS_TABLE: ASSIGNMENTS_SCHEMA, DELIVERY_TABLE: DELIVERY_SCHEMA}


def serving_tables():
    """table → schema of every table the scoring job writes, as the pipeline defines them."""
    import pyarrow as pa

    from pipelines.score import ALL_SCORES_SCHEMA, TOP_K_SCHEMA, UNSCORED_SCHEMA
    from warehouse.schemas import ALL_SCORES_TABLE, INSIGHT_SCHEMAS, UNSCORED_TABLE

    kinds = {pa.string(): "STRING", pa.int64(): "INT64", pa.int32(): "INT64", pa.float64(): "FLOAT64",
             pa.timestamp("us", tz="UTC"): "TIMESTAMP"}

    def of(schema):
        return [(f.name, kinds[f.type]) for f in schema]

    return {TOP_COMBINATIONS_TABLE: of(TOP_K_SCHEMA), UNSCORED_TABLE: of(UNSCORED_SCHEMA),
            ALL_SCORES_TABLE: of(ALL_SCORES_SCHEMA), **INSIGHT_SCHEMAS}


def add_run_state(wh, model: str = "m1", days: int = 3) -> None:
    """What a run of `model` leaves, written as the assets write it: 4 predictions and 1 live-accuracy
    row per day (`adcombo monitor` shows them), 2 drift checks, 1 experiment of 3 arms with its
    delivery and its results, the scoring job's tables: 3 top combinations of 2 ad groups (`adcombo
    top` shows them), 6 rows of the others, a third ad group that could not be scored."""
    import pandas as pd

    rows = {"monitoring.prediction_log": dict(n=4 * days, creative_id=[f"c{i}" for i in range(4 * days)],
                                              model_version=[model] * 4 * days),
            "monitoring.live_accuracy": dict(n=days, source=["all"] * days, status=["ok"] * days,
                                             model_version=[model] * days),
            "monitoring.drift_runs": dict(n=2),
            "experiments.assignments": dict(n=3, experiment_id=["exp-old"] * 3),
            "raw.creative_daily_performance": dict(n=3)}
    for table, schema in run_state_tables().items():
        wh.ensure_table(table, schema)
        wh.merge(table, _frame(schema, **rows[table]), keys=[], scope=None)
    wh.replace_table(RESULTS_TABLE, pd.DataFrame({"experiment_id": ["exp-old"] * 2, "arm": ["production", "control"],
                                                  "lift": [0.1, 0.0]}))
    for table, schema in serving_tables().items():  # 6 rows of 2 scored ad groups; a third unscored
        rows = (dict(n=1, ad_group_id=["ag-3"]) if table == UNSCORED_TABLE else
                dict(n=6, ad_group_id=["ag-1"] * 3 + ["ag-2"] * 3, **({"rank": [1, 2, 3] * 2}
                                                                     if table == TOP_COMBINATIONS_TABLE else {})))
        wh.replace_table(table, _frame(schema, **rows))


def state_counts(wh) -> dict:
    """Rows of every run-state table (None: no table)."""
    return {t: wh.row_count(t) if wh.table_exists(t) else None
            for t in [*run_state_tables(), RESULTS_TABLE, *serving_tables()]}
