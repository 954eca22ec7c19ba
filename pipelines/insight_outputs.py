"""The creative insights of the scoring job, as warehouse rows written by the job itself.

The scorer takes them from the same pass as the top-K (models.insights via score_pool); this
module turns each scored ad group's insights into Arrow tables (models.insight_rows) and names the
three outputs, each with a Parquet sink (`--<name>_output`) and a BigQuery sink (`--<name>_table`):

- asset_values:  one row per asset of every scored ad group (serving.asset_values);
- explanations:  the terms of the best combination of a sample of ad groups (serving.explanations),
                 1 ad group in `--explain_every` (a stable hash of the ad group id picks them);
- selections:    "submit these 15 + 4" for pools larger than a responsive search ad
                 (serving.selections); a pool that fits one is submitted whole and gets no row.

An output is computed only when one of its sinks is given (like --all_scores_output).
"""

from __future__ import annotations

import logging
from typing import NamedTuple

import apache_beam as beam
import pyarrow as pa
from apache_beam.metrics import Metrics
from apache_beam.transforms.window import GlobalWindow
from apache_beam.utils.timestamp import MIN_TIMESTAMP
from apache_beam.utils.windowed_value import WindowedValue

from models.insight_options import InsightOptions
from models.insight_rows import (ASSET_VALUES_SCHEMA, EXPLANATIONS_SCHEMA, SELECTIONS_SCHEMA, ColumnBuffer,
                                 add_asset_values, add_explanations, add_selection)

ASSET_VALUES_TAG, EXPLANATIONS_TAG, SELECTIONS_TAG = "asset_values", "explanations", "selections"
WHOLE_POOL = "whole pool"  # models.selection: only usable assets counted, they fit an RSA
FITS_AN_RSA = "fits a responsive search ad"  # models.insights' note: nothing to choose
log = logging.getLogger(__name__)


class InsightOutput(NamedTuple):
    tag: str
    schema: pa.Schema
    label: str  # Beam transform names: Write<label>, Write<label>BigQuery


OUTPUTS = (InsightOutput(ASSET_VALUES_TAG, ASSET_VALUES_SCHEMA, "AssetValues"),
           InsightOutput(EXPLANATIONS_TAG, EXPLANATIONS_SCHEMA, "Explanations"),
           InsightOutput(SELECTIONS_TAG, SELECTIONS_SCHEMA, "Selections"))


def insight_options(min_diff: int = 0, asset_values: bool = False, explain_every: int = 0,
                    select: bool = False) -> InsightOptions | None:
    """What the handler takes from the pass; None when nothing beyond the plain top-K is wanted
    (then the scorer runs exactly as before). explain_every 0: no explanations."""
    if int(min_diff) < 2 and not asset_values and not explain_every and not select:
        return None
    return InsightOptions(min_diff=int(min_diff), asset_values=bool(asset_values),
                          explain_ranks=(1,) if explain_every else (), explain_every=max(int(explain_every), 1),
                          select=bool(select))


class InsightTables(beam.DoFn):
    """(ad_group_id, PredictionResult(PoolInput, PoolScores)) -> Arrow tables on the three tags,
    buffered over the bundle: a few large tables per output, not one tiny table per ad group
    (WriteToParquetBatched writes each as a row group), gathered as columns
    (models.insight_rows.ColumnBuffer)."""

    FLUSH_ROWS = 50_000

    def __init__(self, select: bool = False):
        self.select = select
        self.explained = Metrics.counter("adcombo", "ad_groups_explained")
        self.selected = Metrics.counter("adcombo", "ad_groups_selected")
        self.whole = Metrics.counter("adcombo", "ad_groups_fit_an_rsa")
        self.unselected = Metrics.counter("adcombo", "ad_groups_without_selection")
        self.asset_rows = Metrics.counter("adcombo", "asset_value_rows")

    def start_bundle(self):
        self._buffers = {o.tag: ColumnBuffer(o.schema) for o in OUTPUTS}

    def _full(self, tag: str):
        if self._buffers[tag].num_rows >= self.FLUSH_ROWS:
            yield beam.pvalue.TaggedOutput(tag, self._buffers[tag].take())

    def process(self, element):
        ad_group_id, result = element
        out = result.inference
        if not out.ok or out.insights is None:
            return
        ins = out.insights
        if ins.asset_values:
            self.asset_rows.inc(len(ins.asset_values))
            add_asset_values(self._buffers[ASSET_VALUES_TAG], ad_group_id, ins.asset_values, result.model_id)
            yield from self._full(ASSET_VALUES_TAG)
        if ins.explanations:
            self.explained.inc()
            add_explanations(self._buffers[EXPLANATIONS_TAG], ins.explanations, result.model_id)
            yield from self._full(EXPLANATIONS_TAG)
        if ins.selection is not None and ins.selection.method != WHOLE_POOL:
            self.selected.inc()
            add_selection(self._buffers[SELECTIONS_TAG], ad_group_id, ins.selection, result.model_id)
            yield from self._full(SELECTIONS_TAG)
        elif self.select:
            if ins.selection is not None or any(FITS_AN_RSA in n for n in ins.notes):
                self.whole.inc()
            else:  # a model without pair tables, or no set with a valid combination: say why
                self.unselected.inc()
                log.warning("ad group %s: %s", ad_group_id, "; ".join(ins.notes) or "no selection")

    def finish_bundle(self):
        for tag, buffer in self._buffers.items():
            if buffer.num_rows:
                yield beam.pvalue.TaggedOutput(tag, WindowedValue(buffer.take(), MIN_TIMESTAMP, [GlobalWindow()]))


_BIGQUERY_TYPES = {pa.string(): "STRING", pa.int64(): "INTEGER", pa.int32(): "INTEGER", pa.float64(): "FLOAT",
                   pa.bool_(): "BOOLEAN", pa.timestamp("us", tz="UTC"): "TIMESTAMP"}


def bigquery_table_schema(schema: pa.Schema) -> dict:
    """A BigQuery table schema (WriteToBigQuery's dict form) of an Arrow schema; lists are REPEATED."""
    fields = []
    for f in schema:
        repeated = pa.types.is_list(f.type)
        kind = _BIGQUERY_TYPES[f.type.value_type if repeated else f.type]
        fields.append({"name": f.name, "type": kind, "mode": "REPEATED" if repeated else "NULLABLE"})
    return {"fields": fields}
