"""The production scoring job with the insights, offline: DataflowRunner --dry_run builds the graph,
and the job itself writes the three insight tables to BigQuery (file loads), from the same pass."""

from pipelines import score
from pipelines.profiles import DataflowConfig, profile_flags

DATAFLOW = DataflowConfig(project="adcombo-test", temp_location="gs://adcombo-test/tmp",
                          sdk_container_image="asia-northeast1-docker.pkg.dev/adcombo-test/beam/adcombo:1")


def _graph(job):
    return {t.unique_name: (set(t.inputs.values()), set(t.outputs.values()))
            for t in job.proto_pipeline.components.transforms.values() if "/" not in t.unique_name}


def _dry_run(tiny_bundle, *extra):
    flags = profile_flags("dataflow", dataflow=DATAFLOW) + [
        "--dry_run=True", "--no_auth", "--pools=bq://adcombo-test.raw.asset_pools",
        "--ads=bq://adcombo-test.raw.ads", f"--bundle={tiny_bundle}",
        "--output_table=adcombo-test:serving.top_combinations", *extra]
    pipeline, _ = score.build_pipeline(flags)
    return pipeline.run().job


def test_the_job_writes_the_insight_tables_to_bigquery(tiny_bundle):
    job = _dry_run(tiny_bundle, "--min_diff=2", "--explain_every=50",
                   "--asset_values_table=adcombo-test:serving.asset_values",
                   "--explanations_table=adcombo-test:serving.explanations",
                   "--selections_table=adcombo-test:serving.selections")
    graph = _graph(job)
    for name in ("InsightTables", "WriteAssetValuesBigQuery", "WriteExplanationsBigQuery", "WriteSelectionsBigQuery",
                 "WriteBigQuery"):
        assert name in graph, f"{name} missing from {sorted(graph)}"
    # One model pass: TopK and InsightTables read the same RunInference output.
    predict_out = graph["Predict"][1]
    assert graph["TopK"][0] == predict_out and graph["InsightTables"][0] == predict_out
    assert sum(1 for n in graph if n.startswith("Predict")) == 1
    names = " ".join(t.unique_name for t in job.proto_pipeline.components.transforms.values())
    for label in ("WriteAssetValuesBigQuery", "WriteExplanationsBigQuery", "WriteSelectionsBigQuery"):
        assert f"{label}/" in names and ("FileLoads" in names or "TriggerLoadJobs" in names)
    options = job.options.get_all_options(drop_default=True)
    assert options["min_diff"] == 2 and options["explain_every"] == 50
    assert options["selections_table"] == "adcombo-test:serving.selections"


def test_only_the_named_insight_outputs_are_built(tiny_bundle):
    graph = _graph(_dry_run(tiny_bundle, "--asset_values_table=adcombo-test:serving.asset_values"))
    assert "WriteAssetValuesBigQuery" in graph
    assert "WriteExplanationsBigQuery" not in graph and "WriteSelectionsBigQuery" not in graph
    plain = _graph(_dry_run(tiny_bundle))
    assert "InsightTables" not in plain and not any("AssetValues" in n for n in plain)
