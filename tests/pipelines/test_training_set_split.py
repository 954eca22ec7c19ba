"""The training-set pipeline applies a split plan (models.split) and reads BigQuery sources itself."""

import datetime as dt

import pandas as pd
import pytest
from apache_beam.testing.test_pipeline import TestPipeline
from apache_beam.testing.util import assert_that

from models.split import HELD_OUT_AD_GROUPS, plan_from_snapshot
from pipelines import training_set


def test_held_out_ad_groups_plan_splits_by_group(tiny_snapshot, tiny_world):
    """One aggregated period: every example of a held-out ad group validates, all others train,
    and each ad's days are summed into one example."""
    root = tiny_snapshot["root"]
    perf = pd.read_parquet(tiny_snapshot["raw.ad_daily_performance"])
    totals = perf.groupby("ad_id", as_index=False)[["impressions", "clicks"]].sum()
    totals["date"] = tiny_world.end_date  # what an import with --as-of makes of a totals file
    period = f"{root}/period.parquet"
    totals.to_parquet(period, index=False)
    plan = plan_from_snapshot(period, tiny_snapshot["raw.ads"])
    assert plan.method == HELD_OUT_AD_GROUPS and plan.days == 1
    groups = {ad["ad_id"]: ad["ad_group_id"] for ad in tiny_world.ads()}
    expected = {(r.ad_id, plan.split_of_group(groups[r.ad_id])): (int(r.impressions), int(r.clicks))
                for r in totals.itertuples() if r.impressions > 0}

    def check(examples):
        got = {(e["ad_id"], e["split"]): (e["impressions"], e["clicks"]) for e in examples}
        assert got == expected
        assert {e["split"] for e in examples} == {"train", "valid"}
        assert len({e["ad_group_id"] for e in examples if e["split"] == "valid"}) == plan.valid_ad_groups

    with TestPipeline(runner="FnApiRunner") as p:
        assert_that(training_set.build(p, tiny_snapshot["raw.ads"], period, tiny_snapshot["tokenizer"], plan), check)


def test_run_takes_the_plan_as_flags(tiny_snapshot, tmp_path):
    plan = plan_from_snapshot(tiny_snapshot["raw.ad_daily_performance"], tiny_snapshot["raw.ads"])
    out = tmp_path / "ts" / "part"
    training_set.run(["--runner=FnApiRunner", f"--ads={tiny_snapshot['raw.ads']}",
                      f"--performance={tiny_snapshot['raw.ad_daily_performance']}",
                      f"--tokenizer={tiny_snapshot['tokenizer']}", f"--output={out}", *plan.to_flags()])
    df = pd.read_parquet(tmp_path / "ts")
    assert set(df["split"]) == {"train", "valid"} and len(df) == plan.train_examples + plan.valid_examples
    with pytest.raises(SystemExit, match="needs --holdout_below"):
        training_set.run(["--runner=FnApiRunner", f"--ads={tiny_snapshot['raw.ads']}",
                          f"--performance={tiny_snapshot['raw.ad_daily_performance']}",
                          f"--tokenizer={tiny_snapshot['tokenizer']}", f"--output={out}",
                          "--split_method=held_out_ad_groups"])


def test_dataflow_graph_reads_bigquery_tables_itself(tiny_snapshot):
    """In production the job reads raw.ads and raw.ad_daily_performance from BigQuery (no export,
    no rows through the orchestrator): the dry-run graph has the BigQuery reads."""
    from apache_beam import Pipeline

    from pipelines.options import pipeline_options
    from pipelines.profiles import DataflowConfig, profile_flags

    dataflow = DataflowConfig(project="adcombo-test", temp_location="gs://adcombo-test/tmp",
                              sdk_container_image="asia-northeast1-docker.pkg.dev/adcombo-test/beam/adcombo:1")
    flags = profile_flags("dataflow", dataflow=dataflow) + ["--dry_run=True", "--no_auth",
                                                            "--job_name=adcombo-ts-dry-run"]
    pipeline = Pipeline(options=pipeline_options(flags))
    plan_day = dt.date(2025, 6, 24)
    (training_set.build(pipeline, "bq://adcombo-test.raw.ads", "bq://adcombo-test.raw.ad_daily_performance",
                        "gs://adcombo-test/tokenizer.model", plan_day))
    job = pipeline.run().job
    from apache_beam.internal import pickler
    from apache_beam.portability.api import beam_runner_api_pb2

    tables = {}
    for t in job.proto_pipeline.components.transforms.values():
        if t.unique_name in ("ReadAds/Read", "ReadPerformance/Read"):
            source = pickler.loads(beam_runner_api_pb2.ReadPayload.FromString(t.spec.payload).source.payload)
            ref = source.table_reference
            tables[t.unique_name] = (type(source).__name__, source.method,
                                     f"{ref.projectId}.{ref.datasetId}.{ref.tableId}")
    assert tables == {
        "ReadAds/Read": ("_CustomBigQueryStorageSource", "DIRECT_READ", "adcombo-test.raw.ads"),
        "ReadPerformance/Read": ("_CustomBigQueryStorageSource", "DIRECT_READ", "adcombo-test.raw.ad_daily_performance"),
    }
